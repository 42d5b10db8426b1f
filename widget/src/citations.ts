/**
 * `[n]` in rendered answer text becomes a superscript link to source n with a preview card
 * (title, site, snippet). Built by walking the sanitised nodes and creating elements: source
 * data only ever becomes text, never markup.
 */
import type { Source } from "./events";
import { safeUrl } from "./sanitize";
import type { Strings } from "./strings";

const MARKER = /\[(\d{1,3})\]/g;
const SKIP = new Set(["A", "CODE", "PRE", "KBD", "SAMP"]);
const SNIPPET_CHARS = 240;
let cards = 0;

function skipped(node: Node, root: Node): boolean {
  for (let el = node.parentNode; el && el !== root; el = el.parentNode) {
    if (SKIP.has(el.nodeName)) return true;
  }
  return false;
}

function span(className: string, text: string): HTMLSpanElement {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}

function citation(source: Source, href: string, strings: Strings): HTMLElement {
  const id = `sqa-card-${++cards}`;
  const sup = document.createElement("sup");
  sup.className = "cite";
  const link = document.createElement("a");
  link.setAttribute("part", "citation");
  link.href = href;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.textContent = String(source.index);
  link.setAttribute("aria-label", strings.source(source.index, source.title || source.site));
  link.setAttribute("aria-describedby", id);
  const card = document.createElement("span");
  card.className = "card";
  card.id = id;
  card.setAttribute("role", "tooltip");
  card.setAttribute("part", "card");
  const snippet = source.snippet.length > SNIPPET_CHARS ? `${source.snippet.slice(0, SNIPPET_CHARS)}…` : source.snippet;
  card.append(span("card-title", source.title || source.url), span("card-site", source.site), span("card-snippet", snippet));
  sup.append(link, card);
  return sup;
}

/** Replaces `[n]` markers naming a known source with citation links, in place. */
export function linkCitations(root: Node, sources: ReadonlyMap<number, Source>, strings: Strings): void {
  if (sources.size === 0) return;
  const found: Text[] = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    MARKER.lastIndex = 0;
    if (MARKER.test((node as Text).data) && !skipped(node, root)) found.push(node as Text);
  }
  for (const text of found) {
    const parts = document.createDocumentFragment();
    let at = 0;
    for (const match of text.data.matchAll(MARKER)) {
      const source = sources.get(Number(match[1]));
      const href = source ? safeUrl(source.url) : null;
      if (!source || href === null || !/^https?:/.test(href)) continue;
      const start = match.index ?? 0;
      parts.append(text.data.slice(at, start), citation(source, href, strings));
      at = start + match[0].length;
    }
    if (at === 0) continue;
    parts.append(text.data.slice(at));
    text.replaceWith(parts);
  }
}
