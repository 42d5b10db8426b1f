/**
 * Streams one answer: `fetch` POST to `/v1/answer`, SSE parsed with eventsource-parser.
 *
 * A dropped connection (a network error, an end without `done`/`error`, or silence past the idle
 * timeout, as the server sends keep-alives) resumes on `GET /v1/answers/{id}/events` with
 * `Last-Event-ID`, with backoff; events at or before the last seen sequence number are skipped,
 * so no text is lost or repeated. The caller's `AbortSignal` stops everything.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { parseEvent, type StreamEvent } from "./events";

export interface StreamRequest {
  endpoint: string;
  apiKey: string | null;
  body: unknown;
  signal: AbortSignal;
  onEvent: (event: StreamEvent) => void;
  onReconnect: (attempt: number) => void;
  idleTimeoutMs?: number;
  maxRetries?: number;
}

/** The server refused the request: status, problem `detail`, and `Retry-After` in seconds. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfterS: number | null,
  ) {
    super(`HTTP ${status}: ${detail}`);
    this.name = "HttpError";
  }
}

/** The stream could not be resumed (no position yet, the answer expired, retries ran out). */
export class StreamLostError extends Error {
  constructor(readonly reachedServer: boolean) {
    super("the answer stream was lost");
    this.name = "StreamLostError";
  }
}

const IDLE_TIMEOUT_MS = 45_000;
const MAX_RETRIES = 6;
const CLOSE_WAIT_MS = 2000;
const TERMINAL = new Set(["done", "error"]);

interface Position {
  stream: string;
  seq: number;
}

function positionOf(id: string | undefined): Position | null {
  const dash = id ? id.lastIndexOf("-") : -1;
  if (!id || dash <= 0 || !/^\d+$/.test(id.slice(dash + 1))) return null;
  return { stream: id.slice(0, dash), seq: Number(id.slice(dash + 1)) };
}

function abortError(): DOMException {
  return new DOMException("the answer was stopped", "AbortError");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    const stop = (): void => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal.addEventListener("abort", stop, { once: true });
  });
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date). */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

async function refusal(response: Response): Promise<HttpError> {
  let detail = response.statusText || `HTTP ${response.status}`;
  try {
    const problem: unknown = await response.json();
    if (problem && typeof problem === "object") {
      const text = (problem as { detail?: unknown; title?: unknown }).detail;
      if (typeof text === "string" && text) detail = text;
    }
  } catch {
    // not a problem document; keep the status text
  }
  return new HttpError(response.status, detail, retryAfterSeconds(response.headers.get("Retry-After")));
}

class AnswerStream {
  private last: Position | null = null;
  private finished = false;

  constructor(private readonly req: StreamRequest) {}

  async run(): Promise<void> {
    let response = await this.send("POST", "/v1/answer", JSON.stringify(this.req.body));
    if (!response.ok) throw await refusal(response);
    let attempt = 0;
    for (;;) {
      const before = this.last?.seq ?? 0;
      await this.read(response);
      if (this.finished) return;
      if (this.last === null) throw new StreamLostError(true);
      if ((this.last.seq ?? 0) > before) attempt = 0;
      response = await this.resume(() => ++attempt);
    }
  }

  private async resume(nextAttempt: () => number): Promise<Response> {
    const position = this.last as Position;
    const max = this.req.maxRetries ?? MAX_RETRIES;
    for (;;) {
      const attempt = nextAttempt();
      if (attempt > max) throw new StreamLostError(true);
      this.req.onReconnect(attempt);
      await sleep(Math.min(8000, 250 * 2 ** attempt), this.req.signal);
      let response: Response;
      try {
        response = await this.send(
          "GET",
          `/v1/answers/${encodeURIComponent(position.stream)}/events`,
          undefined,
          `${position.stream}-${position.seq}`,
        );
      } catch (error) {
        if (this.req.signal.aborted) throw abortError();
        continue; // still offline
      }
      if (response.status === 200) return response;
      if (response.status === 204) throw new StreamLostError(true); // over, and we missed its end
      if (response.status >= 500 || response.status === 429) continue;
      throw await refusal(response);
    }
  }

  private async send(method: string, path: string, body?: string, lastEventId?: string): Promise<Response> {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.req.apiKey) headers["X-API-Key"] = this.req.apiKey;
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    try {
      return await fetch(this.req.endpoint + path, {
        method,
        headers,
        body,
        signal: this.req.signal,
        cache: "no-store",
        credentials: "omit",
        mode: "cors",
      });
    } catch (error) {
      if (this.req.signal.aborted) throw abortError();
      throw error;
    }
  }

  /** Feeds the body to the parser until a terminal event, the end, a drop or the idle timeout. */
  private async read(response: Response): Promise<void> {
    if (!response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = createParser({ onEvent: (message) => this.accept(message) });
    const idleMs = this.req.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    let timer = 0;
    const arm = (ms: number): void => {
      clearTimeout(timer);
      timer = window.setTimeout(() => void reader.cancel().catch(() => undefined), ms);
    };
    try {
      arm(idleMs);
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        parser.feed(decoder.decode(chunk.value, { stream: true }));
        // After the last event the server closes the stream; wait briefly for that, then leave.
        arm(this.finished ? CLOSE_WAIT_MS : idleMs);
      }
    } catch (error) {
      if (this.req.signal.aborted) throw abortError();
      // a network drop: the caller resumes from the last position
    } finally {
      clearTimeout(timer);
    }
  }

  private accept(message: EventSourceMessage): void {
    if (this.finished) return;
    const position = positionOf(message.id);
    if (position && this.last && position.stream === this.last.stream && position.seq <= this.last.seq) {
      return; // already seen
    }
    const event = parseEvent(message.data);
    if (position) this.last = position;
    if (event === null) return;
    if (TERMINAL.has(event.type)) this.finished = true;
    this.req.onEvent(event);
  }
}

/** Streams the answer to `req.onEvent`; resolves after `done` or `error`. */
export function streamAnswer(req: StreamRequest): Promise<void> {
  return new AnswerStream(req).run();
}
