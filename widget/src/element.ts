/** `<searchqa-answer>`: the answer box, a custom element with an open shadow root. */
import { linkCitations } from "./citations";
import type { Source, StreamEvent, Turn } from "./events";
import { endpointUrl } from "./options";
import { AnswerRenderer } from "./render";
import { safeUrl } from "./sanitize";
import { matches, parseShortcut, type Shortcut } from "./shortcut";
import { HttpError, StreamLostError, streamAnswer } from "./stream";
import { langOf, stringsFor, type Lang, type Strings } from "./strings";
import { styleSheet } from "./styles";
import { buildView, el, label, type View } from "./view";

export interface AnswerResult {
  status: "done" | "error" | "stopped";
  question: string;
  answer: string;
  sources: Source[];
  error?: { code: string; message: string };
}

interface Run {
  question: string;
  history: Turn[];
  controller: AbortController;
  renderer: AnswerRenderer;
  sources: Map<number, Source>;
  result: AnswerResult | null;
}

const MAX_HISTORY_TURNS = 20;
const COPIED_MS = 2000;
let defaultEndpoint = "";

/** Where answers come from when no `endpoint` is set: the origin that served widget.js. */
export function setDefaultEndpoint(url: string): void {
  defaultEndpoint = url;
}

function problemText(error: unknown, strings: Strings): { code: string; message: string; wait: number | null } {
  if (error instanceof HttpError) {
    if (error.status === 429) {
      return { code: "rate_limited", message: strings.errors.rateLimited(error.retryAfterS), wait: error.retryAfterS };
    }
    if (error.status === 401 || error.status === 403) {
      return { code: "refused", message: strings.errors.refused(error.detail), wait: null };
    }
    return { code: `http_${error.status}`, message: strings.errors.server(error.detail), wait: null };
  }
  if (error instanceof StreamLostError) return { code: "lost", message: strings.errors.lost, wait: null };
  if (error instanceof TypeError) return { code: "network", message: strings.errors.network, wait: null };
  return { code: "unknown", message: strings.errors.server(String(error)), wait: null };
}

export class SearchQAAnswer extends HTMLElement {
  static get observedAttributes(): string[] {
    return ["lang", "placeholder", "shortcut"];
  }

  private readonly view: View;
  private strings: Strings = stringsFor("en");
  private current: Run | null = null;
  private conversation: Turn[] = [];
  private shortcut: Shortcut | null = null;
  private retryTimer = 0;
  private copyTimer = 0;

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.adoptedStyleSheets = [styleSheet()];
    this.view = buildView(root);
    this.wire();
    this.refresh();
  }

  connectedCallback(): void {
    this.refresh();
    document.addEventListener("keydown", this.onShortcut);
  }

  disconnectedCallback(): void {
    document.removeEventListener("keydown", this.onShortcut);
    this.halt(this.current, false);
  }

  attributeChangedCallback(): void {
    this.refresh();
  }

  /** Asks `question` as a new conversation; resolves when the answer ends (never rejects). */
  ask(question: string): Promise<AnswerResult> {
    if (typeof question !== "string") throw new TypeError("ask(question): the question must be a string");
    const text = question.trim();
    if (!text) throw new RangeError("ask(question): the question is empty");
    this.view.input.value = text;
    this.conversation = [];
    return this.start(text, []);
  }

  /** Stops the answer being streamed, if any. */
  stop(): void {
    this.halt(this.current, true);
  }

  private get uiLang(): Lang {
    const own = langOf(this.getAttribute("lang"));
    if (own) return own;
    const page = this.parentElement?.closest("[lang]")?.getAttribute("lang") ?? document.documentElement.lang;
    return langOf(page) ?? "en";
  }

  private refresh(): void {
    const lang = this.uiLang;
    this.strings = stringsFor(lang);
    this.view.box.lang = lang === "zh" ? "zh-CN" : "en";
    label(this.view, this.strings, this.getAttribute("placeholder"));
    const spec = this.getAttribute("shortcut");
    this.shortcut = null;
    if (spec) {
      try {
        this.shortcut = parseShortcut(spec);
      } catch (error) {
        console.warn(`<searchqa-answer>: ${(error as Error).message}; no shortcut`);
      }
    }
  }

  private wire(): void {
    const v = this.view;
    v.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = v.input.value.trim();
      if (text) void this.ask(text);
      else v.input.focus();
    });
    v.followForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = v.followup.value.trim();
      if (!text) return v.followup.focus();
      v.followup.value = "";
      void this.start(text, this.conversation);
    });
    v.retry.addEventListener("click", () => {
      const run = this.current;
      if (run) void this.start(run.question, run.history);
    });
    v.copy.addEventListener("click", () => void this.copyAnswer());
    v.box.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      const cite = (event.target as Element).closest?.(".cite");
      if (cite) return cite.classList.add("dismissed");
      if (this.current && !this.current.result) {
        event.preventDefault();
        this.stop();
      }
    });
    const place = (event: Event): void => {
      const cite = (event.target as Element).closest?.(".cite");
      const card = cite?.querySelector(".card");
      if (!cite || !card) return;
      cite.classList.remove("dismissed", "flip");
      if (card.getBoundingClientRect().right > document.documentElement.clientWidth - 4) cite.classList.add("flip");
    };
    v.answer.addEventListener("pointerover", place);
    v.answer.addEventListener("focusin", place);
  }

  private readonly onShortcut = (event: KeyboardEvent): void => {
    if (!this.shortcut || !matches(this.shortcut, event)) return;
    event.preventDefault();
    this.view.input.focus();
    this.view.input.select();
  };

  private start(question: string, history: Turn[]): Promise<AnswerResult> {
    this.halt(this.current, false);
    const v = this.view;
    const renderer = new AnswerRenderer(v.answer, (nodes) => linkCitations(nodes, run.sources, this.strings));
    const run: Run = { question, history, controller: new AbortController(), renderer, sources: new Map(), result: null };
    this.current = run;
    this.reset(question);
    const endpointAttr = this.getAttribute("endpoint") ?? defaultEndpoint;
    const endpoint = endpointUrl(endpointAttr);
    const apiKey = this.getAttribute("api-key");
    if (endpoint === null) return Promise.resolve(this.fail(run, "bad_endpoint", this.strings.errors.endpoint(endpointAttr)));
    if (apiKey?.startsWith("sk_")) return Promise.resolve(this.fail(run, "secret_key", this.strings.errors.secretKey));
    v.answer.setAttribute("aria-busy", "true");
    return streamAnswer({
      endpoint,
      apiKey,
      body: { query: question, history },
      signal: run.controller.signal,
      onEvent: (event) => this.current === run && this.onEvent(run, event),
      onReconnect: () => this.current === run && this.setStatus(this.strings.reconnecting),
    })
      .then(() => run.result ?? this.fail(run, "lost", this.strings.errors.lost))
      .catch((error: unknown) => {
        if (run.controller.signal.aborted) return this.stopped(run);
        const problem = problemText(error, this.strings);
        return this.fail(run, problem.code, problem.message, problem.wait);
      })
      .finally(() => {
        if (this.current === run) v.answer.removeAttribute("aria-busy");
      });
  }

  private reset(question: string): void {
    const v = this.view;
    clearTimeout(this.retryTimer);
    v.question.textContent = question;
    v.question.hidden = false;
    this.setStatus(this.strings.stage.search);
    v.reasoning.hidden = true;
    v.reasoning.open = false;
    v.thought.data = "";
    v.answer.replaceChildren();
    v.error.hidden = true;
    v.retry.disabled = false;
    v.sources.replaceChildren();
    v.sourcesBox.hidden = true;
    v.actions.hidden = true;
    v.followForm.hidden = true;
    v.announcer.textContent = "";
  }

  private setStatus(text: string): void {
    this.view.status.textContent = text;
    this.view.status.hidden = !text;
  }

  private onEvent(run: Run, event: StreamEvent): void {
    const v = this.view;
    switch (event.type) {
      case "status":
        this.setStatus(
          event.stage === "fetch" && event.total > 0
            ? this.strings.fetching(event.done, event.total)
            : this.strings.stage[event.stage] ?? "",
        );
        break;
      case "sources":
        for (const source of event.sources) run.sources.set(source.index, source);
        this.showSources(run);
        break;
      case "reasoning":
        v.reasoning.hidden = false;
        v.thought.appendData(event.text);
        break;
      case "answer":
        run.renderer.append(event.text);
        break;
      case "citation":
        if (!run.sources.has(event.index)) {
          const site = safeUrl(event.url) ? new URL(event.url).hostname : "";
          run.sources.set(event.index, { index: event.index, url: event.url, title: event.title, site, snippet: "" });
          this.showSources(run);
        }
        break;
      case "done":
        run.renderer.finish();
        run.result = this.result(run, "done");
        this.setStatus(event.flags.includes("no_sources") ? this.strings.noSources : this.strings.done(run.sources.size));
        v.actions.hidden = false;
        v.followForm.hidden = false;
        v.announcer.textContent = this.strings.announceDone(run.sources.size);
        this.conversation = [
          ...run.history,
          { role: "user" as const, content: run.question },
          { role: "assistant" as const, content: run.renderer.markdown },
        ].slice(-MAX_HISTORY_TURNS);
        this.dispatchEvent(new CustomEvent("searchqa-done", { detail: run.result, bubbles: true }));
        break;
      case "error":
        run.renderer.finish();
        this.fail(run, event.code, this.strings.errors.server(event.message));
        break;
      default:
        break;
    }
  }

  private showSources(run: Run): void {
    const items = [...run.sources.values()].sort((a, b) => a.index - b.index).map((source) => {
      const href = safeUrl(source.url);
      const title = el(href ? "a" : "span", { text: source.title || source.url });
      if (href && title instanceof HTMLAnchorElement) {
        title.href = href;
        title.target = "_blank";
        title.rel = "noopener noreferrer";
      }
      const item = el("li", { part: "source", attrs: { value: String(source.index) } }, [title]);
      if (source.site) item.append(el("span", { className: "site", text: source.site }));
      return item;
    });
    this.view.sources.replaceChildren(...items);
    this.view.sourcesBox.hidden = items.length === 0;
  }

  private result(run: Run, status: AnswerResult["status"], error?: AnswerResult["error"]): AnswerResult {
    const sources = [...run.sources.values()].sort((a, b) => a.index - b.index);
    return { status, question: run.question, answer: run.renderer.markdown, sources, error };
  }

  private fail(run: Run, code: string, message: string, wait: number | null = null): AnswerResult {
    if (run.result) return run.result;
    run.result = this.result(run, "error", { code, message });
    if (this.current !== run) return run.result;
    const v = this.view;
    this.setStatus("");
    v.errorText.textContent = message;
    v.error.hidden = false;
    if (wait !== null && wait > 0) {
      v.retry.disabled = true;
      this.retryTimer = window.setTimeout(() => (v.retry.disabled = false), wait * 1000);
    }
    this.dispatchEvent(new CustomEvent("searchqa-error", { detail: run.result, bubbles: true }));
    return run.result;
  }

  private stopped(run: Run): AnswerResult {
    run.result ??= this.result(run, "stopped");
    return run.result;
  }

  /** Aborts `run`; `visible` says so in the status line and keeps what was rendered. */
  private halt(run: Run | null, visible: boolean): void {
    if (!run || run.result) return;
    run.controller.abort();
    run.renderer.cancel();
    this.stopped(run);
    if (visible && this.current === run) {
      run.renderer.finish();
      this.setStatus(this.strings.stopped);
      this.view.answer.removeAttribute("aria-busy");
    }
  }

  private async copyAnswer(): Promise<void> {
    const run = this.current;
    if (!run) return;
    const lines = [...run.sources.values()].map((s) => `[${s.index}] ${s.title} ${s.url}`);
    const text = lines.length ? `${run.renderer.markdown}\n\n${this.strings.sources}:\n${lines.join("\n")}` : run.renderer.markdown;
    let ok = true;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      ok = false;
    }
    this.view.copy.textContent = ok ? this.strings.copied : this.strings.copyFailed;
    clearTimeout(this.copyTimer);
    this.copyTimer = window.setTimeout(() => (this.view.copy.textContent = this.strings.copy), COPIED_MS);
  }
}
