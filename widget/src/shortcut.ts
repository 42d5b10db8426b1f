/** An optional keyboard shortcut that focuses the box (off unless `shortcut` is set). */

export interface Shortcut {
  key: string;
  ctrl: boolean;
  alt: boolean;
  shift: boolean;
  meta: boolean;
}

const MODIFIERS = new Set(["ctrl", "control", "alt", "option", "shift", "meta", "cmd", "mod"]);

/** Parses `"/"`, `"ctrl+k"`, `"mod+k"` (⌘ on Apple, Ctrl elsewhere), `"alt+shift+a"`; throws on nonsense. */
export function parseShortcut(spec: string): Shortcut {
  const parts = spec.toLowerCase().split("+").map((part) => part.trim());
  // "ctrl++" names the plus key
  if (parts.length > 1 && parts[parts.length - 1] === "" && parts[parts.length - 2] === "") parts.splice(-2, 2, "+");
  const key = parts.pop() ?? "";
  const apple = /mac|iphone|ipad/i.test(navigator.platform || navigator.userAgent);
  const shortcut: Shortcut = { key, ctrl: false, alt: false, shift: false, meta: false };
  if (!key || MODIFIERS.has(key)) throw new TypeError(`shortcut ${JSON.stringify(spec)} names no key`);
  for (const part of parts) {
    if (part === "ctrl" || part === "control") shortcut.ctrl = true;
    else if (part === "alt" || part === "option") shortcut.alt = true;
    else if (part === "shift") shortcut.shift = true;
    else if (part === "meta" || part === "cmd") shortcut.meta = true;
    else if (part === "mod") shortcut[apple ? "meta" : "ctrl"] = true;
    else throw new TypeError(`shortcut ${JSON.stringify(spec)}: unknown modifier ${JSON.stringify(part)}`);
  }
  return shortcut;
}

function typingIn(event: KeyboardEvent): boolean {
  const target = event.composedPath()[0];
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/** Whether `event` is `shortcut`; a bare key never fires while the user types in a field. */
export function matches(shortcut: Shortcut, event: KeyboardEvent): boolean {
  if (event.defaultPrevented || event.isComposing || event.key.toLowerCase() !== shortcut.key) return false;
  if (event.ctrlKey !== shortcut.ctrl || event.altKey !== shortcut.alt || event.metaKey !== shortcut.meta) return false;
  const letter = /^[a-z0-9]$/.test(shortcut.key);
  if ((letter || shortcut.shift) && event.shiftKey !== shortcut.shift) return false;
  const bare = !shortcut.ctrl && !shortcut.alt && !shortcut.meta;
  return !(bare && typingIn(event));
}
