// The conversation: questions and answers of this tab, in memory only (never in any browser
// storage, never on the server). Each question goes with the earlier turns as its history, so
// a follow-up is understood; the answer streams in (text, then the verdict on each claim) over
// Server-Sent Events. Stop, copy, regenerate and a new conversation.

import {
  nearEnd, plainText, renderAnswer, renderDone, renderRewritten, renderSources, scrollToEnd,
  setActions, showNotice, turnView,
} from "./answer-view.js";
import { $, h, say } from "./dom.js";
import { closeSource } from "./passage.js";
import { errorMessage, send, SessionEnded } from "./session.js";

const MAX_TURNS = 100; // history entries the API takes (app/api/protocol.py)
const MAX_TURN = 16_000; // characters of one entry

const chat = { turns: [], controller: null, scope: () => null, welcome: null };

export function wireChat(scope) {
  chat.scope = scope; // the collections to ask (null: all)
  chat.welcome = $("welcome");
  const form = $("ask-form");
  const box = $("question");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const question = box.value.trim();
    if (!question || chat.controller) return;
    box.value = "";
    box.style.height = "";
    ask(question);
  });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  box.addEventListener("input", () => {
    box.style.height = "auto"; // grow with the text, up to the CSS max-height
    box.style.height = `${box.scrollHeight}px`;
  });
  $("stop").addEventListener("click", () => chat.controller?.abort());
  $("new-conversation").addEventListener("click", newConversation);
  $("close-source").addEventListener("click", closeSource);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("source-panel").hidden) closeSource();
  });
}

function newConversation() {
  chat.controller?.abort();
  chat.turns = [];
  if (!$("source-panel").hidden) closeSource();
  $("thread").replaceChildren(chat.welcome);
  $("new-conversation").hidden = true;
  say("New conversation. The earlier one is gone from this page.");
  $("question").focus();
}

function ask(question) {
  $("welcome")?.remove();
  const turn = { question, view: turnView(question) };
  const previous = chat.turns.at(-1);
  if (previous) setActions(previous, actionsOf(previous, false)); // regenerate: the last only
  chat.turns.push(turn);
  $("thread").append(turn.view.el);
  $("new-conversation").hidden = false;
  scrollToEnd(); // and then follow the answer as it grows, unless the reader scrolls away
  return run(turn);
}

// The earlier turns that were answered, as the API takes them.
function historyBefore(turn) {
  const earlier = chat.turns.slice(0, chat.turns.indexOf(turn)).filter((t) => t.done);
  return earlier.flatMap((t) => [
    { role: "user", content: t.question.slice(0, MAX_TURN) },
    { role: "assistant", content: t.text.slice(0, MAX_TURN) },
  ]).slice(-MAX_TURNS);
}

async function run(turn) {
  Object.assign(turn, { sources: new Map(), segments: [], text: "", done: null, finished: false });
  const controller = (chat.controller = new AbortController());
  setBusy(true);
  say("Searching your documents…");
  try {
    const res = await send("/v1/answer", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question: turn.question, history: historyBefore(turn),
        collections: chat.scope(), stream: true }),
      signal: controller.signal,
      cache: "no-store",
    });
    if (!res.ok) throw new Error(await errorMessage(res));
    for await (const [event, data] of readEvents(res.body)) onEvent(turn, event, data);
    if (!turn.done) throw new Error("The connection closed before the answer was complete.");
  } catch (err) {
    const stopped = err.name === "AbortError";
    if (err instanceof SessionEnded && !$("question").value) $("question").value = turn.question;
    turn.finished = true;
    renderAnswer(turn);
    showNotice(turn, stopped ? "Stopped." : err.message, !stopped);
    say(stopped ? "Answer stopped." : "The answer failed.");
  } finally {
    const stick = nearEnd();
    turn.finished = true;
    turn.view.answer.classList.remove("is-streaming");
    turn.view.answer.removeAttribute("aria-busy");
    if (chat.controller === controller) chat.controller = null;
    if (turn.view.el.isConnected) setActions(turn, actionsOf(turn, chat.turns.at(-1) === turn));
    if (stick) scrollToEnd();
    setBusy(false);
  }
}

function onEvent(turn, event, data) {
  const stick = nearEnd();
  if (event === "sources") {
    for (const s of data.sources) turn.sources.set(s.number, s);
    renderRewritten(turn, data.question);
    renderSources(turn);
  } else if (event === "delta") {
    turn.text += data.text;
    turn.segments.push({ text: data.text, claim: null });
    renderAnswer(turn);
  } else if (event === "claim") {
    const shown = turn.segments.findLast((s) => s.text !== undefined);
    if (data.supported && shown && !shown.claim) shown.claim = data;
    else if (!data.supported) turn.segments.push({ flagged: data });
    renderAnswer(turn);
  } else if (event === "done") {
    turn.done = data;
    turn.finished = true;
    renderAnswer(turn);
    renderDone(turn, data);
    const flagged = turn.segments.filter((s) => s.flagged).length;
    say(data.no_answer ? "The sources do not contain the answer."
      : `Answer ready${data.citations.length ? `, citing ${data.citations.length} source(s)` : ""}`
        + (flagged ? `; ${flagged} statement(s) withheld as not supported.` : "."));
  } else if (event === "error") {
    throw new Error(data.message || "The answer could not be completed.");
  }
  if (stick) scrollToEnd();
}

function actionsOf(turn, last) {
  const actions = [];
  if (turn.done && turn.text) {
    actions.push(["Copy", "Copy the answer", (e) => copy(turn, e.currentTarget)]);
  }
  if (last) actions.push(["Regenerate", "Regenerate the answer", () => regenerate(turn)]);
  return actions;
}

function regenerate(turn) {
  if (chat.controller) return;
  if (!$("source-panel").hidden) closeSource();
  turn.view.answer.replaceChildren(h("span", { class: "pending" }, "Searching your documents"));
  turn.view.answer.classList.add("is-streaming");
  turn.view.sources.replaceChildren();
  turn.view.meta.textContent = "";
  setActions(turn, []);
  run(turn);
}

async function copy(turn, button) {
  const text = plainText(turn);
  try {
    await navigator.clipboard.writeText(text);
  } catch { // no clipboard API (not a secure context): through a selection
    const area = h("textarea", { class: "visually-hidden", readonly: true }, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  say("Answer copied.");
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
}

function setBusy(busy) {
  $("ask").hidden = busy;
  $("stop").hidden = !busy;
  if (!busy) $("question").focus();
}

async function* readEvents(body) {
  // Server-Sent Events over a fetch body (EventSource cannot POST).
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue; // comments (keep-alives) and malformed lines
        const field = line.slice(0, colon);
        const text = line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) yield [event, JSON.parse(data.join("\n"))];
    }
  }
}
