"""Language routing: Chinese questions get the zh template, everything else the en one."""

from __future__ import annotations

import pytest

from bench.language_routing import load_queries
from searchqa.steps.language import detect_language


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Python 的 asyncio 怎么用", "zh"),
        ("What does 你好 mean?", "en"),
        ("東京の天気は", "en"),
        ("서울 날씨", "en"),
    ],
)
def test_required_examples(query: str, expected: str) -> None:
    assert detect_language(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "今天北京天气怎么样",
        "天气",
        "马云",
        "為什麼我的電腦開機很慢",  # traditional
        "香港天文台 颱風 信號",
        "點樣去機場",  # Cantonese
        "ㄅㄆㄇ 注音 學習",  # zhuyin
        "Rust 和 Go 哪个快",
        "iPhone 15 Pro Max 价格",
        "numpy array 转 list",
        "docker compose up -d 报错 permission denied",
        "pip install 报错 error: Microsoft Visual C++ 14.0 or greater is required",
        "TypeError: Cannot read properties of undefined (reading 'map') 怎么解决",
        "serendipity 是什么意思",
        "how are you 怎么回答",
        "ありがとう 是什么意思",  # Chinese asking about a Japanese word
        "사랑해 是什么意思",  # Chinese asking about a Korean word
        "东京都厅营业时间",  # a Japanese place, asked in Chinese
        "東京大學 申請條件",  # traditional Chinese about a Japanese university
    ],
)
def test_chinese_questions_route_to_zh(query: str) -> None:
    assert detect_language(query) == "zh"


@pytest.mark.parametrize(
    "query",
    [
        "how to pronounce 谢谢",
        "Translate 今天天气很好 into English",
        "difference between 的 地 得",
        "what does 什么 mean",
        "is 你好吗 polite",
        "Who is 马云?",
        "¿Qué significa 你好?",
        "Что значит 你好",
        "chữ 福 nghĩa là gì",
        "東京都庁の営業時間",
        "東京都庁 営業時間",  # kanji only, Japanese-only character forms
        "京都 紅葉 見頃",  # kanji only, a word only Japanese writes
        "東京大学 入試 日程",  # kanji only, simplified-like and traditional-like forms mixed
        "「你好」は日本語で何という意味ですか",  # Japanese asking about a Chinese word
        "ラーメン 作り方",
        "삼성 갤럭시 S24 가격",
        "погода в Москве",
        "ni hao ma",  # pinyin is not Han text
        "SELECT * FROM users WHERE id = 1;",
    ],
)
def test_other_questions_route_to_en(query: str) -> None:
    assert detect_language(query) == "en"


@pytest.mark.parametrize(
    "query", ["", "   ", "😀🤔", "12345", "+1 (555) 010-0199", "\x00", "\ud800", "?" * 10_000]
)
def test_text_without_chinese_routes_to_en_without_raising(query: str) -> None:
    assert detect_language(query) == "en"


def test_very_long_chinese_text_still_routes_to_zh() -> None:
    assert detect_language("请总结这篇文章的要点。" * 5_000) == "zh"


def test_benchmark_corpus_is_routed_right_for_each_class() -> None:
    queries = load_queries()
    for label in ("zh", "en"):
        subset = [item.query for item in queries if item.label == label]
        assert len(subset) >= 150
        wrong = [query for query in subset if detect_language(query) != label]
        assert 1 - len(wrong) / len(subset) >= 0.99, wrong
