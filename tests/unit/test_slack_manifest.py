"""The Slack app manifest asks for what the bot uses, and sends it where the bot listens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from searchqa.api.slack_events import slack_events

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack" / "manifest.json"
SCOPES = {
    "app_mentions:read",
    "assistant:write",
    "chat:write",
    "commands",
    "im:history",
    "im:read",
    "im:write",
    "channels:history",
    "groups:history",
}


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST.read_text())
    return data


def test_the_manifest_asks_for_the_bot_scopes() -> None:
    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    assert set(scopes) == SCOPES


def test_every_request_url_is_the_bots_route() -> None:
    data = manifest()
    settings = data["settings"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in data["features"]["slash_commands"]),
    ]
    (route,) = slack_events.paths
    assert all(url.endswith(route) for url in urls)
    assert settings["socket_mode_enabled"] is False
    assert settings["interactivity"]["is_enabled"] is True
