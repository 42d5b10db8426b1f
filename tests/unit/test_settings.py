"""Settings: the public variable names, comma lists, validation, and the README table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from searchqa.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
PUBLIC_NAMES = [
    "SEARCHQA_LLM__BASE_URL",
    "SEARCHQA_LLM__MODEL",
    "SEARCHQA_LLM__API_KEY",
    "SEARCHQA_LLM__CONTEXT_LENGTH",
    "SEARCHQA_LLM__MAX_TOKENS",
    "SEARCHQA_SEARCH__ENGINES",
    "SEARCHQA_SEARCH__SEARXNG_URL",
    "SEARCHQA_SEARCH__MAX_RESULTS",
    "SEARCHQA_FETCH__ALLOW_HOSTS",
    "SEARCHQA_FETCH__DEADLINE_S",
    "SEARCHQA_INDEX__PATH",
    "SEARCHQA_PROMPT__TIMEZONE",
    "SEARCHQA_SLACK__BOT_TOKEN",
    "SEARCHQA_SLACK__SIGNING_SECRET",
    "SEARCHQA_SLACK__APP_TOKEN",
    "SEARCHQA_SLACK__API_URL",
    "SEARCHQA_SLACK__ALLOWED_TEAMS",
    "SEARCHQA_SLACK__ALLOWED_CHANNELS",
    "SEARCHQA_SLACK__RATE_LIMIT",
]


def _all_variables() -> dict[str, object]:
    names: dict[str, object] = {}
    for group, group_field in Settings.model_fields.items():
        model = group_field.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        for name, field in model.model_fields.items():
            names[f"SEARCHQA_{group.upper()}__{name.upper()}"] = field.get_default(
                call_default_factory=True
            )
    return names


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _all_variables():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_public_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "SEARCHQA_LLM__BASE_URL": "http://gpu:30000/v1",
        "SEARCHQA_LLM__MODEL": "r1",
        "SEARCHQA_LLM__API_KEY": "secret-key",
        "SEARCHQA_LLM__CONTEXT_LENGTH": "65536",
        "SEARCHQA_LLM__MAX_TOKENS": "16384",
        "SEARCHQA_SEARCH__ENGINES": "searxng, ddg ,local",
        "SEARCHQA_SEARCH__SEARXNG_URL": "http://searx:8080",
        "SEARCHQA_SEARCH__MAX_RESULTS": "5",
        "SEARCHQA_FETCH__ALLOW_HOSTS": "intranet.local,10.0.0.0/8",
        "SEARCHQA_FETCH__DEADLINE_S": "4.5",
        "SEARCHQA_INDEX__PATH": "/data/index.db",
        "SEARCHQA_PROMPT__TIMEZONE": "Asia/Shanghai",
        "SEARCHQA_SLACK__BOT_TOKEN": "xoxb-1-2",
        "SEARCHQA_SLACK__SIGNING_SECRET": "signing-secret",
        "SEARCHQA_SLACK__APP_TOKEN": "xapp-1-2",
        "SEARCHQA_SLACK__API_URL": "http://slack-proxy:8080/api/",
        "SEARCHQA_SLACK__ALLOWED_TEAMS": "T1,T2",
        "SEARCHQA_SLACK__ALLOWED_CHANNELS": "C1, D2",
        "SEARCHQA_SLACK__RATE_LIMIT": "7",
    }
    assert set(values) == set(PUBLIC_NAMES)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert (s.llm.base_url, s.llm.model, s.llm.context_length, s.llm.max_tokens) == (
        "http://gpu:30000/v1", "r1", 65536, 16384,
    )  # fmt: skip
    assert s.llm.api_key is not None
    assert s.llm.api_key.get_secret_value() == "secret-key"
    assert "secret-key" not in repr(s)
    assert s.search.engines == ["searxng", "ddg", "local"]
    assert (s.search.searxng_url, s.search.max_results) == ("http://searx:8080", 5)
    assert s.fetch.allow_hosts == ["intranet.local", "10.0.0.0/8"]
    assert s.fetch.deadline_s == 4.5
    assert str(s.index.path) == "/data/index.db"
    assert s.prompt.timezone == "Asia/Shanghai"
    slack = s.slack
    assert slack.bot_token is not None
    assert slack.bot_token.get_secret_value() == "xoxb-1-2"
    assert "signing-secret" not in repr(s)
    assert slack.app_token is not None
    assert slack.http_enabled
    assert slack.api_url == "http://slack-proxy:8080/api/"
    assert (slack.allowed_teams, slack.allowed_channels) == (["T1", "T2"], ["C1", "D2"])
    assert slack.rate_limit == 7


def test_defaults_follow_deepseeks_rules() -> None:
    s = Settings()
    assert (s.llm.temperature, s.llm.top_p, s.llm.max_tokens) == (0.6, 0.95, 32768)
    assert s.search.engines == ["ddg", "local"]
    assert s.search.max_results == 8
    assert s.llm.base_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SEARCHQA_LLM__TEMPERATURE", "1.0"),
        ("SEARCHQA_SEARCH__MAX_RESULTS", "0"),
        ("SEARCHQA_FETCH__DEADLINE_S", "-1"),
        ("SEARCHQA_LLM__MAX_TOKENS", "lots"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_readme_documents_every_option_with_its_default() -> None:
    text = README.read_text(encoding="utf-8")
    for name, default in _all_variables().items():
        row = re.search(rf"^\| `{name}` \| `([^`]*)` \|", text, re.MULTILINE)
        assert row, f"{name} is missing from the README's configuration table"
        if isinstance(default, bool):
            assert row.group(1) == str(default).lower()
        elif isinstance(default, int | float | str) and name != "SEARCHQA_INDEX__PATH":
            assert row.group(1) == str(default), name


def test_readme_states_each_search_option_as_settings_describes_it() -> None:
    text = README.read_text(encoding="utf-8")
    for name, field in Settings.model_fields["search"].annotation.model_fields.items():  # type: ignore[union-attr]
        variable = f"SEARCHQA_SEARCH__{name.upper()}"
        row = re.search(rf"^\| `{variable}` \| `[^`]*` \| (.*) \|$", text, re.MULTILINE)
        assert row, variable
        assert row.group(1) == field.description, variable
