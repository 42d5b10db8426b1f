"""The web widget in real Chromium, on a host page of another origin, against ``searchqa serve``.

One browser and one server for the module. The host page loads ``/widget.js`` and talks to the
API through a relay (``widget_support.Relay``) that can cut connections; the strict page carries
the embedding CSP with Trusted Types enforced. Screenshots land in each test's tmp folder.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    Request,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from searchqa.api.widget_routes import BUNDLE_PATH
from tests.e2e.conftest import World
from tests.e2e.widget_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Relay,
    Script,
    attacker_server,
    host_app,
)
from tests.e2e.widget_xss import xss_answer
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.served import ServeProcess
from tests.fakes.server import BackgroundServer, serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import fake_web_app

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")

PUBLISHABLE = "pk_widget_browser_test"
LIMITED = "pk_widget_one_question"
SECRET = "sk_widget_test_reader"
KEYS = f"""
[[keys]]
name = "browser"
kind = "publishable"
key = "{PUBLISHABLE}"
origins = ["http://127.0.0.1:*"]
rate_limit = 0

[[keys]]
name = "limited"
kind = "publishable"
key = "{LIMITED}"
origins = ["http://127.0.0.1:*"]
rate_limit = 1

[[keys]]
name = "reader"
key = "{SECRET}"
"""
WAIT_MS = 20_000
WATCH = """
window.__violations = [];
window.__done = [];
window.__errors = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
document.addEventListener('searchqa-done', (e) => window.__done.push(e.detail));
document.addEventListener('searchqa-error', (e) => window.__errors.push(e.detail));
"""
SHADOW = "document.querySelector('searchqa-answer').shadowRoot"
GARDENS = (
    "Gardens cool the block [citation:1], and caching keeps pages fresh [citation:2].\n\n"
    "- Shade lowers the heat\n- Water evaporates\n\nThat is all **for now**."
)


@dataclass
class Stack:
    world: World
    script: Script
    server: ServeProcess
    relay: Relay
    host: BackgroundServer
    browser: Browser
    urls: tuple[str, str]

    def page_url(self, kind: str = "strict", **attributes: str) -> str:
        query = {"endpoint": self.relay.url, "api-key": PUBLISHABLE} | attributes
        return f"{self.host.url}/{kind}?{urlencode(query)}"

    def chats(self) -> list[dict[str, Any]]:
        return [r.body for r in self.world.llm.requests if r.path.endswith("/chat/completions")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("widget")
    (home / "keys.toml").write_text(KEYS, encoding="utf-8")
    script = Script()
    searx, llm = FakeSearxng(), FakeSGLang(responder=script)
    with (
        serve(fake_web_app()) as web,
        serve(searx.app()) as searx_server,
        serve(llm.app()) as llm_server,
        Relay() as relay,
        serve(host_app(relay.url)) as host,
    ):
        urls = (f"{web.url}/notes.txt", f"{web.url}/readme.md")
        searx.results = [
            searx_result(urls[0], "Garden notes", "Gardens cool blocks."),
            searx_result(urls[1], "Caching readme", "How caching works.", position=2),
        ]
        world = World(web, searx, searx_server, llm, llm_server, home)
        env = world.env(
            SEARCHQA_AUTH__KEYS_FILE=str(home / "keys.toml"),
            SEARCHQA_SERVER__GRACE_S="1",
            SEARCHQA_SERVER__KEEPALIVE_S="0.5",
        )
        server = ServeProcess(home, env)
        relay.target = server.url
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
                yield Stack(world, script, server, relay, host, browser, urls)
                browser.close()
        finally:
            server.stop()


@dataclass
class Watched:
    """A page and everything it did that a test may not want: dialogs, errors, requests."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    failed: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request))
        self.page.on("requestfailed", lambda request: self.failed.append(request))
        self.page.add_init_script(WATCH)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__violations")
        return found

    def assert_clean(self) -> None:
        assert self.dialogs == []
        assert self.page_errors == []
        assert self.console_errors == []
        assert self.violations() == []


@pytest.fixture
def open_page(stack: Stack) -> Iterator[Callable[..., Watched]]:
    contexts = []

    def opener(url: str, **context_options: Any) -> Watched:
        options = {"viewport": {"width": 900, "height": 900}} | context_options
        context = stack.browser.new_context(**options)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        contexts.append(context)
        watched = Watched(context.new_page())
        watched.page.goto(url)
        watched.page.wait_for_function("window.SearchQA !== undefined")
        return watched

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True)
def _fresh_model(stack: Stack) -> None:
    llm = stack.world.llm
    llm.token_delay_s, llm.error_after_chunks, llm.chunk_chars = 0.002, None, ()
    stack.script.replies.clear()


class Box:
    """The widget on a page, seen through its parts."""

    def __init__(self, watched: Watched, index: int = 0) -> None:
        self.page = watched.page
        self.host = self.page.locator("searchqa-answer").nth(index)

    def part(self, name: str) -> Locator:
        return self.host.locator(f"[part~={name}]")

    def ask(self, question: str) -> None:
        self.part("input").fill(question)
        self.part("input").press("Enter")

    def wait_done(self, count: int = 1) -> dict[str, Any]:
        try:
            self.page.wait_for_function(
                "n => window.__done.length >= n", arg=count, timeout=WAIT_MS
            )
        except PlaywrightTimeout:
            raise AssertionError(f"no answer; the box says: {self.describe()}") from None
        done: dict[str, Any] = self.page.evaluate("n => window.__done[n - 1]", count)
        return done

    def describe(self) -> str:
        state: str = self.page.evaluate(
            f"[...{SHADOW}.querySelectorAll('[part]')].filter(e => !e.hidden)"
            ".map(e => e.getAttribute('part') + ': ' + e.textContent.slice(0, 200)).join(' | ')"
        )
        return state

    def wait_for_text(self, minimum: int) -> str:
        self.page.wait_for_function(
            f"n => {SHADOW}.querySelector('[part~=answer]').textContent.length >= n",
            arg=minimum,
            timeout=WAIT_MS,
        )
        return self.part("answer").inner_text()

    def focused_part(self) -> str | None:
        part: str | None = self.page.evaluate(
            f"{SHADOW}.activeElement && {SHADOW}.activeElement.getAttribute('part')"
        )
        return part

    def tab_to(self, part: str, limit: int = 30) -> None:
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if self.focused_part() == part:
                return
        raise AssertionError(f"Tab never reached {part}")


def expected_text(answer: str) -> str:
    return re.sub(r"\[citation:(\d+)\]", r"[\1]", answer)


def test_the_bundle_and_the_demo_page_are_served(
    stack: Stack, open_page: Callable[..., Watched]
) -> None:
    bundle = BUNDLE_PATH.read_bytes()
    etag = f'"{hashlib.sha256(bundle).hexdigest()[:32]}"'
    with httpx.Client(base_url=stack.server.url, trust_env=False) as http:
        plain = http.get("/widget.js", headers={"Accept-Encoding": "identity"})
        assert (plain.status_code, plain.content, plain.headers["etag"]) == (200, bundle, etag)
        assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
        assert "max-age" in plain.headers["cache-control"]
        again = http.get(
            "/widget.js", headers={"Accept-Encoding": "identity", "If-None-Match": etag}
        )
        assert (again.status_code, again.content) == (304, b"")
        packed = http.get("/widget.js", headers={"Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.content == bundle  # httpx inflated it
        assert len(gzip.compress(bundle)) < 50 * 1024
        demo = http.get("/", params={"key": 'pk_"><script>'})
        assert demo.status_code == 200
        assert "script-src 'self'" in demo.headers["content-security-policy"]
        assert 'api-key="pk_&quot;&gt;&lt;script&gt;"' in demo.text

    stack.script.replies["What does the demo page show?"] = (
        "A demo.\n",
        "It shows the box [citation:1].",
    )
    watched = open_page(f"{stack.server.url}/?key={PUBLISHABLE}")
    box = Box(watched)
    box.ask("What does the demo page show?")
    done = box.wait_done()
    assert done["answer"] == "It shows the box [1]."
    assert box.part("citation").get_attribute("href") == stack.urls[0]
    watched.assert_clean()


def test_a_question_streams_with_citations_sources_and_collapsed_reasoning(
    stack: Stack, open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    question = "How do community gardens cool a city block?"
    reasoning = "I compare the two sources on garden cooling.\n"
    answer = GARDENS + " More detail follows." * 30
    stack.script.replies[question] = (reasoning, answer)
    stack.world.llm.token_delay_s = 0.01
    watched = open_page(stack.page_url("strict"))
    box = Box(watched)
    box.ask(question)

    partial = box.wait_for_text(20)
    assert box.part("answer").get_attribute("aria-busy") == "true"
    assert watched.page.evaluate("window.__done.length") == 0  # it is still streaming
    visible = re.sub(r"\[(\d+)\]", r"\1", expected_text(answer))
    assert visible.startswith(partial[:20])
    done = box.wait_done()

    assert done["answer"] == expected_text(answer)
    assert box.part("answer").get_attribute("aria-busy") is None
    text = box.part("answer").inner_text()
    assert text.startswith("Gardens cool the block 1, and caching keeps pages fresh 2.")
    assert box.part("answer").locator("li").all_inner_texts() == [
        "Shade lowers the heat",
        "Water evaporates",
    ]
    assert box.part("answer").locator("strong").inner_text() == "for now"
    citations = box.part("citation")
    assert [citations.nth(i).get_attribute("href") for i in range(2)] == list(stack.urls)
    assert citations.nth(0).get_attribute("rel") == "noopener noreferrer"
    assert citations.nth(0).get_attribute("target") == "_blank"
    assert citations.nth(0).evaluate("a => a.parentElement.tagName") == "SUP"
    sources = box.part("source")
    assert sources.count() == 2
    assert sources.nth(0).locator("a").get_attribute("href") == stack.urls[0]
    assert "Garden notes" in sources.nth(0).inner_text()

    thinking = box.part("reasoning")
    assert thinking.is_visible()
    assert thinking.evaluate("d => d.open") is False
    assert not thinking.locator(".thought").is_visible()
    thinking.locator("summary").click()
    assert thinking.locator(".thought").inner_text().strip() == reasoning.strip()

    citations.nth(0).hover()
    card = box.host.locator(".card").nth(0)
    assert card.is_visible()
    assert "Garden notes" in card.inner_text()
    assert box.part("status").inner_text() == "Answered from 2 sources."
    assert (
        box.host.locator("[role=status][aria-live=polite]").inner_text()
        == "Answer ready, 2 sources."
    )
    assert box.part("answer").get_attribute("role") == "log"
    watched.page.screenshot(path=tmp_path / "widget-light.png", full_page=True)
    assert (tmp_path / "widget-light.png").stat().st_size > 10_000
    watched.assert_clean()


def background_luminance(box: Box) -> float:
    rgb: list[float] = box.part("box").evaluate(
        "e => getComputedStyle(e).backgroundColor.match(/[\\d.]+/g).slice(0, 3).map(Number)"
    )
    red, green, blue = (channel / 255 for channel in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_dark_mode_fits_a_360px_screen(
    stack: Stack, open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    question = "Why do gardens feel cooler at night?"
    stack.script.replies[question] = ("Night.\n", GARDENS + " " + "Longwordwithoutbreaks" * 8)
    watched = open_page(
        stack.page_url("strict"), viewport={"width": 360, "height": 780}, color_scheme="dark"
    )
    box = Box(watched)
    box.ask(question)
    box.wait_done()
    assert background_luminance(box) < 0.15
    width = watched.page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 360  # nothing spills sideways
    button = box.part("submit").bounding_box()
    assert button is not None
    assert button["x"] + button["width"] <= 360  # the Ask button stays on screen
    watched.page.screenshot(path=tmp_path / "widget-dark-360.png", full_page=True)
    assert (tmp_path / "widget-dark-360.png").stat().st_size > 10_000
    box.host.evaluate("e => e.setAttribute('theme', 'light')")
    assert background_luminance(box) > 0.85  # the attribute wins over the system setting
    box.host.evaluate("e => e.setAttribute('theme', 'dark')")
    assert background_luminance(box) < 0.15
    watched.assert_clean()


def test_a_second_question_stops_the_first(stack: Stack, open_page: Callable[..., Watched]) -> None:
    first, second = "What is slow to answer?", "What is quick to answer?"
    stack.script.replies[first] = ("Slow.\n", "Slow answer words. " * 200)
    stack.script.replies[second] = ("Quick.\n", "The quick answer [citation:1].")
    stack.world.llm.token_delay_s = 0.02
    disconnects = stack.world.llm.disconnects
    watched = open_page(stack.page_url("strict"))
    box = Box(watched)
    box.ask(first)
    box.wait_for_text(20)
    stack.world.llm.token_delay_s = 0.002
    box.ask(second)
    done = box.wait_done()

    assert done["question"] == second
    assert done["answer"] == "The quick answer [1]."
    assert box.part("answer").inner_text() == "The quick answer 1."
    posts = [r for r in watched.failed if r.method == "POST" and r.url.endswith("/v1/answer")]
    assert len(posts) == 1  # the first stream, cut by the widget
    deadline = time.monotonic() + 10
    while stack.world.llm.disconnects == disconnects and time.monotonic() < deadline:
        time.sleep(0.1)  # the server stops generating once its grace period is over
    assert stack.world.llm.disconnects > disconnects
    watched.assert_clean()


def test_a_dropped_connection_resumes_without_losing_or_repeating_text(
    stack: Stack, open_page: Callable[..., Watched]
) -> None:
    question = "How long is a long answer?"
    answer = "".join(f"Sentence number {n} of the long answer. " for n in range(60))
    stack.script.replies[question] = ("Long.\n", answer + "[citation:2]")
    stack.world.llm.token_delay_s = 0.01
    chats = len(stack.chats())
    watched = open_page(stack.page_url("strict"))
    box = Box(watched)
    box.ask(question)
    box.wait_for_text(40)
    stack.relay.drop()
    done = box.wait_done()

    assert done["answer"] == answer + "[2]"
    text = box.part("answer").inner_text()
    assert text == answer + "2"  # once each, in order, nothing missing
    resumes = [r for r in watched.requests if "/v1/answers/" in r.url and r.url.endswith("/events")]
    assert resumes, "the widget never resumed"
    assert re.fullmatch(r".+-\d+", resumes[0].headers["last-event-id"])
    assert len(stack.chats()) == chats + 1  # resumed, not asked again
    answer_id = resumes[0].url.split("/v1/answers/")[1].split("/")[0]
    with httpx.Client(base_url=stack.server.url, trust_env=False) as http:
        doc = http.get(f"/v1/answers/{answer_id}", headers={"X-API-Key": SECRET}).json()
    assert doc["answer"] == done["answer"]
    assert [e for e in watched.console_errors if "ERR_" not in e] == []  # the cut itself is logged
    assert watched.page_errors == []
    assert watched.violations() == []


def test_keyboard_only(stack: Stack, open_page: Callable[..., Watched]) -> None:
    question, follow = "Which keys does the box use?", "And what about the Escape key?"
    stack.script.replies[question] = ("Keys.\n", "Tab and Enter [citation:1]. Also [citation:2].")
    stack.script.replies[follow] = ("Escape.\n", "Escape stops an answer [citation:1].")
    watched = open_page(stack.page_url("strict", shortcut="/"))
    page, box = watched.page, Box(watched)

    page.keyboard.press("/")
    assert box.focused_part() == "input"
    assert box.part("input").input_value() == ""  # the shortcut's key was not typed
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    box.wait_done()

    box.tab_to("submit")
    outline = page.evaluate(f"getComputedStyle({SHADOW}.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.press("Tab")
    assert page.evaluate(f"{SHADOW}.activeElement.tagName") == "SUMMARY"
    page.keyboard.press("Enter")
    assert box.part("reasoning").evaluate("d => d.open") is True
    box.tab_to("citation")
    card = box.host.locator(".card").nth(0)
    assert card.is_visible()
    page.keyboard.press("Escape")
    assert not card.is_visible()
    box.tab_to("copy")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => {SHADOW}.querySelector('[part~=copy]').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Tab and Enter [1]. Also [2].")
    assert f"[1] Garden notes {stack.urls[0]}" in copied
    box.tab_to("followup")
    page.keyboard.type(follow)
    page.keyboard.press("Enter")
    done = box.wait_done(2)

    assert done["answer"] == "Escape stops an answer [1]."
    messages = stack.chats()[-1]["messages"]
    assert "Tab and Enter" in " ".join(str(m.get("content")) for m in messages)  # the history
    watched.assert_clean()


FORBIDDEN = (
    "script, style, iframe, img, svg, math, object, embed, video, audio, source, link, meta, "
    "base, form, input, button, textarea, select, template, details, marquee, noscript, "
    "table[background]"
)
OBSERVE = f"""
(() => {{
  const answer = {SHADOW}.querySelector('[part~=answer]');
  window.__renders = 0;
  window.__bad = [];
  const check = (root) => {{
    for (const el of root.querySelectorAll('*')) {{
      if (el.matches(`{FORBIDDEN}`)) window.__bad.push(el.outerHTML.slice(0, 120));
      for (const attr of el.attributes) {{
        if (/^on/i.test(attr.name) || attr.name === 'style' || attr.name === 'srcdoc') {{
          window.__bad.push(el.outerHTML.slice(0, 120));
        }}
      }}
      if (el.hasAttribute('href') && !/^(https?|mailto):/.test(el.getAttribute('href'))) {{
        window.__bad.push(el.outerHTML.slice(0, 120));
      }}
    }}
  }};
  new MutationObserver(() => {{ window.__renders += 1; check(answer); }})
    .observe(answer, {{ childList: true, subtree: true, attributes: true }});
}})();
"""


def test_a_hostile_answer_runs_nothing_and_loads_nothing(
    stack: Stack, open_page: Callable[..., Watched]
) -> None:
    question = "Show me every XSS payload you know"
    with attacker_server() as (attacker, hits):
        answer = xss_answer(attacker)
        stack.script.replies[question] = ("<img src=x onerror=alert('reasoning')>\n", answer)
        stack.world.llm.chunk_chars = (1, 7, 3, 13, 2, 29, 5)  # cut markup at odd places
        stack.world.llm.token_delay_s = 0.0005
        watched = open_page(stack.page_url("plain"))  # no CSP: only the sanitiser stands guard
        box = Box(watched)
        watched.page.evaluate(OBSERVE)
        box.ask(question)
        done = box.wait_done()
        watched.page.wait_for_timeout(300)  # time for anything that would load late

        assert done["answer"] == expected_text(answer)
        renders = watched.page.evaluate("window.__renders")
        assert renders > 20  # many partial renders, each checked
        assert watched.page.evaluate("window.__bad") == []
        assert watched.page.evaluate("window.__pwned") is None
        assert hits == []
        origins = {stack.host.url, stack.relay.url}
        assert {
            r.url.split("/")[0] + "//" + r.url.split("/")[2] for r in watched.requests
        } <= origins
        text = box.part("answer").inner_text()
        assert "inline link" in text
        assert "html entity link" in text
        assert "unfinished code span" in text
        assert box.part("answer").locator("a:not([href])").count() >= 10  # links kept, targets gone
        thought = box.part("reasoning").locator(".thought")
        assert thought.text_content() == "<img src=x onerror=alert('reasoning')>\n"  # plain text
        watched.assert_clean()


def test_the_rate_limit_says_when_to_retry(stack: Stack, open_page: Callable[..., Watched]) -> None:
    stack.script.replies["First limited question"] = ("One.\n", "One answer [citation:1].")
    watched = open_page(stack.page_url("strict", **{"api-key": LIMITED}))
    box = Box(watched)
    box.ask("First limited question")
    box.wait_done()
    box.ask("Second limited question")
    watched.page.wait_for_function("() => window.__errors.length === 1", timeout=WAIT_MS)
    message = box.part("error").inner_text()
    assert re.search(r"Too many questions; try again in \d+ s\.", message)
    assert box.part("retry").is_disabled()
    assert [e for e in watched.console_errors if "429" not in e] == []
    assert watched.violations() == []


def test_chinese_words_and_a_server_error_with_retry(
    stack: Stack, open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    question = "城市里的社区花园如何降温？"
    stack.script.replies[question] = ("花园。\n", "花园通过遮阴和蒸发降温[citation:1]。")
    stack.world.llm.error_after_chunks = 2
    watched = open_page(stack.page_url("strict", page_lang="zh-CN", lang=""))
    box = Box(watched)
    assert box.part("submit").inner_text() == "提问"
    box.ask(question)
    watched.page.wait_for_function("() => window.__errors.length === 1", timeout=WAIT_MS)
    assert box.part("error").inner_text().startswith("回答失败")
    stack.world.llm.error_after_chunks = None
    box.part("retry").click()
    done = box.wait_done()
    assert done["answer"] == "花园通过遮阴和蒸发降温[1]。"
    assert box.part("status").inner_text() == "已根据 2 个来源作答。"
    watched.page.screenshot(path=tmp_path / "widget-zh.png", full_page=True)
    watched.assert_clean()


MOUNT_ERRORS = """
() => {
  const errors = [];
  const attempt = (f) => {
    try { f(); errors.push(null); } catch (e) { errors.push(`${e.name}: ${e.message}`); }
  };
  const spot = document.getElementById('mount-here');
  attempt(() => SearchQA.mount('#nowhere'));
  attempt(() => SearchQA.mount(spot, { colour: 'red' }));
  attempt(() => SearchQA.mount(spot, { endpoint: 'javascript:alert(1)' }));
  attempt(() => SearchQA.mount(spot, { theme: 'purple' }));
  attempt(() => SearchQA.mount(spot, { shortcut: 'ctrl+' }));
  const box = SearchQA.mount(spot, { endpoint: arguments[0], apiKey: arguments[1], lang: 'en' });
  attempt(() => box.ask(''));
  attempt(() => box.ask(5));
  return errors;
}
"""


def test_mount_and_ask_from_script(stack: Stack, open_page: Callable[..., Watched]) -> None:
    stack.script.replies["Asked from a script"] = ("Script.\n", "From a script [citation:2].")
    watched = open_page(stack.page_url("strict"))
    page = watched.page
    errors = page.evaluate(
        MOUNT_ERRORS.replace("arguments[0]", repr(stack.relay.url)).replace(
            "arguments[1]", repr(PUBLISHABLE)
        )
    )
    assert errors == [
        "TypeError: SearchQA.mount: the first argument must be an element, "
        "or a selector that matches one",
        'TypeError: SearchQA.mount: unknown option "colour" '
        "(known: endpoint, apiKey, lang, placeholder, theme, shortcut)",
        'TypeError: SearchQA.mount: endpoint "javascript:alert(1)" is not an http(s) URL',
        "TypeError: SearchQA.mount: option theme must be one of light, dark, auto",
        'TypeError: shortcut "ctrl+" names no key',
        "RangeError: ask(question): the question is empty",
        "TypeError: ask(question): the question must be a string",
    ]
    mounted = page.locator("#mount-here searchqa-answer")
    assert mounted.evaluate("e => e.shadowRoot.mode") == "open"
    result = mounted.evaluate("e => e.ask('Asked from a script')")
    assert (result["status"], result["answer"]) == ("done", "From a script [2].")
    assert [s["url"] for s in result["sources"]] == list(stack.urls)
    secret = page.evaluate(
        "() => SearchQA.mount(document.body, { apiKey: 'sk_oops' }).ask('Leak?')"
    )
    assert secret["status"] == "error"
    assert secret["error"]["code"] == "secret_key"
    assert not any("Leak" in str(body) for body in stack.chats())
    watched.assert_clean()
