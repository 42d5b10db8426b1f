/** The box's words in English and Chinese. */

export type Lang = "en" | "zh";

export interface Strings {
  ask: string;
  placeholder: string;
  followup: string;
  send: string;
  question: string;
  answer: string;
  thinking: string;
  sources: string;
  copy: string;
  copied: string;
  copyFailed: string;
  retry: string;
  image: string;
  stage: Record<"search" | "fetch" | "read" | "think" | "answer", string>;
  fetching: (done: number, total: number) => string;
  reconnecting: string;
  stopped: string;
  done: (sources: number) => string;
  noSources: string;
  announceDone: (sources: number) => string;
  source: (index: number, title: string) => string;
  errors: {
    network: string;
    lost: string;
    rateLimited: (seconds: number | null) => string;
    refused: (detail: string) => string;
    server: (detail: string) => string;
    secretKey: string;
    endpoint: (value: string) => string;
  };
}

const EN: Strings = {
  ask: "Ask",
  placeholder: "Ask a question",
  followup: "Ask a follow-up",
  send: "Send",
  question: "Question",
  answer: "Answer",
  thinking: "Thinking",
  sources: "Sources",
  copy: "Copy",
  copied: "Copied",
  copyFailed: "Could not copy",
  retry: "Retry",
  image: "image",
  stage: {
    search: "Searching the web…",
    fetch: "Reading pages…",
    read: "Reading pages…",
    think: "Thinking…",
    answer: "Writing the answer…",
  },
  fetching: (done, total) => `Reading pages (${done}/${total})…`,
  reconnecting: "Connection lost; reconnecting…",
  stopped: "Stopped.",
  done: (n) => (n === 1 ? "Answered from 1 source." : `Answered from ${n} sources.`),
  noSources: "No web sources were found; this answer comes from the model alone.",
  announceDone: (n) => (n === 1 ? "Answer ready, 1 source." : `Answer ready, ${n} sources.`),
  source: (index, title) => `Source ${index}: ${title}`,
  errors: {
    network: "The answer service could not be reached.",
    lost: "The connection was lost before the answer was complete.",
    rateLimited: (s) =>
      s === null ? "Too many questions; try again later." : `Too many questions; try again in ${s} s.`,
    refused: (detail) => `The answer service refused this page: ${detail}`,
    server: (detail) => `The answer failed: ${detail}`,
    secretKey: "This is a secret key: never put it in a page. Use a publishable key (pk_…).",
    endpoint: (value) => `The endpoint ${JSON.stringify(value)} is not an http(s) URL.`,
  },
};

const ZH: Strings = {
  ask: "提问",
  placeholder: "输入问题",
  followup: "继续追问",
  send: "发送",
  question: "问题",
  answer: "回答",
  thinking: "思考过程",
  sources: "来源",
  copy: "复制",
  copied: "已复制",
  copyFailed: "复制失败",
  retry: "重试",
  image: "图片",
  stage: {
    search: "正在搜索网页…",
    fetch: "正在阅读网页…",
    read: "正在阅读网页…",
    think: "正在思考…",
    answer: "正在撰写回答…",
  },
  fetching: (done, total) => `正在阅读网页（${done}/${total}）…`,
  reconnecting: "连接中断，正在重新连接…",
  stopped: "已停止。",
  done: (n) => `已根据 ${n} 个来源作答。`,
  noSources: "没有找到网页来源，此回答仅来自模型。",
  announceDone: (n) => `回答完成，共 ${n} 个来源。`,
  source: (index, title) => `来源 ${index}：${title}`,
  errors: {
    network: "无法连接到问答服务。",
    lost: "回答尚未完成，连接已中断。",
    rateLimited: (s) => (s === null ? "提问过于频繁，请稍后再试。" : `提问过于频繁，请在 ${s} 秒后重试。`),
    refused: (detail) => `问答服务拒绝了此页面：${detail}`,
    server: (detail) => `回答失败：${detail}`,
    secretKey: "这是私密密钥，切勿放在网页中。请使用公开密钥（pk_…）。",
    endpoint: (value) => `服务地址 ${JSON.stringify(value)} 不是 http(s) 网址。`,
  },
};

/** `en` or `zh` from a language tag (`zh-CN`, `zh-Hant`, `en-GB`, ...); null when it is neither. */
export function langOf(tag: string | null | undefined): Lang | null {
  const base = (tag ?? "").trim().toLowerCase().split(/[-_]/)[0];
  if (base === "zh") return "zh";
  if (base === "en") return "en";
  return null;
}

export function stringsFor(lang: Lang): Strings {
  return lang === "zh" ? ZH : EN;
}
