// Enclave web UI. Zero retention: questions and answers live only in this page's memory —
// never in localStorage, sessionStorage, IndexedDB or cookies. Model output is only ever
// inserted as text nodes (no innerHTML), so an answer cannot inject markup.

import { initCompliance } from "./compliance.js";
import { $, h, say } from "./dom.js";
import { showKeysFor, wireKeys } from "./keys.js";
import { clearMembers, showMembersFor, wireMembers } from "./members.js";
import { api, errorMessage, loadMe, may, send, SessionEnded, session } from "./session.js";

const FINAL = new Set(["indexed", "failed"]);
const UNCOUNTED = new Set(["failed", "erasing"]); // as the server counts (services/collections.py)
const POLL_MS = 1500;

const state = {
  collections: [],
  active: null, // collection whose documents are shown
  chosen: new Set(), // collections the chat is limited to (empty: all)
  statuses: new Map(), // document id -> last seen status, to announce changes
  poll: null,
  controller: null, // AbortController of the answer being streamed
  opener: null, // the citation chip that opened the source panel
  confirming: null, // id of the document whose deletion awaits confirmation
};

function setUploadStatus(text, isError = false) {
  const el = $("upload-status");
  el.textContent = text;
  el.classList.toggle("is-error", isError);
}

// --- collections -----------------------------------------------------------------------------

async function loadCollections() {
  try {
    state.collections = await api("/v1/collections");
  } catch (err) {
    $("collections-empty").hidden = false;
    $("collections-empty").textContent = `Could not load collections: ${err.message}`;
    return;
  }
  const ids = new Set(state.collections.map((c) => c.id));
  state.chosen = new Set([...state.chosen].filter((id) => ids.has(id)));
  if (!ids.has(state.active)) setActive(state.collections[0]?.id ?? null);
  renderCollections();
  renderScope();
}

function renderCollections() {
  const items = state.collections.map((c) => {
    const active = c.id === state.active;
    const box = h("input", { type: "checkbox", checked: state.chosen.has(c.id),
      "aria-label": `Ask ${c.name}`, title: "Include in the chat", onchange: (e) => {
        state.chosen[e.target.checked ? "add" : "delete"](c.id);
        renderScope();
      } });
    const open = h(
      "button",
      { type: "button", class: "collection-open", "aria-current": active ? "true" : null,
        title: c.description || null, onclick: () => selectCollection(c.id) },
      h("span", { class: "collection-name" }, c.name),
      h("span", { class: "count" }, String(c.documents),
        h("span", { class: "visually-hidden" }, c.documents === 1 ? " document" : " documents")),
    );
    return h("li", { class: active ? "collection is-active" : "collection" }, box, open);
  });
  $("collections").replaceChildren(...items);
  $("collections-empty").hidden = items.length > 0;
}

function renderScope() {
  const names = state.collections.filter((c) => state.chosen.has(c.id)).map((c) => c.name);
  $("scope-label").textContent = names.length ? names.join(", ") : "all collections";
}

// Switching collections empties the lists at once: until the new collection's documents and
// members arrive, the old ones must not be shown (or acted on) under the new name.
function setActive(id) {
  if (id !== state.active) {
    clearTimeout(state.poll);
    $("documents").replaceChildren();
    $("documents-empty").hidden = true;
    clearMembers();
  }
  state.active = id;
}

function selectCollection(id) {
  setActive(id);
  renderCollections();
  setUploadStatus("");
  loadDocuments();
}

function toggleCollectionForm(open) {
  const form = $("collection-form");
  form.hidden = !open;
  $("new-collection").setAttribute("aria-expanded", String(open));
  $("collection-error").textContent = "";
  if (open) $("collection-name").focus();
  else form.reset();
}

async function createCollection(event) {
  event.preventDefault();
  const name = $("collection-name").value.trim();
  const description = $("collection-description").value.trim();
  if (!name) return;
  try {
    const created = await api("/v1/collections", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name, description }),
    });
    toggleCollectionForm(false);
    setActive(created.id);
    await loadMe(); // the creator now administers it
    await loadCollections();
    loadDocuments();
    say(`Collection ${created.name} created`);
    $("new-collection").focus();
  } catch (err) {
    $("collection-error").textContent = err.message;
  }
}

async function refreshAccess() {
  // The signed-in user's own roles changed: what they may see and do follows.
  await loadMe();
  await loadCollections();
  showMembersFor(state.active, { force: true });
  loadDocuments();
}

// --- documents -------------------------------------------------------------------------------

async function loadDocuments() {
  clearTimeout(state.poll);
  const id = state.active;
  const collection = state.collections.find((c) => c.id === id);
  $("documents-panel").hidden = !collection;
  $("dropzone").hidden = !may("write", id); // readers see the documents, cannot upload
  showKeysFor(id);
  showMembersFor(id);
  if (!collection) return;
  $("documents-h").textContent = `Documents · ${collection.name}`;
  let docs;
  try {
    docs = await api(`/v1/collections/${encodeURIComponent(id)}/documents`);
  } catch (err) {
    setUploadStatus(`Could not load documents: ${err.message}`, true);
    return;
  }
  if (id !== state.active) return; // the user moved on while we waited
  announceChanges(docs);
  $("documents").replaceChildren(...docs.map(documentItem));
  $("documents-empty").hidden = docs.length > 0;
  const counted = docs.filter((d) => !UNCOUNTED.has(d.status)).length;
  if (collection.documents !== counted) {
    collection.documents = counted;
    renderCollections();
  }
  if (docs.some((d) => !FINAL.has(d.status))) state.poll = setTimeout(loadDocuments, POLL_MS);
}

function announceChanges(docs) {
  for (const d of docs) {
    const before = state.statuses.get(d.id);
    if (before && before !== d.status && FINAL.has(d.status)) {
      const ok = d.status === "indexed";
      setUploadStatus(`${d.filename}: ${ok ? "indexed, ready to ask" : "indexing failed"}`, !ok);
    }
    state.statuses.set(d.id, d.status);
  }
}

function documentItem(d) {
  const busy = !FINAL.has(d.status);
  const progress =
    d.status === "embedding" && d.chunks_total ? ` ${d.chunks_done}/${d.chunks_total}` : "";
  const count = (n, word) => n && `${n} ${word}${n === 1 ? "" : "s"}`;
  const meta = [count(d.pages, "page"), count(d.chunks_total, "chunk")].filter(Boolean);
  if (state.confirming === d.id) return confirmDelete(d);
  const name = d.title || d.filename;
  const remove = mayDelete(d) && d.status !== "erasing"
    ? h("button", { type: "button", class: "link doc-delete", "aria-label": `Delete ${name}`,
      onclick: (e) => askDelete(d, e.currentTarget.closest("li")) }, "Delete")
    : null;
  return h("li", { class: "doc", "data-status": d.status, "data-document": d.id },
    h("div", { class: "doc-main" },
      h("span", { class: "doc-title", title: d.filename }, name),
      meta.length ? h("span", { class: "doc-meta" }, meta.join(" · ")) : null,
      d.status === "failed" && d.error ? h("span", { class: "doc-error" }, d.error) : null),
    h("div", { class: "doc-side" },
      h("span", { class: `badge badge-${d.status}${busy ? " is-busy" : ""}` }, d.status + progress),
      remove));
}

// Collection admins delete any document; contributors their own uploads (the server decides).
const mayDelete = (d) => may("delete", d.collection_id)
  || (may("write", d.collection_id) && d.uploaded_by === session.me?.id);

function askDelete(d, item) {
  state.confirming = d.id;
  const confirm = documentItem(d);
  item.replaceWith(confirm);
  confirm.querySelector(".btn-quiet").focus(); // Cancel: the safe default
}

function confirmDelete(d) {
  const name = d.title || d.filename;
  const item = h("li", { class: "doc is-confirming", "data-document": d.id },
    h("div", { class: "doc-main" },
      h("span", { class: "doc-title" }, `Delete ${name}?`),
      h("span", { class: "doc-meta" }, "Removed for everyone, with its passages. No undo.")),
    h("div", { class: "row" },
      h("button", { type: "button", class: "btn btn-danger btn-sm",
        onclick: (e) => deleteDocument(d, e.currentTarget) }, "Delete permanently"),
      h("button", { type: "button", class: "btn btn-quiet btn-sm", onclick: () => {
        state.confirming = null;
        item.replaceWith(documentItem(d));
      } }, "Cancel")));
  return item;
}

async function deleteDocument(d, button) {
  const name = d.title || d.filename;
  button.disabled = true;
  setUploadStatus(`Deleting ${name}…`);
  try {
    const signed = await api(`/v1/documents/${encodeURIComponent(d.id)}`, { method: "DELETE" });
    setUploadStatus(`${name} deleted (receipt ${signed.receipt.request_id}).`);
    say(`${name} deleted`);
  } catch (err) {
    setUploadStatus(`Could not delete ${name}: ${err.message}`, true);
  }
  state.confirming = null;
  state.statuses.delete(d.id);
  loadDocuments();
}

async function upload(files) {
  const id = state.active;
  if (!id || !files.length || !may("write", id)) return;
  for (const file of files) {
    setUploadStatus(`Uploading ${file.name}…`);
    const body = new FormData();
    body.append("file", file);
    try {
      const url = `/v1/collections/${encodeURIComponent(id)}/documents`;
      const res = await send(url, { method: "POST", body });
      if (!res.ok) throw new Error(`${file.name}: ${await errorMessage(res)}`);
      const doc = await res.json();
      state.statuses.set(doc.id, doc.status);
      const note = doc.duplicate ? "was already uploaded." : "uploaded — indexing…";
      setUploadStatus(`${file.name} ${note}`);
    } catch (err) {
      setUploadStatus(err.message, true);
    }
  }
  $("file-input").value = "";
  if (id === state.active) loadDocuments();
}

function wireDropzone() {
  const zone = $("dropzone");
  const panel = $("documents-panel");
  $("browse").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (e) => upload([...e.target.files]));
  for (const type of ["dragenter", "dragover"]) {
    panel.addEventListener(type, (e) => {
      if (!e.dataTransfer?.types.includes("Files")) return;
      e.preventDefault();
      zone.classList.add("is-over");
    });
  }
  panel.addEventListener("dragleave", (e) => {
    if (!panel.contains(e.relatedTarget)) zone.classList.remove("is-over");
  });
  panel.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("is-over");
    upload([...(e.dataTransfer?.files ?? [])]);
  });
}

// --- chat ------------------------------------------------------------------------------------

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
        if (colon <= 0) continue; // comments and malformed lines
        const field = line.slice(0, colon);
        const text = line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) yield [event, JSON.parse(data.join("\n"))];
    }
  }
}

function citeChip(source) {
  const chip = h("button", { type: "button", class: "cite",
    "aria-label": `Source ${source.number}: ${source.title}` }, String(source.number));
  chip.addEventListener("click", () => openSource(source, chip));
  return chip;
}

function renderAnswer(el, text, sources) {
  // Text nodes for prose, buttons for [n] markers whose source we hold.
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const source = sources.get(Number(match[1]));
    if (!source) continue;
    parts.push(document.createTextNode(text.slice(last, match.index)));
    parts.push(citeChip(source));
    last = match.index + match[0].length;
  }
  parts.push(document.createTextNode(text.slice(last)));
  el.replaceChildren(...parts);
}

function renderSources(el, sources, cited) {
  const row = (s) =>
    h("li", { class: "source" }, citeChip(s),
      h("span", { class: "source-label" },
        h("span", { class: "source-name" }, s.title || "Untitled"),
        h("span", { class: "source-where" }, where(s))));
  const all = [...sources.values()];
  const used = all.filter((s) => cited.has(s.number));
  const other = all.filter((s) => !cited.has(s.number));
  const parts = [];
  if (used.length) parts.push(h("h3", {}, "Cited sources"), h("ul", {}, used.map(row)));
  if (other.length) {
    const title = used.length ? "Also consulted" : "Consulted";
    parts.push(h("h3", { class: "muted" }, title), h("ul", { class: "is-muted" }, other.map(row)));
  }
  el.replaceChildren(...parts);
}

const where = (s) => [s.section, s.page ? `p. ${s.page}` : null].filter(Boolean).join(" · ");

function addTurn(question) {
  $("welcome")?.remove();
  const answer = h("div", { class: "answer is-streaming", "aria-busy": "true" },
    h("span", { class: "pending" }, "Searching your documents"));
  const sources = h("div", { class: "sources" });
  const meta = h("p", { class: "meta" });
  const avatar = h("div", { class: "avatar" }, document.querySelector(".logo").cloneNode(true));
  const turn = h("article", { class: "turn" },
    h("div", { class: "question" }, h("p", {}, question)),
    h("div", { class: "reply" }, avatar, h("div", { class: "reply-body" }, answer, sources, meta)));
  $("thread").append(turn);
  turn.scrollIntoView({ block: "start", behavior: "smooth" });
  return { answer, sources, meta, byNumber: new Map(), text: "", finished: false };
}

function onEvent(turn, event, data) {
  if (event === "sources") {
    for (const s of data.sources) turn.byNumber.set(s.number, s);
    renderSources(turn.sources, turn.byNumber, new Set());
  } else if (event === "delta") {
    const thread = $("thread");
    const stick = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
    turn.text += data.text;
    renderAnswer(turn.answer, turn.text, turn.byNumber);
    if (stick) thread.scrollTop = thread.scrollHeight;
  } else if (event === "done") {
    turn.finished = true;
    const cited = new Set(data.citations);
    renderSources(turn.sources, turn.byNumber, cited);
    turn.answer.classList.toggle("is-no-answer", data.no_answer);
    const dropped = data.dropped_citations;
    turn.meta.textContent = [data.model, data.reranker && `reranker: ${data.reranker}`,
      dropped && `${dropped} invalid citation(s) removed`].filter(Boolean).join(" · ");
    say(`Answer ready${cited.size ? `, citing ${cited.size} source(s)` : ""}.`);
  } else if (event === "error") {
    throw new Error(data.message || "The answer could not be completed.");
  }
}

function setBusy(busy) {
  $("ask").hidden = busy;
  $("stop").hidden = !busy;
  if (!busy) $("question").focus();
}

async function ask(question) {
  const turn = addTurn(question);
  const controller = (state.controller = new AbortController());
  setBusy(true);
  say("Searching your documents…");
  try {
    const collections = state.chosen.size ? [...state.chosen] : null;
    const res = await send("/v1/answer", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, collections, stream: true }),
      signal: controller.signal,
      cache: "no-store",
    });
    if (!res.ok) throw new Error(await errorMessage(res));
    for await (const [event, data] of readEvents(res.body)) onEvent(turn, event, data);
    if (!turn.finished) throw new Error("The connection closed before the answer was complete.");
  } catch (err) {
    const stopped = err.name === "AbortError";
    if (err instanceof SessionEnded && !$("question").value) $("question").value = question;
    if (!turn.text) turn.answer.replaceChildren();
    turn.answer.append(stopped ? h("span", { class: "notice" }, "Stopped.")
      : h("span", { class: "notice is-error", role: "alert" }, err.message));
    say(stopped ? "Answer stopped." : "The answer failed.");
  } finally {
    turn.answer.classList.remove("is-streaming");
    turn.answer.removeAttribute("aria-busy");
    state.controller = null;
    setBusy(false);
  }
}

function wireComposer() {
  const form = $("ask-form");
  const box = $("question");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const question = box.value.trim();
    if (!question || state.controller) return;
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
  $("stop").addEventListener("click", () => state.controller?.abort());
}

// --- source panel ----------------------------------------------------------------------------

async function openSource(source, opener) {
  state.opener?.classList.remove("is-open");
  state.opener = opener;
  opener.classList.add("is-open");
  $("source-number").textContent = String(source.number);
  $("source-title").textContent = source.title || "Untitled";
  showPassage(source);
  $("source-panel").hidden = false;
  document.body.classList.add("has-source");
  $("source-title").focus();
  if (source.text && source.places) return;
  try { // the chunk says on which page and in which section each part of the passage lies
    const chunk = await api(`/v1/chunks/${encodeURIComponent(source.chunk_id)}`);
    if (state.opener === opener) showPassage({ ...source, text: chunk.text, places: chunk.places });
  } catch (err) {
    if (!source.text) $("source-text").textContent = `Could not load the passage: ${err.message}`;
  }
}

// Heading paths ("Manual > Safety") as one line: "Manual › Safety, Maintenance".
function sectionsText(sections) {
  const paths = sections.map((s) => s.split(" > "));
  if (paths.length < 2) return paths[0]?.join(" › ") ?? "";
  let n = 0;
  while (paths.every((p) => p.length > n && p[n] === paths[0][n])) n += 1;
  const rest = [...new Set(paths.map((p) => p.slice(n).join(" › ")).filter(Boolean))];
  return [...paths[0].slice(0, n), rest.join(", ")].filter(Boolean).join(" › ");
}

// The passage with its pages and sections: "Pages 1–2", and a marker where a new page begins.
function showPassage(p) {
  const places = p.places?.length ? p.places : [{ offset: 0, page: p.page, section: p.section }];
  const pages = [...new Set(places.map((x) => x.page).filter((n) => n !== null))];
  const sections = [...new Set(places.map((x) => x.section).filter(Boolean))];
  const meta = [
    [sections.length > 1 ? "Sections" : "Section", sectionsText(sections)],
    [pages.length > 1 ? "Pages" : "Page",
      pages.length > 1 ? `${Math.min(...pages)}–${Math.max(...pages)}` : pages[0]],
  ].filter(([, v]) => v);
  $("source-meta").replaceChildren(...meta.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  if (!p.text) {
    $("source-text").textContent = "Loading…";
    return;
  }
  const chars = Array.from(p.text); // offsets count code points, as the server does
  const parts = [];
  places.forEach((place, i) => {
    const end = places[i + 1]?.offset ?? chars.length;
    if (i && place.page !== null && place.page !== places[i - 1].page) {
      parts.push(h("span", { class: "page-mark" }, `Page ${place.page}`));
    }
    parts.push(document.createTextNode(chars.slice(place.offset, end).join("")));
  });
  $("source-text").replaceChildren(...parts);
}

function closeSource() {
  $("source-panel").hidden = true;
  document.body.classList.remove("has-source");
  const opener = state.opener;
  state.opener = null;
  opener?.classList.remove("is-open");
  if (opener?.isConnected) opener.focus();
}

// --- start -----------------------------------------------------------------------------------

async function main() {
  const form = $("collection-form");
  $("new-collection").addEventListener("click", () => toggleCollectionForm(form.hidden));
  $("cancel-collection").addEventListener("click", () => toggleCollectionForm(false));
  form.addEventListener("submit", createCollection);
  $("close-source").addEventListener("click", closeSource);
  wireKeys(() => state.active);
  wireMembers(() => state.active, refreshAccess);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("source-panel").hidden) closeSource();
  });
  wireDropzone();
  wireComposer();
  try {
    await loadMe();
  } catch {
    return; // send() is taking the browser to the sign-in page
  }
  initCompliance(() => loadCollections().then(loadDocuments)); // after an erasure
  await loadCollections();
  loadDocuments();
}

main();
