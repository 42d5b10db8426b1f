// Render cost per streamed token in the browser: the widget's tail-block renderer against
// re-rendering the whole answer for every token (the same marked + DOMPurify + citation pass).
// Built with esbuild by bench/widget.py and run in Chromium.
import { linkCitations } from "../widget/src/citations";
import type { Source } from "../widget/src/events";
import { lex, toHtml, toNodes } from "../widget/src/markdown";
import { AnswerRenderer } from "../widget/src/render";
import { stringsFor } from "../widget/src/strings";

const strings = stringsFor("en");
const sources = new Map<number, Source>(
  [1, 2, 3, 4, 5].map((index) => [
    index,
    { index, url: `https://example.org/page/${index}`, title: `Page ${index}`, site: "example.org", snippet: "A snippet." },
  ]),
);

const PARTS = [
  "## Caching in HTTP\n\nBrowsers keep a copy of a response and reuse it while it is fresh [1]. " +
    "Freshness comes from `Cache-Control: max-age` or, failing that, a heuristic on `Last-Modified` [2][3].\n\n",
  "- **Validation**: a stale copy is revalidated with `If-None-Match` and an `ETag` [2].\n" +
    "- **Sharing**: `private` keeps a response out of shared caches such as CDNs [4].\n" +
    "- **Vary**: the cache key grows by the named request headers [1].\n\n",
  "A typical setup for hashed assets:\n\n```nginx\nlocation /assets/ {\n  add_header Cache-Control \"public, max-age=31536000, immutable\";\n}\n```\n\n",
  "| directive | meaning |\n|---|---|\n| `no-store` | never keep a copy [5] |\n| `no-cache` | keep, but revalidate first [2] |\n\n",
  "> A response without validators cannot be revalidated; it must be fetched again in full [3].\n\n",
  "In short, long lifetimes with content hashes in the URL, and short lifetimes with validators " +
    "for HTML, give the best mix of speed and freshness [1][4].\n\n",
];

function answerOf(bytes: number): string {
  let text = "";
  for (let i = 0; text.length < bytes; i++) text += PARTS[i % PARTS.length];
  return text.slice(0, bytes);
}

function tokensOf(text: string): string[] {
  return text.match(/\s*[^\s]{1,5}|\s+/g) ?? [];
}

function wholeRender(root: HTMLElement, text: string): void {
  const nodes = toNodes(toHtml(lex(text)), text);
  linkCitations(nodes, sources, strings);
  root.replaceChildren(nodes);
}

interface Result {
  bytes: number;
  tokens: number;
  tailMsPerToken: number;
  tailMaxMs: number;
  wholeMsPerToken: number;
  wholeSampled: number;
  sameText: boolean;
}

function run(bytes: number, wholeSamples: number): Result {
  const text = answerOf(bytes);
  const tokens = tokensOf(text);
  const tailRoot = document.createElement("div");
  const wholeRoot = document.createElement("div");
  document.body.append(tailRoot, wholeRoot);

  const renderer = new AnswerRenderer(tailRoot, (nodes) => linkCitations(nodes, sources, strings));
  let tailMax = 0;
  const tailStart = performance.now();
  for (const token of tokens) {
    const t0 = performance.now();
    renderer.append(token);
    renderer.flush();
    tailMax = Math.max(tailMax, performance.now() - t0);
  }
  const tailMs = performance.now() - tailStart;
  renderer.finish();

  // Every k-th prefix, spread evenly: the mean of these is the mean over all tokens.
  const step = Math.max(1, Math.floor(tokens.length / wholeSamples));
  let prefix = "";
  let wholeMs = 0;
  let sampled = 0;
  for (let i = 0; i < tokens.length; i++) {
    prefix += tokens[i];
    if (i % step !== step - 1 && i !== tokens.length - 1) continue;
    const t0 = performance.now();
    wholeRender(wholeRoot, prefix);
    wholeMs += performance.now() - t0;
    sampled += 1;
  }
  const sameText = tailRoot.textContent === wholeRoot.textContent;
  tailRoot.remove();
  wholeRoot.remove();
  return {
    bytes,
    tokens: tokens.length,
    tailMsPerToken: tailMs / tokens.length,
    tailMaxMs: tailMax,
    wholeMsPerToken: wholeMs / sampled,
    wholeSampled: sampled,
    sameText,
  };
}

(window as unknown as { renderBench: typeof run }).renderBench = run;
