"""slack_bolt's ``AsyncApp`` with searchqa's listeners: mentions, direct messages, ``/ask``,
assistant threads and feedback clicks.

Bolt checks Slack's signature (v0, five-minute window) before any listener runs and answers
401 when it fails. It acknowledges events itself; each listener only admits the question and
hands the answer to ``SlackBot``, which runs it after the acknowledgement.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from searchqa.settings import SlackSettings
from searchqa.slack.blocks import FEEDBACK_ACTION
from searchqa.slack.bot import SlackBot, SlackQuestion
from searchqa.slack.conversation import question_text
from searchqa.slack.markdown import escape_text
from searchqa.slack.reply import Thread

ASK_HELP = (
    "Ask a question and I answer it in a thread, with links to the pages I read: "
    "`/ask what changed in Python 3.13?`. You can also mention me in a channel or write to me "
    "directly; follow-up questions in my threads keep the conversation."
)
SUGGESTED_PROMPTS = [
    {"title": "Explain a topic", "message": "What is retrieval-augmented generation?"},
    {"title": "Compare options", "message": "Redis vs Memcached for caching: which and why?"},
    {"title": "Latest news", "message": "What changed in the latest Python release?"},
]
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
"""Message subtypes that are a person writing; edits, joins and bot posts are not."""

log = logging.getLogger(__name__)


def build_bolt_app(bot: SlackBot, settings: SlackSettings, *, socket_mode: bool) -> AsyncApp:
    """The Bolt app for ``bot``; over HTTP it verifies every request's signature."""
    signing_secret = settings.signing_secret.get_secret_value() if settings.signing_secret else None
    app = AsyncApp(
        client=bot.client,
        signing_secret=None if socket_mode else signing_secret,
        request_verification_enabled=not socket_mode,
        process_before_response=False,
        logger=logging.getLogger("searchqa.slack.bolt"),
    )
    app.middleware(_skip_retries(bot))

    @app.event("app_mention")
    async def on_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
        await _take_message(bot, body, event)

    @app.event("message")
    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        # In channels only mentions are answered (Slack sends a mention twice: as app_mention
        # and as message); in a direct message every message is a question.
        if event.get("channel_type") == "im":
            await _take_message(bot, body, event)

    @app.event("assistant_thread_started")
    async def on_thread_started(event: dict[str, Any]) -> None:
        thread = event.get("assistant_thread") or {}
        try:
            await bot.client.assistant_threads_setSuggestedPrompts(
                channel_id=thread["channel_id"],
                thread_ts=thread["thread_ts"],
                title="Ask me anything: I search the web and cite my sources.",
                prompts=SUGGESTED_PROMPTS,
            )
        except (KeyError, SlackApiError) as exc:
            log.info("no suggested prompts: %s", exc)

    @app.command("/ask")
    async def on_ask(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        text = question_text(body.get("text", ""))
        channel, user, team = body["channel_id"], body["user_id"], body.get("team_id")
        if not text:
            await ack(text=ASK_HELP)
            return
        refusal = bot.refusal(team, channel)
        if refusal is None:
            refusal = await bot.over_limit(team, user)
        if refusal is not None:
            await ack(text=refusal)
            return
        await ack()
        bot.spawn(_ask_in_channel(bot, respond, text, channel, user, team))

    @app.action(FEEDBACK_ACTION)
    async def on_feedback(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await bot.feedback(str(action.get("value", "")), (body.get("user") or {}).get("id", ""))

    return app


async def _take_message(bot: SlackBot, body: dict[str, Any], event: dict[str, Any]) -> None:
    if event.get("bot_id") or event.get("subtype") not in PERSON_SUBTYPES:
        return
    channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
    if not (channel and ts and user):
        return
    if not await bot.first_time(f"message:{channel}:{ts}"):
        return
    thread_ts = event.get("thread_ts") or ts
    team = event.get("team") or body.get("team_id")
    thread = Thread(channel, thread_ts, user, team, direct=event.get("channel_type") == "im")
    text = question_text(event.get("text", ""))
    if not text:
        await bot.tell(thread, ASK_HELP)
        return
    await bot.take(SlackQuestion(thread, text, message_ts=ts, follow_up=thread_ts != ts))


async def _ask_in_channel(
    bot: SlackBot, respond: AsyncRespond, text: str, channel: str, user: str, team: str | None
) -> None:
    """``/ask``: post the question where it was asked, then answer in its thread."""
    try:
        posted = await bot.client.chat_postMessage(
            channel=channel, text=f"<@{user}> asked: {escape_text(text)}", unfurl_links=False
        )
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.info("cannot post /ask in %s: %s", channel, error)
        hint = " Invite me first: `/invite @searchqa`." if error == "not_in_channel" else ""
        await respond(text=f"I cannot post in this conversation ({error}).{hint}")
        return
    ts = str(posted["ts"])
    thread = Thread(channel, ts, user, team, direct=channel.startswith("D"))
    await bot.answer(SlackQuestion(thread, text, message_ts=ts, follow_up=False))


def _skip_retries(bot: SlackBot) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Global middleware: an event Slack sends again (``X-Slack-Retry-Num``, or to another
    worker) is acknowledged and otherwise ignored."""

    async def skip_retries(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> Any:
        event_id = body.get("event_id")
        if event_id and not await bot.first_time(f"event:{event_id}"):
            log.info("event %s was already taken", event_id)
            return BoltResponse(status=200, body="")
        await next()
        return None

    return skip_retries
