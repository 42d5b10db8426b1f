/** The event stream of `POST /v1/answer`, as the widget reads it (fields it uses). */

export interface Source {
  index: number;
  url: string;
  title: string;
  site: string;
  snippet: string;
  published?: string | null;
}

export type Stage = "search" | "fetch" | "read" | "think" | "answer";

export type StreamEvent =
  | { type: "meta"; request_id: string; query: string; language: string }
  | { type: "status"; stage: Stage; done: number; total: number }
  | { type: "sources"; sources: Source[] }
  | { type: "reasoning"; text: string }
  | { type: "answer"; text: string }
  | { type: "citation"; index: number; url: string; title: string; offset: number }
  | {
      type: "done";
      answer: string;
      cited: number[];
      cached: boolean;
      flags: string[];
      timings: { total_ms: number };
    }
  | { type: "error"; code: string; message: string; retryable: boolean };

export interface Turn {
  role: "user" | "assistant";
  content: string;
}

const KNOWN = new Set(["meta", "status", "sources", "reasoning", "answer", "citation", "done", "error"]);

/** The event in one SSE `data` field; null for anything that is not one of ours. */
export function parseEvent(data: string): StreamEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const type = (value as { type?: unknown }).type;
  return typeof type === "string" && KNOWN.has(type) ? (value as StreamEvent) : null;
}
