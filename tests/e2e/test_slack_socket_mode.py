"""``searchqa slack``: the same bot over Socket Mode, and how it stops."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import World
from tests.e2e.slack_support import event_callback, mention
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.server import serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.slack import FakeSlack, fake_slack
from tests.fakes.web import fake_web_app


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    searx, llm = FakeSearxng(), FakeSGLang(answer="Shade cools streets [citation:1].")
    with serve(fake_web_app()) as web, serve(searx.app()) as searx_server:
        searx.results = [searx_result(f"{web.url}/notes.txt", "Notes", "Gardens cool blocks.")]
        with serve(llm.app()) as llm_server:
            yield World(web, searx, searx_server, llm, llm_server, tmp_path)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as fake:
        yield fake


def start_bot(world: World, slack: FakeSlack) -> subprocess.Popen[bytes]:
    env = world.env(
        SEARCHQA_SLACK__BOT_TOKEN="xoxb-test-token",
        SEARCHQA_SLACK__APP_TOKEN="xapp-1-test-token",
        SEARCHQA_SLACK__API_URL=f"{slack.url}/api/",
        SEARCHQA_SERVER__SHUTDOWN_GRACE_S="1",
    )
    log = (world.home / "slack.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "searchqa.cli", "slack"],
        env=env,
        cwd=world.home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def has_feedback(message: dict[str, object]) -> bool:
    blocks = message.get("blocks") or []
    assert isinstance(blocks, list)
    return any(b.get("type") == "context_actions" for b in blocks)


async def test_socket_mode_answers_a_mention_and_ends_running_answers_on_sigterm(
    world: World, slack: FakeSlack
) -> None:
    bot = start_bot(world, slack)
    try:
        await slack.wait_for(slack.connected, timeout_s=30)
        ts = slack.add_user_message("C1", "<@UBOT> how do gardens cool cities?")
        payload = json.loads(event_callback(mention("C1", ts, "how do gardens cool cities?")))
        envelope = slack.push(payload)
        await slack.wait_for(lambda: any(a.get("envelope_id") == envelope for a in slack.acks))
        await slack.wait_for(lambda: any(map(has_feedback, slack.bot_messages("C1"))))
        (answer,) = slack.bot_messages("C1")
        assert answer["thread_ts"] == ts
        assert answer["text"] == f"Shade cools streets [[1]]({world.web.url}/notes.txt)."

        world.llm.first_token_delay_s = 30.0
        slow = slack.add_user_message("C2", "<@UBOT> and what about rain?")
        slack.push(json.loads(event_callback(mention("C2", slow, "and what about rain?"))))
        await slack.wait_for(lambda: bool(slack.called("assistant.threads.setStatus")))
        await slack.wait_for(lambda: len(world.llm.requests) >= 2)  # the model was asked
        started = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=20) == 0
        assert time.monotonic() - started < 15
    finally:
        if bot.poll() is None:
            bot.kill()
    (ended,) = slack.bot_messages("C2")
    assert ended["thread_ts"] == slow
    assert ":warning:" in ended["text"]
    assert "shutting down" in ended["text"]


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        ("slack", {"SEARCHQA_SLACK__BOT_TOKEN": "xoxb-1"}, "Socket Mode needs"),
        (
            "slack",
            {"SEARCHQA_SLACK__BOT_TOKEN": "xoxb-1", "SEARCHQA_SLACK__APP_TOKEN": "xoxb-2"},
            "must be an app-level token",
        ),
        ("serve", {"SEARCHQA_SLACK__BOT_TOKEN": "xoxb-1"}, "needs both"),
    ],
)
def test_half_a_slack_configuration_is_refused_with_one_line(
    world: World, command: str, env: dict[str, str], message: str
) -> None:
    result = world.run(command, env=world.env(**env))
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
