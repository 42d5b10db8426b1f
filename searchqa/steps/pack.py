"""Fitting pages into the model's context: the token budget, then each page's most relevant text."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from searchqa.documents import Page
from searchqa.errors import InvalidRequestError
from searchqa.settings import PackSettings
from searchqa.steps.passages import Passage, join_passages, rank_passages, split_passages
from searchqa.tokens import TokenCounter, count_each

SAFETY_TOKENS = 64
"""Kept free in every context: the chat template's own tokens and rounding."""
TOKENIZER_DRIFT = 0.05
"""Prompt tokens count this share extra: R1's distills use Qwen's or Llama's vocabulary, which
spends a few percent more tokens than DeepSeek's on the same text."""
MIN_OUTPUT_TOKENS = 256
"""Below this the model cannot even finish thinking: the request is refused instead."""
MIN_SPILL_TOKENS = 48
"""Leftover worth filling with the start of the best passage that did not fit whole (a page
that kept no whole passage always gets that start)."""
SEPARATOR_TOKENS = 1
"""What the blank line between two passages costs."""
PASSAGE_MEMO_PAGES = 256
"""Pages whose passages are remembered: cached pages come back with other questions."""
LOOKAHEAD_TOKENS = 512
"""Passages counted ahead in one tokenizer call, by estimate, at least (see ``_Costs``)."""


_OPEN, _CLOSE, _INSIDE = "[\\[［【〔]", "[\\]］】〕]", "[^\\]］】〕\\n]"
_MARKER = re.compile(
    rf"{_OPEN}\s*(?:web\s*page{_INSIDE}{{0,24}}?(?:begin|end)\w{{0,4}}|citation\b{_INSIDE}{{0,40}}"
    rf"|file\s*(?:name|content\s*(?:begin|end)))\s*{_CLOSE}"
    r"|[<‹＜][｜|][^<>\n｜|]{1,48}[｜|][>›＞]"  # chat-control tokens: <｜Assistant｜>, <|im_start|>
    r"|[<‹＜]\s*/?\s*think\s*[>›＞]",  # R1's reasoning tags
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Budget:
    """Tokens for the model's reply and for page text, as ``plan_budget`` decided them."""

    max_tokens: int
    """Output budget sent to the model."""
    pages_tokens: int
    """All page text together."""
    page_tokens: int
    """Cap per page."""
    page_floor_tokens: int = 0
    """A page gets at least this much (or all its text) or is left out, lowest-ranked first."""


def plan_budget(
    *,
    context_length: int | None,
    overhead_tokens: int,
    page_count: int,
    max_tokens: int,
    settings: PackSettings,
) -> Budget:
    """Split the context between the reply and the pages.

    ``overhead_tokens`` is the rest of the prompt: template, question and block headers. Pages
    want ``min(total_tokens, page_count * page_tokens)``. Prompt tokens count ``TOKENIZER_DRIFT``
    extra and ``SAFETY_TOKENS`` stay free. Then, in order:

    1. Context unknown, or everything fits: the reply gets ``max_tokens``, pages what they want.
    2. The reply shrinks from ``max_tokens`` towards ``min_output_tokens``; pages stay whole.
    3. The reply holds at ``min_output_tokens`` and page text shrinks, to nothing if need be
       (pack_context keeps fewer pages rather than cutting each below ``page_floor_tokens``).
    4. No page text at all: the reply gets what is left, at most ``max_tokens``.
    5. Less than ``MIN_OUTPUT_TOKENS`` left even so: InvalidRequestError(context_too_small).
    """
    cap = settings.page_tokens
    floor = min(settings.page_floor_tokens, cap)
    wanted = min(settings.total_tokens, page_count * cap)
    if context_length is None:
        return Budget(max_tokens, wanted, cap, floor)

    def output_room(pages: int) -> int:
        prompt = math.ceil((overhead_tokens + pages) * (1 + TOKENIZER_DRIFT))
        return context_length - SAFETY_TOKENS - prompt

    kept_output = min(max_tokens, settings.min_output_tokens)
    if output_room(wanted) >= kept_output:
        return Budget(min(max_tokens, output_room(wanted)), wanted, cap, floor)
    room = context_length - SAFETY_TOKENS - kept_output
    pages = math.floor(room / (1 + TOKENIZER_DRIFT)) - overhead_tokens
    while pages > 0 and output_room(pages) < kept_output:  # float rounding, at most a step
        pages -= 1
    if pages > 0:
        return Budget(kept_output, pages, min(cap, pages), floor)
    output = min(max_tokens, output_room(0))
    if output >= min(max_tokens, MIN_OUTPUT_TOKENS):
        return Budget(output, 0, 0, floor)
    raise InvalidRequestError(
        f"the prompt needs {overhead_tokens} tokens, leaving no room for an answer "
        f"in the model's {context_length}-token context",
        code="context_too_small",
        http_status=413,
    )


def sanitize_page_text(text: str) -> str:
    """Remove what imitates the prompt's markup, so page text cannot fake a block or a citation.

    Strips ``[webpage N begin]`` and ``[webpage N end]``, ``[citation:N]`` in every variant
    (spacing, case, several numbers, full-width brackets and colons, ``[citation needed]``),
    the file template's ``[file name]`` and ``[file content begin]`` markers, chat-control
    tokens such as ``<｜Assistant｜>`` (look-alike brackets too) and R1's ``<think>`` tags.
    Repeats until nothing matches, so removing one marker cannot assemble another.
    """
    while (cleaned := _MARKER.sub("", text)) != text:
        text = cleaned
    return text


@functools.lru_cache(maxsize=PASSAGE_MEMO_PAGES)
def page_passages(text: str) -> tuple[Passage, ...]:
    """The passages of a page's text, sanitized (remembered for the last pages asked)."""
    return tuple(split_passages(sanitize_page_text(text)))


def pack_context(
    pages: Sequence[Page], *, question: str, budget: Budget, counter: TokenCounter
) -> list[Page]:
    """The pages cut to the budget, in their original (search rank) order; empty ones dropped.

    Text is sanitized, then shared out by ``allot_shares``. A page longer than its share keeps
    the passages most relevant to the question (``rank_passages``), back in page order.
    """
    if budget.pages_tokens <= 0 or budget.page_tokens <= 0:
        return []
    prepared = [(page, ps) for page in pages if (ps := page_passages(page.text))]
    estimates = [sum(p.estimate for p in passages) for _, passages in prepared]
    # Exact counts only for pages that may fit whole; the others get passages picked anyway.
    first = _shares(estimates, budget)
    whole = [
        position
        for position, (estimate, share) in enumerate(zip(estimates, first, strict=True))
        if estimate <= 1.25 * share
    ]
    exact: list[int | None] = [None] * len(prepared)
    texts = [join_passages(prepared[position][1]) for position in whole]
    for position, whole_count in zip(whole, count_each(counter, texts), strict=True):
        exact[position] = whole_count
    needs = [e if e is not None else est for e, est in zip(exact, estimates, strict=True)]
    packed = []
    for (page, passages), count, share in zip(prepared, exact, _shares(needs, budget), strict=True):
        if count is not None and count <= share:
            text = join_passages(passages)
        else:
            text = _select(passages, question, share, counter) if share > 0 else ""
        if text:
            packed.append(
                replace(
                    page,
                    title=sanitize_page_text(page.title),
                    snippet=sanitize_page_text(page.snippet),
                    text=text,
                )
            )
    return packed


def _shares(needs: Sequence[int], budget: Budget) -> list[int]:
    return allot_shares(
        needs, total=budget.pages_tokens, cap=budget.page_tokens, floor=budget.page_floor_tokens
    )


def allot_shares(needs: Sequence[int], *, total: int, cap: int, floor: int = 0) -> list[int]:
    """Water-fill ``total`` over pages: short ones get what they need, long ones split the rest.

    Each share is at most ``cap``. Pages are kept in order while each can still get
    ``min(need, floor)``; the rest get 0 (the first page is always kept).
    """
    wants = [min(need, cap) for need in needs]
    kept, reserved = 0, 0
    for want in wants:
        if kept and reserved + min(want, floor) > total:
            break
        reserved, kept = reserved + min(want, floor), kept + 1
    shares, remaining = [0] * len(wants), total
    for position, index in enumerate(sorted(range(kept), key=wants.__getitem__)):
        shares[index] = min(wants[index], remaining // (kept - position))
        remaining -= shares[index]
    return shares


def _select(passages: Sequence[Passage], question: str, share: int, counter: TokenCounter) -> str:
    """The most relevant passages that fit in ``share`` tokens, in page order.

    Each kept passage costs its own count plus ``SEPARATOR_TOKENS``: BPE merges across a
    passage boundary only ever saved tokens when measured, so the joined text fits without
    being counted again.
    """
    chosen: dict[int, str] = {}
    used, spill = -SEPARATOR_TOKENS, None
    order = rank_passages(passages, question)
    costs = _Costs(passages, order, counter)
    for position, index in enumerate(order):
        room = share - used - SEPARATOR_TOKENS
        if room < SEPARATOR_TOKENS + 4:
            break
        passage = passages[index]
        # Far too long for what is left: skip it without paying for an exact count.
        if _may_fit(passage, room) and (cost := costs.of(position, room)) <= room:
            chosen[index] = passage.text
            used += cost + SEPARATOR_TOKENS
        elif spill is None:
            spill = index
    room = share - used - SEPARATOR_TOKENS
    if spill is not None and (room >= MIN_SPILL_TOKENS or not chosen):
        chosen[spill] = _clean_cut(counter.truncate(passages[spill].text, room))
    return join_passages(
        passages, {index: chosen[index] for index in sorted(chosen) if chosen[index]}
    )


def _may_fit(passage: Passage, room: int) -> bool:
    """Whether the passage's estimate leaves it a chance to fit in ``room`` tokens."""
    return passage.estimate <= 2 * room + 16


class _Costs:
    """Exact counts of a page's passages, asked in rank order and counted ahead in batches.

    Asked for the passage at ``position``, it counts that one together with the next ones
    that may fit, until their estimates add up to a quarter more than ``room`` (at least
    ``LOOKAHEAD_TOKENS``): a few tokenizer calls per page where there were one per passage.
    Passages whose estimate rules them out now are left out: the room only shrinks, so the
    one-by-one pick would skip them too. The pick is the same; a little more text is counted.
    """

    def __init__(
        self, passages: Sequence[Passage], order: list[int], counter: TokenCounter
    ) -> None:
        self._passages = passages
        self._order = order
        self._counter = counter
        self._known: dict[int, int] = {}

    def of(self, position: int, room: int) -> int:
        if position not in self._known:
            batch, planned = [], 0
            for ahead in range(position, len(self._order)):
                passage = self._passages[self._order[ahead]]
                if ahead in self._known or not _may_fit(passage, room):
                    continue
                batch.append(ahead)
                planned += passage.estimate + SEPARATOR_TOKENS
                if planned >= max(room + room // 4, LOOKAHEAD_TOKENS):
                    break
            texts = [self._passages[self._order[ahead]].text for ahead in batch]
            self._known.update(zip(batch, count_each(self._counter, texts), strict=True))
        return self._known[position]


_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)|[。！？；]")


def _clean_cut(prefix: str) -> str:
    """Back a token-level cut up to the last sentence end, else word end, in its second half."""
    prefix = prefix.rstrip()
    ends = [match.end() for match in _SENTENCE_END.finditer(prefix, len(prefix) // 2)]
    space = prefix.rfind(" ", len(prefix) // 2)
    return prefix[: ends[-1]] if ends else prefix[:space] if space > 0 else prefix
