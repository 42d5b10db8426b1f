/**
 * searchqa's answer box: `<script src="https://HOST/widget.js" defer></script>`, then
 * `<searchqa-answer api-key="pk_…"></searchqa-answer>`, or `SearchQA.mount(element, options)`.
 */
import { SearchQAAnswer, setDefaultEndpoint, type AnswerResult } from "./element";
import { checkOptions, type MountOptions } from "./options";
import { parseShortcut } from "./shortcut";

const TAG = "searchqa-answer";
const VERSION = "0.1.0";

function scriptOrigin(): string {
  const script = document.currentScript;
  if (script instanceof HTMLScriptElement && script.src) return new URL(script.src).origin;
  return location.origin;
}

/** Makes (or configures) a box in `target`: an element or a CSS selector. */
function mount(target: Element | string, options?: MountOptions): SearchQAAnswer {
  const host = typeof target === "string" ? document.querySelector(target) : target;
  if (!(host instanceof Element)) {
    throw new TypeError("SearchQA.mount: the first argument must be an element, or a selector that matches one");
  }
  const attributes = checkOptions(options);
  for (const [name, value] of attributes) if (name === "shortcut") parseShortcut(value);
  const box = host instanceof SearchQAAnswer ? host : (document.createElement(TAG) as SearchQAAnswer);
  for (const [name, value] of attributes) box.setAttribute(name, value);
  if (box !== host) host.append(box);
  return box;
}

interface SearchQAGlobal {
  version: string;
  mount: typeof mount;
}

declare global {
  interface Window {
    SearchQA?: SearchQAGlobal;
  }
  interface HTMLElementTagNameMap {
    [TAG]: SearchQAAnswer;
  }
}

export type { AnswerResult, MountOptions };

if (!customElements.get(TAG)) {
  setDefaultEndpoint(scriptOrigin());
  customElements.define(TAG, SearchQAAnswer);
  window.SearchQA = Object.freeze({ version: VERSION, mount });
}
