/** Markdown to sanitised nodes: marked (GFM), then the allow-list in `sanitize.ts`. */
import { Marked, type Token, type Tokens, type TokensList } from "marked";
import { sanitizedFragment } from "./sanitize";

export type Links = TokensList["links"];

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    // Images are never loaded (an image URL can carry data out): they become plain links.
    image({ href, title, text }: Tokens.Image): string {
      const label = text.trim() || href;
      const titled = title ? ` title="${escapeHtml(title)}"` : "";
      return `<a href="${escapeHtml(href)}"${titled}>${escapeHtml(label)}</a>`;
    },
    // Task-list boxes would be <input> elements, which the sanitiser drops.
    checkbox({ checked }: Tokens.Checkbox): string {
      return checked ? "☑ " : "☐ ";
    },
  },
});

/** Block tokens of `src`, knowing the reference definitions `links` seen before it. */
export function lex(src: string, links?: Links): TokensList {
  const lexer = new marked.Lexer(marked.defaults);
  if (links) Object.assign(lexer.tokens.links, links);
  return lexer.lex(src);
}

/** The HTML marked makes of `tokens` (not yet sanitised). */
export function toHtml(tokens: Token[]): string {
  return marked.parser(tokens) as string;
}

/** Sanitised nodes for `html`; plain text if rendering is refused (e.g. by a Trusted Types rule). */
export function toNodes(html: string, fallbackText: string): DocumentFragment {
  try {
    return sanitizedFragment(html);
  } catch {
    const fragment = document.createDocumentFragment();
    const paragraph = document.createElement("p");
    paragraph.textContent = fallbackText;
    fragment.append(paragraph);
    return fragment;
  }
}
