"""The Slack bot's work: admit a question, answer it in its thread, report what went wrong.

Every answer goes through the same ``AnswerSessions`` as the HTTP API, so the answer cache,
single-flight and shutdown draining apply. Work runs after Slack's request is acknowledged, as
tasks this object tracks; ``aclose`` lets them finish (running answers end with a message when
the server shuts down).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, assert_never

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from searchqa.errors import InvalidRequestError, SearchQAError
from searchqa.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    MetaEvent,
    ReasoningEvent,
    Source,
    SourcesEvent,
    StatusEvent,
)
from searchqa.service.requests import AnswerRequest
from searchqa.service.sessions import AnswerSessions
from searchqa.settings import Settings, SlackSettings
from searchqa.slack.blocks import closing_blocks, parse_feedback
from searchqa.slack.conversation import thread_history
from searchqa.slack.markdown import CitedAnswer, escape_text
from searchqa.slack.reply import SlackReply, Thread
from searchqa.slack.status import ThreadStatus, status_text
from searchqa.state.protocols import StateBackend

SEEN_TTL_S = 3600.0
"""Slack retries an event for about an hour at most; it is remembered that long."""
RATE_LIMIT_RETRIES = 3
NO_ANSWER = "_The model wrote no answer._"
FEEDBACK_COUNTER = "slack_feedback"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackQuestion:
    """One question to answer: where, by whom, and whether it follows earlier answers."""

    thread: Thread
    text: str
    message_ts: str
    follow_up: bool
    """Asked inside an existing thread: its earlier answers become the history."""


def check_http_settings(slack: SlackSettings) -> bool:
    """Whether Slack's HTTP requests are taken; refuses half a configuration."""
    if (slack.bot_token is None) != (slack.signing_secret is None):
        raise InvalidRequestError(
            "the Slack bot needs both SEARCHQA_SLACK__BOT_TOKEN and "
            "SEARCHQA_SLACK__SIGNING_SECRET (or neither)",
            code="slack_settings",
        )
    return slack.http_enabled


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client: the configured base URL, 429s retried after ``Retry-After``."""
    slack = settings.slack
    token = slack.bot_token.get_secret_value() if slack.bot_token else None
    client = AsyncWebClient(token=token, base_url=slack.api_url)
    client.retry_handlers.append(
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)
    )
    return client


class SlackBot:
    """Answers questions from Slack in their threads."""

    def __init__(
        self,
        *,
        sessions: AnswerSessions,
        state: StateBackend,
        settings: Settings,
        client: AsyncWebClient,
    ) -> None:
        self.client = client
        self._sessions = sessions
        self._state = state
        self._slack = settings.slack
        self._window_s = settings.auth.rate_window_s
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- admission -------------------------------------------------------------------------

    async def first_time(self, key: str) -> bool:
        """True only the first time ``key`` is seen (retried events, twice-sent messages)."""
        try:
            claim = uuid.uuid4().hex  # a claim held by the same id would count as ours
            return await self._state.flights.claim(f"slack:{key}", claim, ttl_s=SEEN_TTL_S) is None
        except SearchQAError as exc:
            log.warning("cannot tell whether Slack sent %s before: %s", key, exc)
            return True

    def refusal(self, team: str | None, channel: str) -> str | None:
        """Why this workspace or channel is not answered; None when it is."""
        if self._slack.allowed_teams and team not in self._slack.allowed_teams:
            return "searchqa is not enabled for this workspace."
        if self._slack.allowed_channels and channel not in self._slack.allowed_channels:
            return "searchqa is not enabled in this conversation."
        return None

    async def over_limit(self, team: str | None, user: str) -> str | None:
        """A message for a user or workspace over its answer limit; None when within it."""
        checks = [(f"slack:user:{team}:{user}", self._slack.rate_limit, "You have")]
        if team:
            checks.append((f"slack:team:{team}", self._slack.team_rate_limit, "This workspace has"))
        for key, limit, who in checks:
            if limit <= 0:
                continue
            try:
                decision = await self._state.limiter.hit(key, limit=limit, window_s=self._window_s)
            except SearchQAError as exc:
                log.warning("Slack rate limit unavailable: %s", exc)
                return None
            if not decision.allowed:
                wait = max(1, round(decision.reset_s))
                return f"{who} asked {limit} questions recently; try again in {wait} s."
        return None

    async def tell(self, thread: Thread, text: str) -> None:
        """A message only the asker sees."""
        try:
            await self.client.chat_postEphemeral(
                channel=thread.channel,
                user=thread.user,
                text=text,
                thread_ts=thread.thread_ts if thread.thread_ts else None,
            )
        except SlackApiError as exc:
            log.warning("could not tell %s: %s", thread.user, exc.response.get("error"))

    # -- work ------------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` after the acknowledgement, tracked for shutdown."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def take(self, question: SlackQuestion) -> None:
        """Admit ``question`` (allow-lists, limits), then answer it in the background."""
        thread = question.thread
        refusal = self.refusal(thread.team, thread.channel)
        if refusal is None:
            refusal = await self.over_limit(thread.team, thread.user)
        if refusal is not None:
            log.info("not answering %s in %s: %s", thread.user, thread.channel, refusal)
            await self.tell(thread, refusal)
            return
        self.spawn(self.answer(question))

    async def answer(self, question: SlackQuestion) -> None:
        """Answer in the thread; failures end as a short message with the request id."""
        reply = SlackReply(self.client, question.thread, question=question.text)
        reply.request_id = uuid.uuid4().hex
        status = ThreadStatus(self.client, question.thread.channel, question.thread.thread_ts)
        try:
            await status.show("is searching the web…")
            history: list[Any] = []
            if question.follow_up:
                history = await thread_history(
                    self.client,
                    question.thread.channel,
                    question.thread.thread_ts,
                    before_ts=question.message_ts,
                )
            request = AnswerRequest(query=question.text, history=history)
            await self._follow(request, reply, status)
        except SearchQAError as exc:
            log.info("answer %s refused: %s", reply.request_id, exc.message)
            await self._fail(reply, status, _failure_note(exc.message, exc.retryable, reply))
        except asyncio.CancelledError:
            await self._fail(reply, status, _failure_note(_RESTARTING, True, reply))
            raise
        except Exception:
            log.exception("Slack answer %s failed", reply.request_id)
            await self._fail(reply, status, _failure_note(_INTERNAL, True, reply))

    async def _follow(
        self, request: AnswerRequest, reply: SlackReply, status: ThreadStatus
    ) -> None:
        cited = CitedAnswer()
        sources: list[Source] = []
        async with aclosing(self._sessions.answer_events(request)) as events:
            async for event in events:
                match event:
                    case MetaEvent():
                        reply.request_id = event.request_id
                    case StatusEvent():
                        if not reply.started:
                            await status.show(status_text(event))
                    case SourcesEvent():
                        sources = event.sources
                    case ReasoningEvent():
                        pass  # thinking is never posted
                    case AnswerEvent():
                        if not reply.started:
                            await status.clear()
                        await reply.write(cited.add_text(event.text))
                    case CitationEvent():
                        await reply.write(cited.add_citation(event))
                    case DoneEvent():
                        await reply.write(cited.finish())
                        await status.clear()
                        blocks = closing_blocks(sources, event.cited, event.flags, reply.request_id)
                        await reply.finish(blocks, empty_text=NO_ANSWER)
                    case ErrorEvent():
                        await reply.write(cited.finish())
                        note = _failure_note(event.message, event.retryable, reply)
                        await self._fail(reply, status, note)
                    case _:
                        assert_never(event)

    async def _fail(self, reply: SlackReply, status: ThreadStatus, note: str) -> None:
        try:
            await status.clear()
            await reply.fail(note)
        except Exception:
            log.exception("could not post the failure of answer %s", reply.request_id)

    async def feedback(self, value: str, user: str) -> None:
        """Count a feedback click (``/metrics``) and log it with the answer's id."""
        parsed = parse_feedback(value)
        if parsed is None:
            log.warning("unreadable feedback value %r", value)
            return
        rating, request_id = parsed
        log.info("feedback %s on answer %s from %s", rating, request_id, user)
        try:
            await self._state.counters.incr(FEEDBACK_COUNTER, {"rating": rating})
        except SearchQAError as exc:
            log.warning("could not count feedback: %s", exc)

    async def aclose(self, timeout_s: float = 15.0) -> None:
        """Let running work finish (answers end on their own when the sessions drain)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


_RESTARTING = "the server is shutting down"
_INTERNAL = "something went wrong on our side"


def _failure_note(message: str, retryable: bool, reply: SlackReply) -> str:
    again = " Please ask again." if retryable else ""
    reason = escape_text(message.rstrip("."))
    return (
        f":warning: I could not finish this answer: {reason}.{again} (request `{reply.request_id}`)"
    )
