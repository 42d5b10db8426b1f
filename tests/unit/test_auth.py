"""API keys, keys files, origin matching and client addresses, without a server."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from litestar.datastructures import Headers
from pydantic import SecretStr

from searchqa.api.auth import KeyRing, hash_key, load_keys, main, read_keys_file
from searchqa.api.cors import cors_config, origin_allowed, request_origin
from searchqa.api.ratelimit import TrustedProxies
from searchqa.errors import InvalidRequestError
from searchqa.settings import AuthSettings, Settings

RAW = "sk_live_correct-horse-battery"


def secrets_of(*values: str) -> list[SecretStr]:
    return [SecretStr(value) for value in values]


def test_hash_is_sha256_in_the_form_settings_accept() -> None:
    assert hash_key(RAW) == "sha256:" + hashlib.sha256(RAW.encode()).hexdigest()


def test_raw_and_hashed_keys_in_settings_are_both_recognised() -> None:
    ring = load_keys(AuthSettings(secret_keys=secrets_of(RAW, hash_key("sk_other"))))

    assert [k.kind for k in (ring.lookup(RAW), ring.lookup("sk_other")) if k] == ["secret"] * 2
    assert ring.lookup("sk_live_correct-horse-batter") is None
    assert ring.lookup("") is None
    assert all(RAW not in repr(key) for key in ring.keys)


def test_publishable_keys_from_settings_are_tied_to_the_cors_origins() -> None:
    settings = AuthSettings(publishable_keys=secrets_of("pk_1"), cors_origins=["https://a.com"])
    key = load_keys(settings).lookup("pk_1")

    assert key is not None
    assert (key.kind, key.origins) == ("publishable", ("https://a.com",))


def test_environment_keys_are_secret_and_split_on_commas(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("SEARCHQA_AUTH__SECRET_KEYS", f"{RAW}, sk_two")
    monkeypatch.setenv("SEARCHQA_AUTH__TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1")
    settings = Settings()

    assert [k.get_secret_value() for k in settings.auth.secret_keys] == [RAW, "sk_two"]
    assert settings.auth.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert RAW not in repr(settings)


def test_a_toml_keys_file_holds_hashes_kinds_origins_and_limits(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(
        f"""
[[keys]]
name = "backend"
key = "{hash_key(RAW)}"
rate_limit = 500

[[keys]]
name = "widget"
kind = "publishable"
key = "pk_widget"
origins = ["https://shop.example"]

[[keys]]
kind = "publishable"
key = "pk_default_origins"
""",
        encoding="utf-8",
    )
    ring = load_keys(AuthSettings(keys_file=path, cors_origins=["https://docs.example"]))

    backend, widget, default = (ring.lookup(k) for k in (RAW, "pk_widget", "pk_default_origins"))
    assert backend is not None
    assert widget is not None
    assert default is not None
    assert (backend.name, backend.kind, backend.rate_limit) == ("backend", "secret", 500)
    assert (widget.kind, widget.origins) == ("publishable", ("https://shop.example",))
    assert default.origins == ("https://docs.example",)
    assert default.name == "keys.toml#3"
    assert RAW not in path.read_text()


def test_a_json_keys_file_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"key": RAW, "name": "ops"}]}), encoding="utf-8")

    (key,) = read_keys_file(path)
    assert (key.name, key.kind) == ("ops", "secret")
    assert KeyRing([key]).lookup(RAW) == key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f'[[keys]]\nkey = "{RAW}"\nkind = "admin"', "kind"),
        (f'[[keys]]\nkey = "{RAW}"\ncolour = "red"', "colour"),
        ('[[keys]]\nkey = "sha256:abc"', "64 hex digits"),
        (f'[[keys]]\nkey = "{RAW}"\n[[keys]]\nkey = "{hash_key(RAW)}"', "same key"),
        ("[[keys]\n", "keys.toml"),
    ],
    ids=["bad-kind", "unknown-field", "short-hash", "duplicate", "bad-toml"],
)
def test_a_malformed_keys_file_is_refused_without_echoing_keys(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InvalidRequestError) as caught:
        load_keys(AuthSettings(keys_file=path))
    assert message in caught.value.message
    assert RAW not in caught.value.message


def test_hash_helper_reads_the_key_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(RAW + "\n"))

    assert main(["hash"]) == 0
    assert capsys.readouterr().out.strip() == hash_key(RAW)


def test_new_key_helper_prints_a_key_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    main(["new", "--publishable"])
    key_line, hash_line = capsys.readouterr().out.splitlines()
    key = key_line.split()[-1]

    assert key.startswith("pk_")
    assert len(key) > 30
    assert hash_line.split()[-1] == hash_key(key)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example", True),
        ("HTTPS://Shop.Example", True),
        ("https://a.b.docs.example", True),
        ("http://shop.example", False),
        ("https://shop.example.evil", False),
        ("https://evilshop.example", False),
        ("https://docs.example.evil.com", False),
        ("http://localhost:5173", True),
        ("null", False),
        (None, False),
    ],
)
def test_origin_patterns(origin: str | None, allowed: bool) -> None:
    patterns = ["https://shop.example", "https://*.docs.example", "http://localhost:*"]
    assert origin_allowed(origin, patterns) is allowed


def test_star_admits_every_real_origin() -> None:
    assert origin_allowed("https://anything.example", ["*"])
    assert not origin_allowed("null", ["*"])


@pytest.mark.parametrize(
    ("headers", "origin"),
    [
        ({"origin": "https://a.example"}, "https://a.example"),
        ({"referer": "https://a.example:443/page?q=1"}, "https://a.example"),
        ({"referer": "http://a.example:8080/x"}, "http://a.example:8080"),
        ({"origin": "null", "referer": "https://a.example/x"}, "https://a.example"),
        ({"referer": "file:///etc/passwd"}, None),
        ({}, None),
    ],
)
def test_request_origin_falls_back_to_the_referer(
    headers: dict[str, str], origin: str | None
) -> None:
    assert request_origin(Headers(headers)) == origin


def test_no_cors_origins_means_no_cors() -> None:
    assert cors_config([]) is None
    config = cors_config(["https://a.example"])
    assert config is not None
    assert config.is_origin_allowed("https://a.example")
    assert not config.is_origin_allowed("https://b.example")


@pytest.mark.parametrize(
    ("peer", "chain", "client"),
    [
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", ["1.2.3.4"], "1.2.3.4"),
        ("10.0.0.2", ["6.6.6.6", "1.2.3.4"], "1.2.3.4"),  # left part written by the client
        ("10.0.0.2", ["1.2.3.4", "10.0.0.7"], "1.2.3.4"),  # through two proxies
        ("10.0.0.2", ["10.0.0.8", "10.0.0.7"], "10.0.0.8"),  # all trusted: the left-most
        ("10.0.0.2", [], "10.0.0.2"),
        ("::ffff:10.0.0.2", ["1.2.3.4"], "1.2.3.4"),
        ("127.0.0.1", ["1.2.3.4"], "1.2.3.4"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, chain: list[str], client: str
) -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "127.0.0.1"])
    assert proxies.client_address(peer, chain) == client


def test_a_bad_trusted_proxy_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="not an IP"):
        TrustedProxies(["proxy.internal"])
