/**
 * The one way model HTML reaches the page: DOMPurify with an allow-list, returning Trusted Types.
 *
 * Only text formatting survives: no forms, inputs, buttons, media, SVG/MathML, styles or ids.
 * Links keep `http:`, `https:` and `mailto:` targets only and open in a new tab with
 * `rel="noopener noreferrer"`. Nothing that loads a resource is allowed, so an answer cannot
 * leak anything through an image URL. The sanitised HTML is parsed in an inert `<template>`.
 */
import DOMPurify, { type Config } from "dompurify";

const ALLOWED_TAGS = [
  "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "dl", "dt", "em",
  "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "mark", "ol", "p", "pre",
  "q", "s", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
  "th", "thead", "tr", "u", "ul", "var",
];
const ALLOWED_ATTR = ["href", "title", "start", "reversed", "colspan", "rowspan", "align", "lang", "dir"];
export const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);
/** Trusted Types policy name; a page that lists policies must allow it. */
export const POLICY_NAME = "searchqa";

/** The URL if it is absolute and http(s) or mailto; null otherwise. */
export function safeUrl(value: string | null): string | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return SAFE_SCHEMES.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function hardenLinks(node: Element): void {
  if (node.nodeName !== "A") return;
  const href = safeUrl(node.getAttribute("href"));
  if (href === null) {
    node.removeAttribute("href");
    return;
  }
  node.setAttribute("href", href);
  node.setAttribute("target", "_blank");
  node.setAttribute("rel", "noopener noreferrer");
}

function createPolicy(): TrustedTypePolicy | undefined {
  const factory = (window as { trustedTypes?: TrustedTypePolicyFactory }).trustedTypes;
  if (!factory) return undefined;
  try {
    // Used by DOMPurify only: to parse its input in an inert document and to sign its output.
    const rules = { createHTML: (s: string) => s, createScriptURL: (s: string) => s };
    return factory.createPolicy(POLICY_NAME, rules) as unknown as TrustedTypePolicy;
  } catch {
    return undefined; // the page does not allow this name; DOMPurify tries its own
  }
}

let purifier: ReturnType<typeof DOMPurify> | null = null;

function instance(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier;
  const purify = DOMPurify(window);
  const config: Config = {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP: /^(?:https?|mailto):/i,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    RETURN_TRUSTED_TYPE: true,
    TRUSTED_TYPES_POLICY: createPolicy(),
  };
  purify.setConfig(config);
  purify.addHook("afterSanitizeAttributes", hardenLinks);
  purifier = purify;
  return purify;
}

/** `html` sanitised, as nodes parsed in an inert template (nothing loads or runs). */
export function sanitizedFragment(html: string): DocumentFragment {
  const clean = instance().sanitize(html) as unknown as TrustedHTML | string;
  const template = document.createElement("template");
  template.innerHTML = clean as string;
  return template.content;
}
