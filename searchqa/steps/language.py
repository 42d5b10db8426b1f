"""Route a question to the Chinese or the English search template.

Chinese questions get ``"zh"``; everything else gets ``"en"`` (the English template tells the model
to answer in the question's own language, so Japanese, Korean, Spanish... all go there).

The rule works in two stages:

1. Is the CJK text Chinese at all? Han characters are shared with Japanese (and Korean Hanja), so
   Japanese evidence (kana, kanji that only Japanese uses, words only Japanese writes with kanji,
   a mix of simplified-looking and traditional-looking forms) is weighed against Chinese evidence
   (characters Japanese never uses, zhuyin, Chinese function words). Which characters belong to
   which writing system is read from the national character sets themselves (GB 2312, Big5,
   JIS X 0208) through Python's codecs, so no table is kept here.
2. Is the question asked *in* Chinese, or does it only *mention* Chinese? Han characters are
   weighed against the other words: English question frames ("what does … mean", "how to say …")
   weigh a lot, other English function words a little, technical terms and names almost nothing
   (Chinese speakers mix them in freely), words in other alphabets a fair amount.

langdetect is not used for routing: on short Han-only queries it answers ``ko`` for most Chinese
and Japanese alike (see ``bench/language_routing.py``, which measures it as the baseline).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

__all__ = ["detect_language"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
# Kana without U+30FB (katakana middle dot), which Chinese text borrows for foreign names.
_KANA_RUN = re.compile(r"[\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f]+")
_HANGUL_RUN = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]+")
_BOPOMOFO = re.compile(r"[\u3100-\u312f\u31a0-\u31bf]")
_JP_ITERATION = "々〆"  # marks of Japanese writing outside the kana blocks
_CJK = (
    r"\u1100-\u11ff\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff\u3400-\u9fff"
    r"\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
# A word in any other script (Latin, Cyrillic, Arabic, Thai...), with an English contraction.
_WORD = re.compile(rf"(?:(?![{_CJK}])[^\W\d_])+(?:['’][a-z]+)?")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words only Japanese writes with kanji alone (Chinese uses other words for these things).
_JAPANESE_WORDS = _word_set(
    "勉強 予約 料金 無料 見頃 住所 電車 時刻表 乗換 新幹線 求人 株式会社 会社 通販 格安 激安 割引 "
    "評判 宿泊 朝食 夕食 献立 家賃 賃貸 物件 申告 住民票 番号 日本語 大丈夫 手紙 切手 案内 土産 "
    "素敵 一番 上手 下手 大切 仕事 元気 交番 入場料 名所 予算 最寄 空港 役所 手続 免許 残業 有給 "
    "給料 就活 面接 紹介 台風 風邪 予防 注文 送料 口座 手数料 居酒屋 喫茶 映画 番組 声優 今週 来週 "
    "先週 曜日 削除 退会 動画 本当 大学受験 受付 窓口 時間帯 見積 誕生日"
)

# Chinese words that carry the grammar of a question: multi-character ones are strong evidence.
_CHINESE_WORDS = _word_set(
    "什么 什麼 怎么 怎麼 怎样 怎樣 如何 为什么 為什麼 为何 為何 哪个 哪個 哪些 哪里 哪裡 哪儿 多少 "
    "是否 能否 区别 區別 差别 差別 报错 報錯 意思 中文 英文 教程 推荐 推薦 怎么办 怎麼辦 解决 解決 "
    "可以 需要 还是 還是 是不是 有没有 有沒有 要不要 能不能 一下 一个 一個 这个 這個 那个 那個 "
    "我们 我們 你们 你們 他们 他們 为了 為了 因为 因為 所以 但是 然后 然後 已经 已經 应该 應該 "
    "怎么样 怎麼樣 吗 嗎 呢 吧 的 了 和 与 與 跟 在 是 有 用 把 被 给 給 对 對 从 從 到 也 都 就 "
    "还 還 要 会 會 能 很 最 不 没 沒 这 這 那 哪 谁 誰 几 幾 我 你 他 她 它 个 個 们 們"
)
_CHINESE_WORD_MAX = max(len(word) for word in _CHINESE_WORDS)

# Words that frame a question about a word: "what does X mean", "how to say X in English".
_FRAME_WORDS = _word_set(
    "what whats what's how why where when who whom whose which best mean means meaning meanings "
    "meant translate translation translated pronounce pronounced pronunciation say said english "
    "chinese mandarin cantonese pinyin character characters word words symbol stroke strokes "
    "slang origin definition define difference traditional simplified phrase idiom spell "
    "spelling hanzi significa significado signifie bedeutet bedeutung heißt arti artinya "
    "betekent betekenis betyder znaczy"
)
_QUESTION_OPENERS = _word_set("is are was were does do did can could should would will has have")
_FUNCTION_WORDS = _word_set(
    "the a an of to in on at for from by with about into as is are was were be been am do does "
    "did can could should would will not no and or but if this that these those it its i me my "
    "you your we our they their he she his her there here so than then too very also just only "
    "more most much many some any all each every up down out over same like"
)

_FRAME_WEIGHT = 2.0
_FUNCTION_WEIGHT = 0.5
_FOREIGN_WEIGHT = 1.5  # a word in another alphabet or with diacritics: a human language
_PLAIN_WEIGHT = 0.15  # a lowercase ASCII word: often a technical term inside Chinese
_NAME_WEIGHT = 0.1  # Capitalised: a name, a product, or a sentence start
_HAN_WEIGHT = 0.6  # one Han character is about a syllable
_MENTION_WEIGHT = 1.0  # a Han term quoted inside a foreign sentence counts as one word
_CHINESE_WORD_BONUS = 2.0
_CHINESE_CHAR_BONUS = 1.0


@cache
def charsets(char: str) -> tuple[bool, bool, bool]:
    """Whether ``char`` is in GB 2312 (simplified), Big5 (traditional) and JIS X 0208."""
    return _encodes(char, "gb2312"), _encodes(char, "big5"), _encodes(char, "shift_jis")


def _encodes(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _chinese_words(run: str) -> list[str]:
    """Greedy longest match of the Chinese function and question words in one Han run."""
    found: list[str] = []
    position = 0
    while position < len(run):
        for size in range(min(_CHINESE_WORD_MAX, len(run) - position), 0, -1):
            if run[position : position + size] in _CHINESE_WORDS:
                found.append(run[position : position + size])
                position += size
                break
        else:
            position += 1
    return found


def _is_japanese(text: str, han_runs: list[str]) -> bool:
    """Weigh Japanese (and Korean) evidence against Chinese evidence in the CJK text."""
    japanese = float(len(_KANA_RUN.findall(text)) + len(_HANGUL_RUN.findall(text)))
    japanese += sum(text.count(mark) for mark in _JP_ITERATION)
    chinese = float(len(_BOPOMOFO.findall(text)))
    simplified_form = traditional_form = False
    for char in "".join(han_runs):
        in_gb, in_big5, in_jis = charsets(char)
        if not in_jis and (in_gb or in_big5):
            chinese += 1
        elif in_jis and not in_gb and not in_big5:
            japanese += 1
        elif in_jis:
            simplified_form |= in_gb and not in_big5
            traditional_form |= in_big5 and not in_gb
    if simplified_form and traditional_form:
        japanese += 1  # Japanese forms coincide with simplified for some, traditional for others
    for run in han_runs:
        japanese += 2 * sum(word in run for word in _JAPANESE_WORDS)
        chinese += 2 * sum(len(word) > 1 for word in _chinese_words(run))
    return japanese > chinese


def _word_weight(word: str, first: bool) -> tuple[float, bool]:
    """The weight of one non-CJK word as evidence of a non-Chinese sentence, and if it frames."""
    lower = word.lower()
    if lower in _FRAME_WORDS or (first and lower in _QUESTION_OPENERS):
        return _FRAME_WEIGHT, True
    if lower in _FUNCTION_WORDS:
        return _FUNCTION_WEIGHT, False
    if not word.isascii():
        return _FOREIGN_WEIGHT, False
    if len(word) == 1 or word.isupper() or any(char.isupper() for char in word[1:]):
        return 0.0, False  # a letter, an acronym, camelCase: code or product names
    return (_NAME_WEIGHT if word[0].isupper() else _PLAIN_WEIGHT), False


def _is_mention(text: str, han_runs: list[str], framed: bool) -> bool:
    """Whether the only Han term is mentioned by a foreign question, not asking one.

    "what does 你好 mean" and "o que significa 你好" mention; "how are you 怎么回答" asks (its Han
    part carries a Chinese question word and is not wrapped by the foreign sentence).
    """
    if not framed or len(han_runs) != 1:
        return False
    start = text.find(han_runs[0])
    end = start + len(han_runs[0])
    if _WORD.search(text, 0, start) is not None and _WORD.search(text, end) is not None:
        return True
    return all(len(word) == 1 for word in _chinese_words(han_runs[0]))


def _chinese_weight(han_runs: list[str]) -> float:
    """How much the Han text weighs as the language the question is asked in."""
    weight = 0.0
    for run in han_runs:
        weight += _HAN_WEIGHT * len(run)
        for word in _chinese_words(run):
            if len(word) > 1:
                weight += _CHINESE_WORD_BONUS
            elif len(run) > 1:
                weight += _CHINESE_CHAR_BONUS  # a lone character is more likely mentioned
    return weight


def _detect(text: str) -> Literal["zh", "en"]:
    han_runs = _HAN_RUN.findall(text)
    if not han_runs:
        return "zh" if _BOPOMOFO.search(text) else "en"
    if _is_japanese(text, han_runs):
        return "en"
    foreign = 0.0
    framed = False
    for position, match in enumerate(_WORD.finditer(text)):
        opens = position == 0 and _HAN.search(text, 0, match.start()) is None
        weight, frames = _word_weight(match.group(), opens)
        foreign += weight
        framed |= frames
    chinese = _MENTION_WEIGHT if _is_mention(text, han_runs, framed) else _chinese_weight(han_runs)
    return "zh" if chinese > foreign else "en"


def detect_language(text: str) -> Literal["zh", "en"]:
    """``"zh"`` for a question asked in Chinese (simplified or traditional), else ``"en"``.

    Never raises: empty text, emoji, digits or anything unexpected give ``"en"``.
    """
    try:
        return _detect(text[:2000])
    except Exception:  # routing must never fail a request
        return "en"
