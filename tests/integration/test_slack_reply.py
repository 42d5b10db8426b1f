"""The bot's Slack side against the mock Slack: long answers split at 12,000 characters with
fences kept whole, and every event the app manifest subscribes to handled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from searchqa.settings import Settings, SlackSettings
from searchqa.slack.app import build_bolt_app
from searchqa.slack.blocks import closing_blocks
from searchqa.slack.bot import SlackBot, web_client
from searchqa.slack.markdown import MAX_MESSAGE_CHARS
from searchqa.slack.reply import SlackReply, Thread
from searchqa.state import build_state
from tests.e2e.slack_support import SIGNING_SECRET, event_callback, signed_headers, slash_command
from tests.fakes.slack import FakeSlack, fake_slack

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack" / "manifest.json"
THREAD = Thread("C1", "1700000000.000001", "U1", "T0001", direct=False)
PARAGRAPH = "Gardens cool the streets around them by shading and by evaporation. " * 8 + "\n\n"
CODE = "```python\n" + "print('cool')\n" * 400 + "```\n\n"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as fake:
        yield fake


def reply_to(slack: FakeSlack) -> SlackReply:
    settings = Settings(
        slack=SlackSettings.model_validate({"bot_token": "xoxb-1", "api_url": f"{slack.url}/api/"})
    )
    reply = SlackReply(web_client(settings), THREAD, question="q", flush_interval_s=0.01)
    reply.request_id = "rid"
    return reply


async def write_long_answer(reply: SlackReply) -> str:
    text = PARAGRAPH * 20 + CODE + PARAGRAPH * 20
    for start in range(0, len(text), 700):
        await reply.write(text[start : start + 700])
    await reply.finish(closing_blocks([], [], [], "rid"), empty_text="-")
    return text


def bodies(slack: FakeSlack) -> list[str]:
    """Each message's Markdown (streamed text, or its markdown block when posted)."""
    out = []
    for message in slack.bot_messages("C1"):
        markdown = [b["text"] for b in message["blocks"] if b["type"] == "markdown"]
        out.append(markdown[0] if markdown else message["text"])
    return out


@pytest.mark.parametrize("streaming", [True, False])
async def test_a_long_answer_is_split_cleanly_over_messages(
    slack: FakeSlack, streaming: bool
) -> None:
    slack.refuse_streams = not streaming
    text = await write_long_answer(reply_to(slack))

    parts = bodies(slack)
    assert len(parts) >= 2
    assert all(len(part) <= MAX_MESSAGE_CHARS for part in parts)
    assert all(part.count("```") % 2 == 0 for part in parts)  # no fence left open
    rejoined = "".join(parts).replace("```\n```\n", "")
    assert rejoined == text
    messages = slack.bot_messages("C1")
    assert all(m["thread_ts"] == THREAD.thread_ts for m in messages)
    feedback = [m for m in messages if any(b["type"] == "context_actions" for b in m["blocks"])]
    assert feedback == [messages[-1]]  # the closing blocks go under the last part only
    assert [m["metadata"]["event_payload"]["part"] for m in messages] == list(
        range(1, len(messages) + 1)
    )


async def test_the_bot_handles_every_event_and_command_the_manifest_subscribes_to(
    slack: FakeSlack,
) -> None:
    settings = Settings(
        slack=SlackSettings.model_validate(
            {
                "bot_token": "xoxb-1",
                "signing_secret": SIGNING_SECRET,
                "api_url": f"{slack.url}/api/",
            }
        )
    )
    state = build_state(settings.redis)
    bot = SlackBot(sessions=None, state=state, settings=settings, client=web_client(settings))  # type: ignore[arg-type]
    app = build_bolt_app(bot, settings.slack, socket_mode=False)
    manifest = json.loads(MANIFEST.read_text())

    async def dispatch(body: str, content_type: str) -> BoltResponse:
        headers = signed_headers(body, content_type=content_type)
        request = AsyncBoltRequest(body=body, headers={k.lower(): v for k, v in headers.items()})
        return await app.async_dispatch(request)

    for name in manifest["settings"]["event_subscriptions"]["bot_events"]:
        kind, _, channel_type = name.partition(".")
        event: dict[str, object] = {"type": kind, "user": "U2", "ts": "1.2", "channel": "D9"}
        if kind == "assistant_thread_started":
            event["assistant_thread"] = {"user_id": "U2", "channel_id": "D9", "thread_ts": "1.2"}
        else:
            event["bot_id"] = "BOTHER"  # another bot's message: handled by being ignored
        if channel_type:
            event["channel_type"] = channel_type
        response = await dispatch(event_callback(event), "application/json")
        assert response.status == 200, name  # Bolt answers 404 to events nobody listens to
    for command in manifest["features"]["slash_commands"]:
        body = slash_command("", "C1", f"{slack.url}/respond/1").replace(
            "%2Fask", command["command"].replace("/", "%2F")
        )
        response = await dispatch(body, "application/x-www-form-urlencoded")
        assert response.status == 200, command
        assert "Ask a question" in str(response.body)
