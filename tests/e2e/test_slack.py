"""The Slack bot in ``searchqa serve``: signed requests in, a mock Slack Web API out.

Slack's requests are signed with slack_sdk's ``SignatureVerifier`` and sent to the real server;
its Web API calls go to ``tests.fakes.slack`` through ``SEARCHQA_SLACK__API_URL``; the fake
SGLang and the fake web stand behind it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import World, text_world
from tests.e2e.slack_support import (
    SIGNING_SECRET,
    direct_message,
    event_callback,
    feedback_click,
    mention,
    signed_headers,
    slash_command,
)
from tests.fakes.served import ServeProcess
from tests.fakes.sglang import DEFAULT_REASONING, FakeSGLang
from tests.fakes.slack import TEAM, FakeSlack, SlackCall, fake_slack

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ALLOWED = "C1,C2,C3,C4,C5,C6,C7,C8,C9,D1"
ANSWER = "Gardens shade streets [citation:1] and cache pages [citation:2]."


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with text_world(tmp_path_factory.mktemp("slack"), FakeSGLang(answer=ANSWER)) as world:
        yield world


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(world: World, slack: FakeSlack) -> Iterator[ServeProcess]:
    env = world.env(
        SEARCHQA_SLACK__BOT_TOKEN="xoxb-test-token",
        SEARCHQA_SLACK__SIGNING_SECRET=SIGNING_SECRET,
        SEARCHQA_SLACK__API_URL=f"{slack.url}/api/",
        SEARCHQA_SLACK__ALLOWED_CHANNELS=ALLOWED,
        SEARCHQA_SLACK__RATE_LIMIT="100",
    )
    served = ServeProcess(world.home, env)
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def _fresh(world: World, slack: FakeSlack) -> None:
    world.llm.answer, world.llm.reasoning = ANSWER, DEFAULT_REASONING
    world.llm.token_delay_s = world.llm.first_token_delay_s = 0.0
    slack.refuse_streams = False
    slack.expire_stream_after_appends = None
    slack.rate_limit_once.clear()


async def post_event(server: ServeProcess, event: dict[str, Any], **kw: Any) -> httpx.Response:
    body = event_callback(event, event_id=kw.pop("event_id", None))
    headers = signed_headers(body, content_type=JSON) | kw.pop("headers", {})
    async with server.client() as http:
        return await http.post("/slack/events", content=body, headers=headers)


def in_thread(calls: list[SlackCall], channel: str, thread_ts: str) -> list[SlackCall]:
    return [
        c
        for c in calls
        if c.args.get("channel") == channel and c.args.get("thread_ts") == thread_ts
    ]


def stream_of(slack: FakeSlack, channel: str, ts: str) -> list[SlackCall]:
    """start, appends and stop of the stream that opened at ``ts``."""
    return [
        c
        for c in slack.calls
        if c.args.get("channel") == channel
        and c.method in ("chat.appendStream", "chat.stopStream", "chat.update")
        and c.args.get("ts") == ts
    ]


def final_message(slack: FakeSlack, channel: str, thread_ts: str) -> dict[str, Any]:
    replies = [m for m in slack.bot_messages(channel) if m.get("thread_ts") == thread_ts]
    assert replies, f"no reply in {channel}/{thread_ts}"
    return replies[-1]


def finished(slack: FakeSlack, channel: str, thread_ts: str) -> bool:
    replies = [m for m in slack.bot_messages(channel) if m.get("thread_ts") == thread_ts]
    return any(has_feedback(m) or ":warning:" in m.get("text", "") for m in replies)


def has_feedback(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "context_actions" for b in message.get("blocks") or [])


def links_in(text: str) -> dict[str, str]:
    return dict(re.findall(r"\[\[(\d+)\]\]\(([^)]+)\)", text))


async def test_a_mention_is_answered_in_its_thread_with_linked_citations_and_sources(
    server: ServeProcess, world: World, slack: FakeSlack
) -> None:
    ts = slack.add_user_message("C1", "<@UBOT> how do gardens cool cities?")
    started = time.monotonic()
    response = await post_event(server, mention("C1", ts, "how do gardens cool cities?"))
    assert response.status_code == 200
    assert time.monotonic() - started < 3  # acknowledged before the answer is written
    await slack.wait_for(lambda: finished(slack, "C1", ts))

    statuses = [c for c in slack.called("assistant.threads.setStatus") if c.args["thread_ts"] == ts]
    assert statuses[0].args["status"] == "is searching the web…"
    assert any("reading" in c.args["status"] for c in statuses)
    (start,) = in_thread(slack.called("chat.startStream"), "C1", ts)
    assert start.args["recipient_user_id"] == "U1"
    assert start.args["recipient_team_id"] == TEAM

    message = final_message(slack, "C1", ts)
    assert links_in(message["text"]) == {
        "1": f"{world.web.url}/notes.txt",
        "2": f"{world.web.url}/readme.md",
    }
    assert message["text"].startswith("Gardens shade streets [[1]](")
    blocks = {b["type"]: b for b in message["blocks"]}
    sources = [e["text"] for e in blocks["context"]["elements"]]
    assert sources[0] == f"*[1]* <{world.web.url}/notes.txt|Notes> · 127.0.0.1"
    assert f"<{world.web.url}/readme.md|" in sources[1]
    (buttons,) = blocks["context_actions"]["elements"]
    request_id = message["metadata"]["event_payload"]["request_id"]
    assert buttons["positive_button"]["value"] == f"good:{request_id}"
    everything_posted = json.dumps([c.args for c in slack.calls])
    assert "capital of France" not in everything_posted  # the reasoning is never posted


async def test_a_direct_message_is_answered_in_the_dm(
    server: ServeProcess, slack: FakeSlack
) -> None:
    ts = slack.add_user_message("D1", "what does the readme say about caching?")
    await post_event(server, direct_message("D1", ts, "what does the readme say about caching?"))
    await slack.wait_for(lambda: finished(slack, "D1", ts))
    (start,) = in_thread(slack.called("chat.startStream"), "D1", ts)
    assert "recipient_user_id" not in start.args  # only channel streams name a recipient
    assert "[[1]](" in final_message(slack, "D1", ts)["text"]


async def test_ask_is_acknowledged_at_once_while_the_pipeline_is_slow(
    server: ServeProcess, world: World, slack: FakeSlack
) -> None:
    world.llm.first_token_delay_s = 4.0
    body = slash_command("why are gardens cooler?", "C2", f"{slack.url}/respond/1")
    started = time.monotonic()
    async with server.client() as http:
        response = await http.post(
            "/slack/events", content=body, headers=signed_headers(body, content_type=FORM)
        )
    assert response.status_code == 200
    assert time.monotonic() - started < 3
    assert response.text == ""  # an empty ack: nothing ephemeral to show

    await slack.wait_for(lambda: bool(slack.bot_messages("C2")))
    question = slack.bot_messages("C2")[0]
    assert question["text"] == "<@U1> asked: why are gardens cooler?"
    assert "thread_ts" not in question
    await slack.wait_for(lambda: finished(slack, "C2", question["ts"]), timeout_s=30)
    assert in_thread(slack.called("chat.startStream"), "C2", question["ts"])


async def test_ask_alone_shows_help_only_to_the_asker(server: ServeProcess) -> None:
    body = slash_command("", "C2", "http://127.0.0.1:9/unused")
    async with server.client() as http:
        response = await http.post(
            "/slack/events", content=body, headers=signed_headers(body, content_type=FORM)
        )
    assert response.status_code == 200
    assert "/ask what changed" in response.text


async def test_a_follow_up_in_the_thread_carries_the_earlier_answer(
    server: ServeProcess, world: World, slack: FakeSlack
) -> None:
    root = slack.add_user_message("C3", "<@UBOT> how do gardens cool cities?")
    await post_event(server, mention("C3", root, "how do gardens cool cities?"))
    await slack.wait_for(lambda: finished(slack, "C3", root))
    world.llm.requests.clear()
    world.llm.answer = "They also cut noise [citation:1]."

    follow = slack.add_user_message("C3", "<@UBOT> and noise?", thread_ts=root)
    await post_event(server, mention("C3", follow, "and noise?", thread_ts=root))
    await slack.wait_for(lambda: sum(map(has_feedback, slack.bot_messages("C3"))) == 2)

    chats = [r.body for r in world.llm.requests if r.path.endswith("/chat/completions")]
    answered = chats[-1]["messages"]
    assert [m["role"] for m in answered] == ["user", "assistant", "user"]
    assert answered[0]["content"] == "how do gardens cool cities?"
    assert answered[1]["content"] == "Gardens shade streets [1] and cache pages [2]."
    assert "and noise?" in answered[2]["content"]


async def test_a_retried_event_and_a_twice_sent_mention_are_answered_once(
    server: ServeProcess, slack: FakeSlack
) -> None:
    ts = slack.add_user_message("C4", "<@UBOT> what cools a block?")
    event = mention("C4", ts, "what cools a block?")
    first = await post_event(server, event, event_id="EvSAME")
    retried = await post_event(server, event, event_id="EvSAME", headers={"X-Slack-Retry-Num": "1"})
    as_message = await post_event(server, event | {"type": "message", "channel_type": "channel"})
    assert (first.status_code, retried.status_code, as_message.status_code) == (200, 200, 200)
    await slack.wait_for(lambda: finished(slack, "C4", ts))
    await asyncio.sleep(1.0)  # a duplicate would have started by now
    assert len(in_thread(slack.called("chat.startStream"), "C4", ts)) == 1


@pytest.mark.parametrize("problem", ["bad_signature", "stale_timestamp"])
async def test_requests_slack_did_not_sign_just_now_are_refused(
    server: ServeProcess, slack: FakeSlack, problem: str
) -> None:
    ts = slack.add_user_message("C5", "<@UBOT> hello?")
    body = event_callback(mention("C5", ts, "hello?"))
    if problem == "bad_signature":
        headers = signed_headers(body, content_type=JSON, secret="not-the-secret")
    else:
        headers = signed_headers(body, content_type=JSON, timestamp=int(time.time()) - 600)
    async with server.client() as http:
        response = await http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    await asyncio.sleep(0.5)
    assert not slack.bot_messages("C5")


async def test_where_streaming_is_refused_the_answer_is_posted_and_updated(
    server: ServeProcess, world: World, slack: FakeSlack
) -> None:
    slack.refuse_streams = True
    world.llm.answer = "Gardens shade streets [citation:1]. " + "Trees cool the air. " * 40
    world.llm.token_delay_s = 0.01
    ts = slack.add_user_message("C6", "<@UBOT> tell me about gardens at length")
    await post_event(server, mention("C6", ts, "tell me about gardens at length"))
    await slack.wait_for(lambda: finished(slack, "C6", ts), timeout_s=30)

    (posted,) = in_thread(slack.called("chat.postMessage"), "C6", ts)
    updates = [c for c in slack.called("chat.update") if c.args["channel"] == "C6"]
    assert len(updates) >= 2
    gaps = [b.at - a.at for a, b in pairwise(updates[:-1])]
    assert all(gap >= 0.9 for gap in gaps), gaps  # at most one edit a second
    message = final_message(slack, "C6", ts)
    body = message["blocks"][0]
    assert body["type"] == "markdown"
    assert body["text"].startswith("Gardens shade streets [[1]](")
    assert body["text"].count("Trees cool the air.") == 40
    assert posted.args["blocks"][0]["type"] == "markdown"


async def test_a_stream_slack_closes_mid_answer_is_finished_by_update(
    server: ServeProcess, world: World, slack: FakeSlack
) -> None:
    slack.expire_stream_after_appends = 1
    world.llm.answer = "Gardens shade streets [citation:1]. " + "Water evaporates. " * 40
    world.llm.token_delay_s = 0.01
    ts = slack.add_user_message("C7", "<@UBOT> what about water?")
    await post_event(server, mention("C7", ts, "what about water?"))
    await slack.wait_for(lambda: finished(slack, "C7", ts), timeout_s=30)

    message = final_message(slack, "C7", ts)
    calls = [c.method for c in stream_of(slack, "C7", message["ts"])]
    assert calls[:2] == ["chat.appendStream", "chat.appendStream"]
    assert "chat.update" in calls
    assert "chat.stopStream" not in calls
    markdown = message["blocks"][0]["text"]
    assert markdown.count("Water evaporates.") == 40
    assert any(b["type"] == "context_actions" for b in message["blocks"])


async def test_a_429_is_waited_out_and_nothing_is_lost(
    server: ServeProcess, world: World, slack: FakeSlack
) -> None:
    slack.rate_limit_once.add("chat.appendStream")
    world.llm.answer = "Shade helps [citation:1]. " + "Soil holds water. " * 30
    world.llm.token_delay_s = 0.01
    ts = slack.add_user_message("C8", "<@UBOT> what does soil do?")
    await post_event(server, mention("C8", ts, "what does soil do?"))
    await slack.wait_for(lambda: finished(slack, "C8", ts), timeout_s=30)

    message = final_message(slack, "C8", ts)
    appends = [c for c in stream_of(slack, "C8", message["ts"]) if c.method == "chat.appendStream"]
    assert appends[1].args == appends[0].args  # the refused call, sent again
    assert appends[1].at - appends[0].at >= 1.0  # after Retry-After
    assert message["text"].count("Soil holds water.") == 30


async def test_channels_outside_the_allow_list_get_a_private_refusal(
    server: ServeProcess, slack: FakeSlack
) -> None:
    ts = slack.add_user_message("C666", "<@UBOT> anyone there?")
    await post_event(server, mention("C666", ts, "anyone there?"))
    await slack.wait_for(lambda: bool(slack.called("chat.postEphemeral")))
    (told,) = [c for c in slack.called("chat.postEphemeral") if c.args["channel"] == "C666"]
    assert told.args["user"] == "U1"
    assert "not enabled" in told.args["text"]
    assert not in_thread(slack.called("chat.startStream"), "C666", ts)


async def test_a_feedback_click_is_counted_in_metrics(
    server: ServeProcess, slack: FakeSlack
) -> None:
    body = feedback_click("bad:abc123", "C9", "1700000000.000100")
    async with server.client() as http:
        response = await http.post(
            "/slack/events", content=body, headers=signed_headers(body, content_type=FORM)
        )
        assert response.status_code == 200

        async def counted() -> bool:
            text = (await http.get("/metrics")).text
            return 'searchqa_slack_feedback_total{rating="bad"} 1.0' in text

        deadline = time.monotonic() + 5
        while not await counted():
            assert time.monotonic() < deadline, "feedback not counted"
            await asyncio.sleep(0.2)
    assert any("abc123" in str(line.get("message")) for line in server.log_lines())
