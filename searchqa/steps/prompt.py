"""Fill DeepSeek's official templates: search results, the current date, the question.

The templates ship byte for byte: installed wheels carry them in ``searchqa/templates``; a source
checkout reads the project's ``templates/`` folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from searchqa.documents import Page
from searchqa.errors import InvalidRequestError
from searchqa.events import Language
from searchqa.steps.pack import sanitize_page_text

TemplateFile = Literal["search_answer_en.txt", "search_answer_zh.txt", "file_answer.txt"]
_CHECKOUT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_ZH_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
# Fixed English names: strftime's %A/%B follow the process locale.
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@cache
def load_template(name: TemplateFile) -> str:
    """The template's exact text (UTF-8, nothing added or removed)."""
    packaged = resources.files("searchqa").joinpath("templates", name)
    if packaged.is_file():
        return packaged.read_bytes().decode("utf-8")
    return (_CHECKOUT_TEMPLATES / name).read_bytes().decode("utf-8")


def today_in_zone(timezone: str | None) -> date:
    """Today's date in ``timezone`` (an IANA name), or in the system's zone when unset."""
    if timezone is None:
        return datetime.now().astimezone().date()
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequestError(f"unknown time zone {timezone!r}", code="bad_timezone") from exc
    return datetime.now(zone).date()


def format_date(day: date, language: Language) -> str:
    """The date as people write it: ``2026年11月28日 星期六``, ``Saturday, November 28, 2026``."""
    if language == "zh":
        return f"{day.year}年{day.month}月{day.day}日 {_ZH_WEEKDAYS[day.weekday()]}"
    return f"{_EN_WEEKDAYS[day.weekday()]}, {_EN_MONTHS[day.month - 1]} {day.day}, {day.year}"


def _one_line(text: str) -> str:
    return " ".join(sanitize_page_text(text).split())


def format_webpage(index: int, page: Page) -> str:
    """One ``[webpage X begin]...[webpage X end]`` block; the Published line only when known."""
    header = [f"[webpage {index} begin]", f"Title: {_one_line(page.title)}", f"URL: {page.url}"]
    if page.published:
        header.append(f"Published: {_one_line(page.published)}")
    return "\n".join([*header, "", page.text, f"[webpage {index} end]"])


def format_search_results(pages: Sequence[Page]) -> str:
    """All blocks, numbered from 1, joined by one newline."""
    return "\n".join(format_webpage(index, page) for index, page in enumerate(pages, start=1))


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` placeholders in one pass, so filled-in text is never re-scanned."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(replace, template)


def build_search_prompt(
    *, question: str, pages: Sequence[Page], cur_date: str, language: Language
) -> str:
    """The user message for a web-search question (zh or en template)."""
    template = load_template("search_answer_zh.txt" if language == "zh" else "search_answer_en.txt")
    return fill_template(
        template,
        {
            "search_results": format_search_results(pages),
            "cur_date": cur_date,
            "question": question,
        },
    )


def build_file_prompt(*, question: str, file_name: str, file_content: str) -> str:
    """The user message for a question about an uploaded file."""
    return fill_template(
        load_template("file_answer.txt"),
        {"file_name": file_name, "file_content": file_content, "question": question},
    )
