/**
 * Streams Markdown into an element, re-rendering only the live tail each animation frame.
 *
 * Text is lexed from the end of the last frozen block. Every block but the last `LIVE_BLOCKS`
 * is finished: rendered once, sanitised, appended, and never touched again. The live blocks are
 * rendered, sanitised and swapped in as a whole each frame, so a half-streamed payload is
 * sanitised like any other. Each block is sanitised on its own, so raw HTML left open in one
 * block (`<style>`, `<svg>`) cannot swallow or restyle the blocks after it, in partial and final
 * renders alike. `finish()` compares the result with a render of the whole answer and replaces
 * the DOM only if they differ (a reference definition arriving after its use, say).
 */
import type { Token } from "marked";
import { lex, toHtml, toNodes, type Links } from "./markdown";

/** Blocks kept live: a block just begun may still join the one before (`1. a` then `2`). */
const LIVE_BLOCKS = 2;

export type Decorate = (nodes: DocumentFragment) => void;

interface Rendered {
  html: string;
  nodes: DocumentFragment;
}

export class AnswerRenderer {
  private text = "";
  private carriageReturn = false;
  private frozenLength = 0;
  private frozenHtml = "";
  private tailHtml = "";
  private tail: Node[] = [];
  private readonly links: Links = Object.create(null) as Links;
  private frame = 0;
  /** Blocks rendered so far, partial renders included (for tests and benchmarks). */
  renders = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly decorate: Decorate = () => undefined,
  ) {}

  /** The Markdown so far (line ends normalised to `\n`). */
  get markdown(): string {
    return this.text;
  }

  /** Adds streamed text; the DOM follows at the next animation frame. */
  append(delta: string): void {
    let chunk = (this.carriageReturn ? "\r" : "") + delta;
    this.carriageReturn = chunk.endsWith("\r");
    if (this.carriageReturn) chunk = chunk.slice(0, -1);
    this.text += chunk.replace(/\r\n?/g, "\n");
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Renders the pending text now. */
  flush(): void {
    this.cancel();
    const tokens = lex(this.text.slice(this.frozenLength), this.links);
    const blocks = tokens.flatMap((token, index) => (token.type === "space" ? [] : [index]));
    let live: Token[] = tokens;
    if (blocks.length > LIVE_BLOCKS) {
      const cut = blocks[blocks.length - LIVE_BLOCKS];
      if (this.freeze(tokens.slice(0, cut), tokens.links)) live = tokens.slice(cut);
    }
    const rendered = this.render(live);
    this.tailHtml = rendered.html;
    for (const node of this.tail) node.parentNode?.removeChild(node);
    this.tail = Array.from(rendered.nodes.childNodes);
    this.root.append(rendered.nodes);
  }

  /** Renders the rest, then makes sure the result is what the whole answer renders to. */
  finish(): void {
    if (this.carriageReturn) this.text += "\n";
    this.carriageReturn = false;
    this.flush();
    const whole = this.render(lex(this.text), false);
    if (whole.html !== this.frozenHtml + this.tailHtml) {
      this.root.replaceChildren(this.decorated(whole.nodes));
      this.frozenHtml = whole.html;
      this.tailHtml = "";
      this.tail = [];
    }
  }

  /** Drops a pending frame (a newer answer took over, or the text is being rendered now). */
  cancel(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  private freeze(tokens: Token[], links: Links): boolean {
    const raw = tokens.map((token) => token.raw).join("");
    if (!this.text.startsWith(raw, this.frozenLength)) return false; // lexer disagreed; stay live
    const rendered = this.render(tokens);
    const before = this.tail[0] ?? null;
    this.root.insertBefore(rendered.nodes, before && before.parentNode === this.root ? before : null);
    this.frozenLength += raw.length;
    this.frozenHtml += rendered.html;
    for (const token of tokens) {
      if (token.type === "def" && !(token.tag in this.links)) this.links[token.tag] = links[token.tag];
    }
    return true;
  }

  /** Each block rendered and sanitised on its own; nodes decorated unless `decorate` is false. */
  private render(tokens: Token[], decorate = true): Rendered {
    let html = "";
    const nodes = document.createDocumentFragment();
    for (const token of tokens) {
      if (token.type === "space") continue;
      const block = toHtml([token]);
      html += block;
      nodes.append(toNodes(block, token.raw));
      this.renders += 1;
    }
    return { html, nodes: decorate ? this.decorated(nodes) : nodes };
  }

  private decorated(nodes: DocumentFragment): DocumentFragment {
    this.decorate(nodes);
    return nodes;
  }
}
