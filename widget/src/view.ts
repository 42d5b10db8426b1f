/** The box's elements inside the shadow root, each exposed as a `::part()`. */
import type { Strings } from "./strings";

export interface View {
  box: HTMLDivElement;
  form: HTMLFormElement;
  input: HTMLInputElement;
  submit: HTMLButtonElement;
  question: HTMLParagraphElement;
  status: HTMLParagraphElement;
  reasoning: HTMLDetailsElement;
  reasoningLabel: HTMLElement;
  thought: Text;
  answer: HTMLDivElement;
  error: HTMLDivElement;
  errorText: HTMLSpanElement;
  retry: HTMLButtonElement;
  sourcesBox: HTMLElement;
  sourcesHeading: HTMLHeadingElement;
  sources: HTMLOListElement;
  actions: HTMLDivElement;
  copy: HTMLButtonElement;
  followForm: HTMLFormElement;
  followup: HTMLInputElement;
  followSubmit: HTMLButtonElement;
  announcer: HTMLDivElement;
}

interface Props {
  part?: string;
  className?: string;
  attrs?: Record<string, string>;
  text?: string;
  hidden?: boolean;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  children: Node[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.part) node.setAttribute("part", props.part);
  if (props.className) node.className = props.className;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  if (props.text !== undefined) node.textContent = props.text;
  if (props.hidden) node.hidden = true;
  node.append(...children);
  return node;
}

export function buildView(root: ShadowRoot): View {
  const input = el("input", { part: "input", attrs: { type: "text", autocomplete: "off", enterkeyhint: "search", maxlength: "2000" } });
  const submit = el("button", { part: "submit", attrs: { type: "submit" } });
  const form = el("form", { part: "form", attrs: { role: "search" } }, [input, submit]);
  const question = el("p", { part: "question", className: "question", hidden: true });
  const status = el("p", { part: "status", className: "status", hidden: true });
  const reasoningLabel = el("summary");
  const thought = document.createTextNode("");
  const reasoning = el("details", { part: "reasoning", hidden: true }, [
    reasoningLabel,
    el("div", { className: "thought" }, [thought]),
  ]);
  const answer = el("div", { part: "answer", className: "answer", attrs: { role: "log", "aria-live": "off" } });
  const errorText = el("span");
  const retry = el("button", { part: "retry", className: "quiet", attrs: { type: "button" } });
  const error = el("div", { part: "error", className: "error", attrs: { role: "alert" }, hidden: true }, [errorText, retry]);
  const sourcesHeading = el("h2", { attrs: { id: "sqa-sources-heading" } });
  const sources = el("ol", { part: "sources", className: "sources", attrs: { "aria-labelledby": "sqa-sources-heading" } });
  const sourcesBox = el("section", { className: "sources-box", hidden: true }, [sourcesHeading, sources]);
  const copy = el("button", { part: "copy", className: "quiet", attrs: { type: "button" } });
  const actions = el("div", { className: "actions", hidden: true }, [copy]);
  const followup = el("input", { part: "followup", attrs: { type: "text", autocomplete: "off", enterkeyhint: "send", maxlength: "2000" } });
  const followSubmit = el("button", { part: "followup-submit", attrs: { type: "submit" } });
  const followForm = el("form", { part: "followup-form", hidden: true }, [followup, followSubmit]);
  const announcer = el("div", { className: "visually-hidden", attrs: { role: "status", "aria-live": "polite" } });
  const box = el("div", { part: "box", className: "box" }, [
    form, question, status, reasoning, answer, error, actions, sourcesBox, followForm, announcer,
  ]);
  root.append(box);
  return {
    box, form, input, submit, question, status, reasoning, reasoningLabel, thought, answer, error,
    errorText, retry, sourcesBox, sourcesHeading, sources, actions, copy, followForm, followup,
    followSubmit, announcer,
  };
}

/** Puts the words of `strings` on the view. */
export function label(view: View, strings: Strings, placeholder: string | null): void {
  view.input.placeholder = placeholder || strings.placeholder;
  view.input.setAttribute("aria-label", placeholder || strings.placeholder);
  view.submit.textContent = strings.ask;
  view.reasoningLabel.textContent = strings.thinking;
  view.answer.setAttribute("aria-label", strings.answer);
  view.retry.textContent = strings.retry;
  view.sourcesHeading.textContent = strings.sources;
  view.copy.textContent = strings.copy;
  view.followup.placeholder = strings.followup;
  view.followup.setAttribute("aria-label", strings.followup);
  view.followSubmit.textContent = strings.send;
}
