"""The search language: a BCP 47 tag per question, the zh/en template rule left as it is."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchqa.steps.language import detect_language
from searchqa.steps.search_language import detect_search_language


@pytest.mark.parametrize(
    ("query", "tag"),
    [
        ("how to boil eggs", "en"),
        ("best laptop for students", "en"),
        ("météo demain à Paris", "fr"),
        ("wie koche ich Eier", "de"),
        ("cómo hacer tortilla de patatas", "es"),
        ("como fazer pão de queijo", "pt"),
        ("come fare la carbonara", "it"),
        ("hoe maak ik pannenkoeken", "nl"),
        ("jak zrobić pierogi", "pl"),
        ("menemen nasıl yapılır", "tr"),
        ("cách nấu phở bò", "vi"),
        ("как сварить борщ", "ru"),
        ("як приготувати вареники", "uk"),
        ("كيف أطبخ الكبسة", "ar"),
        ("چرا آسمان آبی است", "fa"),
        ("東京 ラーメン おすすめ", "ja"),
        ("서울 맛집 추천", "ko"),
        ("วิธีทำต้มยำกุ้ง", "th"),
        ("איך מכינים שקשוקה", "he"),
        ("πώς φτιάχνω μουσακά", "el"),
        ("दिल्ली में सबसे अच्छे रेस्टोरेंट", "hi"),
        ("北京烤鸭哪家好吃", "zh-CN"),
        ("Rust 和 Go 哪个快", "zh-CN"),
        ("台北美食推薦", "zh-TW"),
        ("電腦當機怎麼辦", "zh-TW"),
        ("what does すし mean", "en"),  # an English question about a Japanese word
        ("Python インストール 方法", "ja"),
    ],
)
def test_each_question_is_searched_in_its_language(query: str, tag: str) -> None:
    assert detect_search_language(query) == tag


@pytest.mark.parametrize("query", ["北京烤鸭哪家好吃", "Rust 和 Go 哪个快", "台北美食推薦"])
def test_a_question_routed_to_the_chinese_template_is_searched_in_chinese(query: str) -> None:
    assert detect_language(query) == "zh"
    assert detect_search_language(query).startswith("zh-")


@pytest.mark.parametrize("query", ["", "   ", "1234", "🙂🙂", "?!", "\x00"])
def test_nothing_to_go_on_is_english(query: str) -> None:
    assert detect_search_language(query) == "en"


@given(st.text(max_size=60))
def test_detection_never_raises_and_gives_a_tag(text: str) -> None:
    tag = detect_search_language(text)
    assert tag.replace("-", "").isalpha()
