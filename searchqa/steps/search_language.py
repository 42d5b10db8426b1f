"""The language engines are asked for: a BCP 47 tag (``en``, ``fr``, ``ja``, ``zh-CN``...).

The template rule (``language.detect_language``: Chinese or not) decides first, so a question
that gets the Chinese template is always searched in Chinese: ``zh-TW`` when it is written in
traditional characters only, else ``zh-CN``. Everything else goes by its writing system:

- a script one language owns (kana or kanji-only Japanese, Hangul, Thai, Hebrew, Greek,
  Devanagari...) names that language;
- Latin, Cyrillic and Arabic script are shared, so py3langid (langid.py's model) picks among
  the languages of that script that engines have regions for. English wins a Latin question
  unless another language is clearly more likely (``ENGLISH_PRIOR``): a short English query
  searched as Danish costs more than a Danish one searched as English.

langdetect was measured as well and does worse on short queries (see
``bench/search_locale.py``). Detection never raises: anything unexpected gives ``en``.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from functools import cache

from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

from searchqa.events import SearchLanguage
from searchqa.steps.language import charsets, detect_language

__all__ = ["ENGLISH_PRIOR", "detect_search_language", "load_identifier"]

log = logging.getLogger(__name__)

ENGLISH_PRIOR = 2.0
"""A Latin question is English unless another language is this many times as likely."""

LATIN = ("en", "fr", "de", "es", "pt", "it", "nl", "pl", "tr", "vi", "id", "sv", "cs", "da",
         "no", "fi", "ro", "hu", "sk", "hr", "ca")  # fmt: skip
CYRILLIC = ("ru", "uk", "bg", "sr", "kk", "be", "mk")
ARABIC = ("ar", "fa", "ur")
_SHARED_SCRIPTS = {"latin": LATIN, "cyrillic": CYRILLIC, "arabic": ARABIC}

# Writing systems: (name, character class, weight per character). CJK characters weigh two
# letters each, as one carries about a syllable.
_SCRIPTS: tuple[tuple[str, re.Pattern[str], int], ...] = tuple(
    (name, re.compile(f"[{chars}]"), weight)
    for name, chars, weight in (
        ("latin", "A-Za-z\u00c0-\u024f\u1e00-\u1eff", 1),
        ("cyrillic", "\u0400-\u04ff", 1),
        ("arabic", "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff", 1),
        ("ja", "\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f", 2),
        ("han", "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff", 2),
        ("ko", "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af", 2),
        ("th", "\u0e00-\u0e7f", 1),
        ("he", "\u0590-\u05ff", 1),
        ("el", "\u0370-\u03ff\u1f00-\u1fff", 1),
        ("hi", "\u0900-\u097f", 1),
        ("bn", "\u0980-\u09ff", 1),
        ("pa", "\u0a00-\u0a7f", 1),
        ("gu", "\u0a80-\u0aff", 1),
        ("ta", "\u0b80-\u0bff", 1),
        ("te", "\u0c00-\u0c7f", 1),
        ("kn", "\u0c80-\u0cff", 1),
        ("ml", "\u0d00-\u0d7f", 1),
        ("si", "\u0d80-\u0dff", 1),
        ("lo", "\u0e80-\u0eff", 1),
        ("my", "\u1000-\u109f", 1),
        ("ka", "\u10a0-\u10ff", 1),
        ("am", "\u1200-\u137f", 1),
        ("km", "\u1780-\u17ff", 1),
        ("hy", "\u0530-\u058f", 1),
    )
)
_LOAD_LOCK = threading.Lock()


def detect_search_language(text: str) -> SearchLanguage:
    """The BCP 47 tag engines should search ``text`` in; ``en`` when unsure."""
    try:
        return _detect(text[:2000])
    except Exception:  # a search locale must never fail a request
        log.warning("search language detection failed", exc_info=True)
        return "en"


def _detect(text: str) -> SearchLanguage:
    if detect_language(text) == "zh":
        return "zh-TW" if _traditional_only(text) else "zh-CN"
    script = _dominant_script(text)
    if script is None:
        return "en"
    if script == "han":
        return "ja"  # Han text the template rule does not call Chinese: kanji-only Japanese
    candidates = _SHARED_SCRIPTS.get(script)
    if candidates is None:
        return script
    return _most_likely(text, candidates)


def _dominant_script(text: str) -> str | None:
    best, best_weight = None, 0
    for name, pattern, weight in _SCRIPTS:
        total = len(pattern.findall(text)) * weight
        if total > best_weight:
            best, best_weight = name, total
    return best


def _traditional_only(text: str) -> bool:
    """Whether the Han characters include traditional-only forms and no simplified-only ones."""
    traditional = simplified = False
    for char in text:
        if not "\u4e00" <= char <= "\u9fff":
            continue
        in_gb, in_big5, _ = charsets(char)
        traditional |= in_big5 and not in_gb
        simplified |= in_gb and not in_big5
    return traditional and not simplified


def _most_likely(text: str, candidates: tuple[str, ...]) -> SearchLanguage:
    ranked: dict[str, float] = dict(_restricted(candidates).rank(text))
    best = max(ranked, key=lambda lang: ranked[lang])
    if "en" in ranked and ranked["en"] * ENGLISH_PRIOR >= ranked[best]:
        return "en"
    return best


def load_identifier() -> LanguageIdentifier:
    """py3langid's model, loaded once per process (about 0.7 s; ``AnswerKit`` starts it early)."""
    with _LOAD_LOCK:
        return _full_identifier()


@cache
def _full_identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


@cache
def _restricted(candidates: tuple[str, ...]) -> LanguageIdentifier:
    identifier = copy.copy(load_identifier())  # set_languages replaces arrays, never edits them
    identifier.set_languages(list(candidates))
    return identifier
