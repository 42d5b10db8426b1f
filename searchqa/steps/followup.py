"""A follow-up question made standalone by rule: the conversation's key terms carried in.

The fallback when the model cannot rewrite the question (no model server, too slow, an
unusable reply). Only the user's own earlier questions are read: answers mention too much.

- A follow-up that names a new subject in place of the old one ("what about Ruby?",
  "那 Ruby 呢") gets the previous question with its first subject swapped.
- A follow-up that points back (it, they, this, 它, 这个...) gets the topic put in place of
  the pronoun; one that leaves the subject out (a few words and no subject of its own:
  "in 2023?", "价格呢") gets the topic in front.
- Anything else is a question of its own, a change of topic perhaps, and is left alone.

The topic is the subjects (names, acronyms, terms in Latin letters inside Chinese, quoted
words) of the latest earlier question that has any, else the content words of the previous one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from searchqa.protocols import Turn

__all__ = ["rule_rewrite", "topic_terms"]

MAX_TOPIC_TERMS = 3


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EN_POINTERS = _words(
    "it its itself they them their theirs themselves this that these those he him his she her hers"
)
_EN_STOP = _words(
    """a an the and or but of in on at to for from by with about into as is are was were be been
    being am do does did can could should would will shall may might must have has had i me my you
    your we our it its they them their he him his she her this that these those there here what
    which who whom whose when where why how much many some any all more most other such not no so
    than then too very just also only tell explain please know want like get does anyone way ways
    best good thing things something"""
)
_QUESTION_OPENERS = _words(
    "what which who whom whose when where why how is are was were do does did can could should "
    "would will has have tell please"
)
_EN_SWAP = re.compile(
    r"^\s*(?:and|so|ok|okay)?[\s,]*(?:what|how)\s+about\s+(?P<term>.+?)\s*[?.!]*\s*$", re.I
)
_EN_AND = re.compile(r"^\s*and\s+(?P<term>.+?)\s*[?.!]*\s*$", re.I)
_ZH_SWAP = re.compile(r"^\s*(?:那么|那|还有|和|跟)?\s*(?P<term>.+?)\s*呢\s*[?？]?\s*$")
_ZH_LEAD = re.compile(r"^\s*(?:那么|那|还有|另外|以及)")
# A Chinese question that opens with its question word names no subject: "哪一年发布的？"
_ZH_QUESTION_FIRST = re.compile(r"^\s*(?:哪|什么|谁|多少|几|怎么|为什么|为何|如何|是否|有没有)")
# A swap that names one of these asks about another side of the same subject ("the price?").
_EN_ATTRIBUTES = _words(
    "the its their his her price prices cost costs license size height length population "
    "weather date time address author reason difference history meaning version speed age salary"
)
_ZH_ATTRIBUTES = _words(
    "价格 价钱 多少钱 时间 地址 电话 作者 原因 区别 用法 意思 历史 票价 门票 天气 人口 面积 高度 "
    "长度 温度 年份 版本 速度 年龄 工资 许可证 发布时间 营业时间 开放时间"
)
_ZH_POINTERS = re.compile(r"它们|他们|她们|它的|他的|她的|这个|那个|这些|那些|(?<!应)该|它|他|她")
_ZH_STOP = sorted(
    _words(
        """是什么 什么时候 时候 什么 怎么样 怎么 怎样 如何 为什么 为何 哪个 哪些 哪里 哪儿 哪家
        哪 谁 多少 几 吗 呢 吧 啊 是不是 还是 请问 一下 可以 一个 一种 介绍 主要 需要 应该 能否
        是否 有没有 的 了 是 有 在 和 与 跟 及 或 我 你 他 她 它 们 这 那 个 些 都 也 就 还 被 把
        给 对 从 到 用 让 要 会 能 想 多长 多高 多大 多久 多远 多重 好吃 怎么做"""
    ),
    key=len,
    reverse=True,
)
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_TERM = re.compile(r"[A-Za-z][\w.+#'-]*[\w+#]|[A-Za-z]")
_QUOTED = re.compile(r"[\"“「『]([^\"”」』]{2,40})[\"”」』]")
_WORD = re.compile(r"[^\W_]+(?:[-'.][^\W_]+)*")


def rule_rewrite(question: str, history: Sequence[Turn]) -> str:
    """``question`` standalone, by rule; unchanged when it needs nothing from before."""
    asked = [turn.content for turn in history if turn.role == "user" and turn.content.strip()]
    if not asked:
        return question
    topic = topic_terms(asked)
    if not topic:
        return question
    swapped = _swap_subject(question, asked[-1])
    if swapped is not None:
        return swapped
    named = _join(topic)
    if _has_han(question):
        replaced = _ZH_POINTERS.sub(lambda _: named, question, count=1)
        if replaced != question:
            return replaced
    else:
        pointed = _replace_english_pointer(question, named)
        if pointed is not None:
            return pointed
    if _leaves_subject_out(question):
        joiner = "" if _has_han(question) and not _has_latin(question) else " "
        missing = [term for term in topic if term.lower() not in question.lower()]
        return joiner.join([*missing, question.strip()]) if missing else question
    return question


def topic_terms(questions: Sequence[str]) -> list[str]:
    """The subjects of the latest question that names any, else the previous one's words."""
    for text in reversed(questions):
        found = _subjects(text)
        if found:
            return found[:MAX_TOPIC_TERMS]
    return _content_words(questions[-1])[:MAX_TOPIC_TERMS]


def _subjects(text: str) -> list[str]:
    """Names, acronyms, quoted words, and Latin terms inside Chinese."""
    found: list[str] = [match.group(1) for match in _QUOTED.finditer(text)]
    chinese = _has_han(text)
    words = list(_LATIN_TERM.finditer(text))
    for position, match in enumerate(words):
        word = match.group()
        lower = word.lower()
        if chinese:
            named = lower not in _EN_STOP or (len(word) > 1 and word.isupper())
        elif len(word) > 1 and (word.isupper() or any(char.isdigit() for char in word)):
            named = True
        elif any(char.isupper() for char in word[1:]):
            named = True  # camelCase, iPhone, GitHub
        elif word[0].isupper():
            named = lower not in _EN_STOP and not (position == 0 and lower in _QUESTION_OPENERS)
        else:
            named = False
        if not named:
            continue
        previous = words[position - 1] if position else None
        joined = previous is not None and found and found[-1].endswith(previous.group())
        if joined and previous is not None and text[previous.end() : match.start()] == " ":
            found[-1] = f"{found[-1]} {word}"  # "Marie Curie", "Mount Everest": one name
        elif word not in found:
            found.append(word)
    return found


def _content_words(text: str) -> list[str]:
    if _has_han(text):
        latin = [word for word in _LATIN_TERM.findall(text) if word.lower() not in _EN_STOP]
        return _han_terms(text) + latin
    return [
        word
        for word in _WORD.findall(text)
        if word.lower() not in _EN_STOP and len(word) > 2 and not word.isdigit()
    ]


def _han_terms(text: str) -> list[str]:
    """Han runs with question and function words taken out; pieces of two or more characters."""
    terms: list[str] = []
    for run in _HAN_RUN.findall(text):
        for stop in _ZH_STOP:
            run = run.replace(stop, " ")
        terms += [piece for piece in run.split() if len(piece) > 1]
    return terms


def _swap_subject(question: str, previous: str) -> str | None:
    """ "what about X?" / "X 呢": the previous question about X instead; None if not that."""
    match = _EN_SWAP.match(question) or _ZH_SWAP.match(question) or _EN_AND.match(question)
    if match is None:
        return None
    term = match.group("term").strip()
    if _is_attribute(term):
        return None  # "price?", "价格呢": the same subject, another side of it
    new_subjects = _subjects(term) or ([term] if match.re is not _EN_AND else [])
    points_back = _ZH_POINTERS.search(term) or _replace_english_pointer(term, "") is not None
    if not new_subjects or points_back:
        return None
    old_subjects = _subjects(previous)
    if not old_subjects and _has_han(term) and _has_han(previous):
        old_subjects = _han_terms(previous)[:1]  # "长城是哪个朝代修建的？" -> "故宫呢？"
    if not old_subjects:
        return None
    # Swap a subject of the same shape: "Microsoft" replaces "Apple", not "CEO".
    shape = new_subjects[0].isupper()
    alike = [subject for subject in old_subjects if subject.isupper() == shape]
    return previous.replace((alike or old_subjects)[0], term, 1).strip()


def _is_attribute(term: str) -> bool:
    words = [word.lower() for word in _WORD.findall(term)]
    if words and words[0] in _EN_ATTRIBUTES:
        return True
    return any(term.endswith(word) for word in _ZH_ATTRIBUTES)


def _replace_english_pointer(question: str, topic: str) -> str | None:
    for match in _WORD.finditer(question):
        if match.group().lower() in _EN_POINTERS:
            return f"{question[: match.start()]}{topic}{question[match.end() :]}".strip()
    return None


def _leaves_subject_out(question: str) -> bool:
    if _subjects(question):
        return False
    if _has_han(question):
        han = sum(len(run) for run in _HAN_RUN.findall(question))
        return (
            han <= 4
            or not _han_terms(question)
            or _ZH_LEAD.match(question) is not None
            or _ZH_QUESTION_FIRST.match(question) is not None
            or question.rstrip(" ?？").endswith("呢")
        )
    words = _WORD.findall(question)
    return len(words) <= 3


def _join(terms: Sequence[str]) -> str:
    """Terms as one phrase: Chinese ones run together, others spaced."""
    return ("" if all(_HAN_RUN.fullmatch(term) for term in terms) else " ").join(terms)


def _has_han(text: str) -> bool:
    return _HAN_RUN.search(text) is not None


def _has_latin(text: str) -> bool:
    return _LATIN_TERM.search(text) is not None
