"""All configuration: one pydantic-settings object, read once at startup.

Environment variables are ``SEARCHQA_<GROUP>__<NAME>``; lists are comma-separated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MAX_FILE_BYTES = 10_000_000
"""Largest file read as a document: ``ask --file``, ``extract``, ``index``, and uploads by
default."""

CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _default_index_path() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "searchqa" / "index.sqlite3"


class LLMSettings(BaseModel):
    """The model server (OpenAI-compatible, SGLang first)."""

    base_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL ending in /v1; unset = embedded model"
    )
    model: str | None = Field(default=None, description="Model id; unset = first id of /v1/models")
    api_key: SecretStr | None = Field(default=None, description="Bearer token for the server")
    context_length: int | None = Field(
        default=None, gt=0, description="Context window when the server reports no max_model_len"
    )
    max_tokens: int = Field(default=32768, gt=0, description="Most tokens the model may write")
    temperature: float = Field(default=0.6, ge=0.5, le=0.7, description="DeepSeek: 0.5-0.7")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="Nucleus sampling")
    raw_prompt: bool = Field(
        default=False,
        description="Render R1's chat format here and stream /v1/completions "
        "(for servers whose chat template does not open the reply with <think>)",
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Connect timeout")
    read_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Longest wait for the next token (keep-alives and empty chunks do not count)",
    )
    total_timeout_s: float = Field(
        default=3600.0,
        gt=0,
        description="Longest whole reply, thinking included (R1 may think for many minutes)",
    )


class SearchSettings(BaseModel):
    """Search engines and their fallback order."""

    engines: CommaList = Field(
        default_factory=lambda: ["ddg", "local"],
        description="Ordered fallback chain: ddg, searxng, local",
    )
    searxng_url: str | None = Field(default=None, description="SearXNG base URL")
    max_results: int = Field(
        default=8, ge=1, le=20, description="Results asked for = most pages fetched"
    )
    ddg_backend: str = Field(default="duckduckgo", description="ddgs backend(s), comma-separated")
    timeout_s: float = Field(default=8.0, gt=0, description="Per-engine search timeout")
    breaker_failures: int = Field(
        default=3,
        ge=1,
        description="Consecutive faults of an engine itself (unreachable, timeouts, HTTP 5xx) "
        "that open its circuit; a rate limit opens it at once",
    )
    cooldown_s: float = Field(
        default=30.0,
        gt=0,
        description="How long an open circuit skips its engine before one request probes it; "
        "doubles after each failed probe",
    )
    cooldown_max_s: float = Field(
        default=900.0, gt=0, description="Longest an open circuit skips its engine"
    )
    rewrite: Literal["auto", "rule", "off"] = Field(
        default="auto",
        description="Follow-ups are searched as a standalone query: auto = the model server "
        "writes it (the rule when it fails or there is none), rule, or off (as asked)",
    )
    rewrite_timeout_s: float = Field(
        default=3.0, gt=0, description="Longest wait for the model's rewrite before the rule"
    )
    rewrite_max_tokens: int = Field(
        default=48, ge=8, le=512, description="Most tokens of the model's rewrite"
    )

    _split = field_validator("engines", mode="before")(_split_commas)


class FetchSettings(BaseModel):
    """Page fetching and the SSRF guard."""

    allow_hosts: CommaList = Field(
        default_factory=list,
        description="Host names, IPs or CIDRs admitted despite the SSRF guard",
    )
    deadline_s: float = Field(
        default=6.0, gt=0, description="Overall deadline for fetching and extracting all pages"
    )
    page_timeout_s: float = Field(default=4.0, gt=0, description="Per-page fetch timeout")
    quorum: float = Field(
        default=0.75,
        gt=0,
        le=1,
        description="Share of pages after which the rest get only a grace period (1 = all)",
    )
    quorum_grace: float = Field(
        default=0.5,
        ge=0,
        description=(
            "That grace, as a multiple of the time the quorum took, for pages whose server has "
            "answered (a fifth of it for the others)"
        ),
    )
    concurrency: int = Field(default=8, ge=1, le=64, description="Pages fetched at once")
    max_redirects: int = Field(default=5, ge=0, le=20, description="Redirects followed per page")
    max_bytes: int = Field(
        default=3_000_000, gt=0, description="Largest body on the wire (compressed)"
    )
    max_decompressed_bytes: int = Field(
        default=8_000_000, gt=0, description="Largest body after decompression"
    )
    user_agent: str = Field(
        default="Mozilla/5.0 (compatible; searchqa/0.1)",
        description="User-Agent sent with page requests",
    )
    extract_workers: int = Field(
        default=2, ge=1, le=32, description="Processes that run trafilatura"
    )

    _split = field_validator("allow_hosts", mode="before")(_split_commas)


class PackSettings(BaseModel):
    """How pages are fitted into the model's context."""

    total_tokens: int = Field(
        default=8192, ge=512, description="Cap on all page text in the prompt, in tokens"
    )
    page_tokens: int = Field(default=2048, ge=128, description="Cap per page, in tokens")
    page_floor_tokens: int = Field(
        default=384,
        ge=64,
        description="Pages shrink to this before max_tokens drops below min_output_tokens",
    )
    min_output_tokens: int = Field(
        default=8192, ge=256, description="Output budget kept while pages can still shrink"
    )


class IndexSettings(BaseModel):
    """The local full-text index."""

    path: Path = Field(default_factory=_default_index_path, description="SQLite database file")


class PromptSettings(BaseModel):
    """Prompt filling."""

    timezone: str | None = Field(
        default=None, description="IANA zone for {cur_date}; unset = the system's zone"
    )


class ServerSettings(BaseModel):
    """The HTTP service (``searchqa serve``)."""

    host: str = Field(default="127.0.0.1", description="Address to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on")
    workers: int = Field(
        default=1, ge=1, le=64, description="Worker processes; more than one needs Redis"
    )
    grace_s: float = Field(
        default=30.0,
        ge=0,
        description="Generation goes on this long after the last client of an answer leaves",
    )
    keepalive_s: float = Field(
        default=15.0, gt=0, description="Idle seconds before an SSE keep-alive comment"
    )
    slow_reader_s: float = Field(
        default=30.0,
        gt=0,
        description="A client that takes longer to accept one event is dropped (it can resume)",
    )
    shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="On shutdown, time running answers get to finish before they end",
    )
    max_upload_bytes: int = Field(
        default=MAX_FILE_BYTES, gt=0, description="Largest file for POST /v1/files/answer"
    )
    answer_cache_ttl_s: float = Field(
        default=3600.0, ge=0, description="How long a finished answer is replayed; 0 = never"
    )


class RedisSettings(BaseModel):
    """Shared state for the HTTP service: caches, rate limits, resumable streams."""

    url: str | None = Field(
        default=None, description="redis:// URL; unset = in-process state (one worker only)"
    )
    prefix: str = Field(default="searchqa:", description="Prefix of every Redis key")
    stream_ttl_s: float = Field(
        default=3600.0, gt=0, description="How long answer streams stay resumable after a write"
    )
    op_timeout_s: float = Field(
        default=0.5, gt=0, description="Connect and per-command timeout before Redis counts as down"
    )
    fail_closed: bool = Field(
        default=False, description="Rate limiter denies requests while Redis is down"
    )


SecretList = Annotated[list[SecretStr], NoDecode]


class AuthSettings(BaseModel):
    """API keys, CORS and rate limits of the HTTP service; no keys = open to everyone."""

    secret_keys: SecretList = Field(
        default_factory=list,
        description="Secret API keys (raw, or sha256:<hex> from python -m searchqa.api.auth hash)",
    )
    publishable_keys: SecretList = Field(
        default_factory=list,
        description="Browser keys, usable from the CORS origins on the answer routes only",
    )
    keys_file: Path | None = Field(
        default=None, description="TOML or JSON file of keys with kind, name, origins, rate_limit"
    )
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Origins browsers may call from (https://example.com, https://*.example.com)",
    )
    trusted_proxies: CommaList = Field(
        default_factory=list,
        description="Proxy IPs or CIDRs whose X-Forwarded-For is believed",
    )
    secret_rate_limit: int = Field(
        default=120, ge=0, description="Answers per window per secret key; 0 = unlimited"
    )
    publishable_rate_limit: int = Field(
        default=10,
        ge=0,
        description="Answers per window per publishable key and client address; 0 = unlimited",
    )
    anonymous_rate_limit: int = Field(
        default=60,
        ge=0,
        description="Answers per window per client address when no keys are set; 0 = unlimited",
    )
    rate_window_s: float = Field(default=60.0, gt=0, description="Rate-limit window")
    protect_metrics: bool = Field(default=False, description="/metrics needs a secret key")

    _split = field_validator(
        "secret_keys", "publishable_keys", "cors_origins", "trusted_proxies", mode="before"
    )(_split_commas)


class CacheSettings(BaseModel):
    """What the HTTP service keeps in its shared cache besides whole answers."""

    search_ttl_s: float = Field(
        default=900.0, ge=0, description="How long search results are reused; 0 = never"
    )
    page_ttl_s: float = Field(
        default=86400.0, ge=0, description="How long a page's extracted text is reused; 0 = never"
    )


class SlackSettings(BaseModel):
    """The Slack bot: over HTTP in ``searchqa serve`` (bot token + signing secret), or over
    Socket Mode with ``searchqa slack`` (bot token + app token)."""

    bot_token: SecretStr | None = Field(default=None, description="Bot token (xoxb-...)")
    signing_secret: SecretStr | None = Field(
        default=None, description="Signing secret that checks Slack's requests to /slack/events"
    )
    app_token: SecretStr | None = Field(
        default=None, description="App-level token (xapp-...), Socket Mode only"
    )
    api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base URL (proxies, tests)"
    )
    allowed_teams: CommaList = Field(
        default_factory=list, description="Workspace (team) ids answered; empty = all"
    )
    allowed_channels: CommaList = Field(
        default_factory=list, description="Channel ids answered; empty = all (DMs included)"
    )
    rate_limit: int = Field(
        default=20, ge=0, description="Answers per window per Slack user; 0 = unlimited"
    )
    team_rate_limit: int = Field(
        default=300, ge=0, description="Answers per window per workspace; 0 = unlimited"
    )

    _split = field_validator("allowed_teams", "allowed_channels", mode="before")(_split_commas)

    @property
    def http_enabled(self) -> bool:
        """Whether ``searchqa serve`` takes Slack's requests at ``/slack/events``."""
        return self.bot_token is not None and self.signing_secret is not None


class Settings(BaseSettings):
    """Every option searchqa reads, from the environment (or a .env file)."""

    model_config = SettingsConfigDict(
        env_prefix="SEARCHQA_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    llm: LLMSettings = Field(default_factory=LLMSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    pack: PackSettings = Field(default_factory=PackSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
