/** `SearchQA.mount(element, options)`: options checked, then written as the element's attributes. */

export interface MountOptions {
  endpoint?: string;
  apiKey?: string;
  lang?: "en" | "zh";
  placeholder?: string;
  theme?: "light" | "dark" | "auto";
  shortcut?: string;
}

export const ATTRIBUTES: Record<keyof MountOptions, string> = {
  endpoint: "endpoint",
  apiKey: "api-key",
  lang: "lang",
  placeholder: "placeholder",
  theme: "theme",
  shortcut: "shortcut",
};

const CHOICES: Partial<Record<keyof MountOptions, string[]>> = {
  lang: ["en", "zh"],
  theme: ["light", "dark", "auto"],
};

/** The endpoint without a trailing slash; null unless it is an absolute http(s) URL. */
export function endpointUrl(value: string): string | null {
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (url.search || url.hash) return null;
    return url.href.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

/** `options` as attribute pairs; throws TypeError naming what is wrong. */
export function checkOptions(options: unknown): [string, string][] {
  if (options === undefined) return [];
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError("SearchQA.mount: options must be an object");
  }
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(options)) {
    if (!(name in ATTRIBUTES)) {
      const known = Object.keys(ATTRIBUTES).join(", ");
      throw new TypeError(`SearchQA.mount: unknown option ${JSON.stringify(name)} (known: ${known})`);
    }
    if (value === undefined) continue;
    if (typeof value !== "string") throw new TypeError(`SearchQA.mount: option ${name} must be a string`);
    const choices = CHOICES[name as keyof MountOptions];
    if (choices && !choices.includes(value)) {
      throw new TypeError(`SearchQA.mount: option ${name} must be one of ${choices.join(", ")}`);
    }
    if (name === "endpoint" && endpointUrl(value) === null) {
      throw new TypeError(`SearchQA.mount: endpoint ${JSON.stringify(value)} is not an http(s) URL`);
    }
    pairs.push([ATTRIBUTES[name as keyof MountOptions], value]);
  }
  return pairs;
}
