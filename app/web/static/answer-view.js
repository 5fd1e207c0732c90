// One turn of the conversation on the page: the question, the answer as it streams (Markdown,
// each [n] a chip that opens its source with the supporting passage highlighted), the claims
// the sources do not support (withheld from the answer, shown flagged with the closest
// passage), the sources, and the turn's actions. Rendering only: chat.js owns the turns.

import { $, h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { openSource } from "./passage.js";

const PARTS = {
  extractive: "From your documents, word for word",
  generator: "The model's answer, checked against them",
};

export function turnView(question) {
  const answer = h("div", { class: "answer is-streaming", "aria-busy": "true" },
    h("span", { class: "pending" }, "Searching your documents"));
  const view = {
    rewritten: h("p", { class: "rewritten", hidden: true }),
    answer,
    sources: h("div", { class: "sources" }),
    actions: h("div", { class: "turn-actions", hidden: true }),
    meta: h("p", { class: "meta" }),
  };
  const avatar = h("div", { class: "avatar" }, document.querySelector(".logo").cloneNode(true));
  view.el = h("article", { class: "turn" },
    h("div", { class: "question" }, h("p", {}, question)),
    h("div", { class: "reply" }, avatar, h("div", { class: "reply-body" },
      view.rewritten, answer, view.sources, view.actions, view.meta)));
  return view;
}

// The answer: runs of shown text (one block per part: extractive, generator) and, where they
// came, the claims no source supports.
export function renderAnswer(turn) {
  const parts = new Set(turn.segments.map((s) => s.claim?.part).filter(Boolean));
  const blocks = [];
  let run = [];
  let part = null;
  const flush = () => {
    if (run.length) blocks.push(textBlock(turn, run, parts.size > 1 ? PARTS[part] : null));
    run = [];
  };
  for (const segment of turn.segments) {
    if (segment.flagged) {
      flush();
      blocks.push(flagged(turn, segment.flagged));
      continue;
    }
    const next = segment.claim?.part ?? part;
    if (run.length && next !== part) flush();
    part = next;
    run.push(segment);
  }
  flush();
  if (!blocks.length) return;
  if (!turn.finished) blocks.push(h("span", { class: "pending" }, "Checking against the sources"));
  turn.view.answer.replaceChildren(...blocks);
}

function textBlock(turn, run, label) {
  const claims = run.flatMap((s) => [...s.text.matchAll(/\[(\d+)\]/g)].map(() => s.claim));
  const text = run.map((s) => s.text).join("").trim();
  const body = h("div", { class: "answer-text" },
    renderMarkdown(text, (n, i) => citeChip(turn, n, claims[i])));
  return h("div", { class: "answer-part" }, label ? h("p", { class: "part-label" }, label) : null,
    body);
}

function flagged(turn, claim) {
  const missing = claim.missing.length ? ` They do not mention ${claim.missing.join(", ")}.` : "";
  const closest = claim.support && turn.sources.get(claim.support.source);
  return h("div", { class: "flagged", role: "note" },
    h("p", { class: "flag-label" },
      h("strong", {}, "Not supported by the sources — withheld from the answer."), missing),
    h("blockquote", { class: "flag-text" }, claim.text),
    closest ? h("p", { class: "flag-closest" }, "Closest passage: ",
      chip(closest, { ...claim.support, kind: "closest" }, "the closest passage")) : null);
}

function citeChip(turn, number, claim) {
  const source = turn.sources.get(number);
  if (!source) return null;
  const supports = claim?.support?.source === number;
  const span = supports ? { ...claim.support, kind: "support" }
    : source.passage ? { ...source.passage, kind: "match" } : null;
  return chip(source, span, supports ? "the passage that supports this" : null);
}

function chip(source, span, what) {
  const label = `Source ${source.number}: ${source.title || "Untitled"}${what ? `, ${what}` : ""}`;
  const button = h("button", { type: "button", class: "cite", "aria-label": label },
    String(source.number));
  button.addEventListener("click", () => openSource(source, button, span));
  return button;
}

// Cited sources, then the others; when the sources do not hold the answer, the closest
// passages, each with the sentences that matched.
export function renderSources(turn, cited = new Set(), noAnswer = false) {
  const all = [...turn.sources.values()];
  const row = (s) => h("li", { class: "source" },
    chip(s, s.passage ? { ...s.passage, kind: "match" } : null, null),
    h("span", { class: "source-label" },
      h("span", { class: "source-name" }, s.title || "Untitled"),
      h("span", { class: "source-where" }, where(s)),
      noAnswer && s.passage ? h("span", { class: "source-passage" },
        Array.from(s.text).slice(s.passage.start, s.passage.end).join("")) : null));
  const used = all.filter((s) => cited.has(s.number));
  const other = all.filter((s) => !cited.has(s.number));
  const parts = [];
  if (used.length) parts.push(h("h2", {}, "Cited sources"), h("ul", {}, used.map(row)));
  if (other.length) {
    const title = noAnswer ? "Closest passages" : used.length ? "Also consulted" : "Consulted";
    const cls = noAnswer ? null : "is-muted";
    parts.push(h("h2", { class: noAnswer ? null : "muted" }, title),
      h("ul", { class: cls }, other.map(row)));
  }
  turn.view.sources.replaceChildren(...parts);
}

const where = (s) => [s.section, s.page ? `p. ${s.page}` : null].filter(Boolean).join(" · ");

export function renderDone(turn, done) {
  turn.view.answer.classList.toggle("is-no-answer", done.no_answer);
  renderSources(turn, new Set(done.citations), done.no_answer);
  const share = done.supported_share;
  const dropped = done.dropped_citations;
  const by = done.mode === "extractive" ? "quoted from the sources, no model" : `model: ${done.model}`;
  turn.view.meta.textContent = [by, done.reranker && `reranker: ${done.reranker}`,
    share !== null && share < 1 ? `${Math.round(share * 100)} % of the model's claims supported`
      : null,
    dropped && `${dropped} invalid citation(s) removed`].filter(Boolean).join(" · ");
}

export function renderRewritten(turn, question) {
  turn.view.rewritten.hidden = !question?.text;
  turn.view.rewritten.textContent = question?.text ? `Searched for: ${question.text}` : "";
}

export function showNotice(turn, text, isError) {
  if (!turn.segments.length) turn.view.answer.replaceChildren();
  turn.view.answer.append(h("p", { class: `notice${isError ? " is-error" : ""}`,
    role: isError ? "alert" : null }, text));
}

export function setActions(turn, actions) {
  turn.view.actions.hidden = !actions.length;
  turn.view.actions.replaceChildren(...actions.map(([label, name, onclick]) =>
    h("button", { type: "button", class: "btn btn-quiet btn-sm", "aria-label": name, onclick },
      label)));
}

// Plain text of the answer with its cited sources, for the clipboard.
export function plainText(turn) {
  const cited = [...turn.sources.values()].filter((s) => turn.done?.citations.includes(s.number));
  const lines = cited.map((s) => `[${s.number}] ${s.title}${where(s) ? ` — ${where(s)}` : ""}`);
  return [turn.text.trim(), lines.length ? `Sources:\n${lines.join("\n")}` : ""]
    .filter(Boolean).join("\n\n");
}

// Whether the conversation is scrolled to (near) its end: then it follows what is added.
export function nearEnd() {
  const thread = $("thread");
  return thread.scrollHeight - thread.scrollTop - thread.clientHeight < 120;
}

export function scrollToEnd() {
  $("thread").scrollTop = $("thread").scrollHeight;
}
