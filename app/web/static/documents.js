// The Documents page: a collection's documents with their status (a failure's reason as a
// sentence), uploads of several files at once with each file's progress until it is indexed or
// fails, a new version of a document, delete for those allowed, and a document's chunks.
// Controls a role may not use are absent; the server refuses them anyway.

import "./nav.js";
import { documentList } from "./doclist.js";
import { $, h, say } from "./dom.js";
import { api, loadMe, may } from "./session.js";
import { FINAL, follow, sendFile, wireDrop } from "./uploads.js";

const POLL_MS = 1500;
const CHUNKS_PAGE = 50;
const STAGES = {
  queued: "Waiting to be indexed…",
  parsing: "Reading the file…",
  chunking: "Cutting it into passages…",
  embedding: "Indexing its passages…",
  erasing: "Being deleted…",
};

const state = {
  collections: [],
  active: null, // the collection shown
  list: null, // documentList of #documents
  poll: null,
  queue: Promise.resolve(), // uploads go one after another, each with its own row
  versionOf: null, // the document a chosen file replaces
  chunksOf: null, // the document whose chunks are shown
};

const tell = (text, isError = false) => {
  $("list-status").textContent = text;
  $("list-status").classList.toggle("is-error", isError);
};

// --- collections -----------------------------------------------------------------------------

async function loadCollections() {
  try {
    state.collections = await api("/v1/collections");
  } catch (err) {
    $("docs-error").textContent = `Could not load the collections. ${err.message}`;
    return;
  }
  const wanted = new URLSearchParams(location.search).get("collection");
  const known = (id) => state.collections.some((c) => c.id === id || c.name === id);
  const first = known(wanted) ? wanted : state.collections[0]?.id;
  $("collection").replaceChildren(...state.collections.map((c) =>
    h("option", { value: c.id, selected: c.id === first || c.name === first }, c.name)));
  $("no-collections").hidden = state.collections.length > 0;
  $("collection").disabled = !state.collections.length;
  show($("collection").value || null);
}

function show(id) {
  clearTimeout(state.poll);
  state.active = id;
  state.list.reset();
  closeChunks();
  tell(""); // the rows of uploads stay: each says its collection and follows its file
  $("upload-card").hidden = !id || !may("write", id); // readers see no upload controls
  $("list-card").hidden = !id;
  if (!id) return;
  const c = state.collections.find((x) => x.id === id);
  $("list-h").textContent = `Documents in ${c.name}`;
  const url = new URL(location.href);
  url.searchParams.set("collection", c.name);
  history.replaceState(null, "", url);
  loadDocuments();
}

// --- documents -------------------------------------------------------------------------------

async function loadDocuments() {
  clearTimeout(state.poll);
  const id = state.active;
  let docs;
  try {
    docs = await api(`/v1/collections/${encodeURIComponent(id)}/documents`);
  } catch (err) {
    tell(`Could not load the documents. ${err.message}`, true);
    return;
  }
  if (id !== state.active) return; // another collection was chosen meanwhile
  state.list.render(docs);
  $("documents-empty").hidden = docs.length > 0;
  const indexed = docs.filter((d) => d.status === "indexed").length;
  $("list-count").textContent = docs.length ? `${indexed} of ${docs.length} indexed` : "";
  if (docs.some((d) => !FINAL.has(d.status))) state.poll = setTimeout(loadDocuments, POLL_MS);
}

function actions(d) {
  const name = d.title || d.filename;
  const busy = d.status === "erasing";
  return [
    d.chunks_total && d.status === "indexed"
      ? h("button", { type: "button", class: "link", "aria-label": `Show the chunks of ${name}`,
        onclick: () => openChunks(d) }, "Chunks")
      : null,
    may("write", d.collection_id) && !busy
      ? h("button", { type: "button", class: "link", "aria-label": `Upload a new version of ${name}`,
        onclick: () => chooseVersion(d) }, "New version")
      : null,
    busy ? null : h("a", { class: "link", href: `/v1/documents/${encodeURIComponent(d.id)}/original`,
      download: "", "aria-label": `Download the original of ${name}` }, "Download"),
  ].filter(Boolean);
}

// --- uploads: a row per file, its progress, then its indexing until final ----------------------

function uploadRow(label, collection) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": `Progress of ${label}` });
  const note = h("span", { class: "upload-note" }, "Waiting to upload…");
  const row = h("li", { class: "upload", "data-state": "waiting" },
    h("span", { class: "upload-name" }, label, h("span", { class: "muted" }, ` · ${collection}`)),
    bar, note);
  const set = (state, text, share) => {
    row.dataset.state = state;
    note.textContent = text;
    if (share === undefined) bar.removeAttribute("value"); // busy, amount unknown
    else bar.value = share;
  };
  return { row, set };
}

function upload(files, { versionOf = null } = {}) {
  const id = state.active;
  if (!id || !may("write", id)) return;
  for (const file of files) {
    const label = versionOf ? `${file.name} (new version of ${versionOf.filename})` : file.name;
    const { row, set } = uploadRow(label, state.collections.find((c) => c.id === id).name);
    $("uploads").append(row);
    state.queue = state.queue.then(() => send(id, file, versionOf, label, set));
  }
  say(`${files.length} ${files.length === 1 ? "file" : "files"} to upload`);
}

async function send(id, file, versionOf, label, set) {
  let doc;
  try {
    doc = await sendFile(id, file, {
      name: versionOf?.filename ?? file.name,
      onProgress: (share) => set("uploading", `Uploading… ${Math.round(share * 100)}%`, share),
    });
  } catch (err) {
    set("failed", `Not uploaded. ${err.message}`, 0);
    say(`${label}: not uploaded`);
    return;
  }
  if (id === state.active) loadDocuments();
  if (doc.duplicate && FINAL.has(doc.status)) {
    set(doc.status, `Already uploaded: the same file is ${doc.title || doc.filename}.`, 1);
    return;
  }
  state.list.seen(doc);
  follow(doc.id, (d) => indexing(d, label, set)).catch((err) =>
    set("failed", `Could not follow its indexing. ${err.message}`, 1));
}

function indexing(d, label, set) {
  if (d.status === "indexed") {
    const chunks = `${d.chunks_total} ${d.chunks_total === 1 ? "chunk" : "chunks"}`;
    set("indexed", `Indexed (${chunks}), ready to ask.`, 1);
    say(`${label}: indexed`);
  } else if (d.status === "failed") {
    set("failed", `Not indexed. ${d.error_message ?? "It could not be read."}`, 1);
    say(`${label}: not indexed`);
  } else if (d.status === "embedding" && d.chunks_total) {
    set("indexing", `${STAGES.embedding} ${d.chunks_done} of ${d.chunks_total}`,
      d.chunks_done / d.chunks_total);
  } else {
    set("indexing", STAGES[d.status] ?? "Indexing…");
  }
  if (FINAL.has(d.status) && state.active === d.collection_id) loadDocuments();
}

function chooseVersion(d) {
  state.versionOf = d;
  $("version-input").click();
}

// --- a document's chunks ---------------------------------------------------------------------

async function openChunks(d, offset = 0) {
  state.chunksOf = d;
  const card = $("chunks-card");
  card.hidden = false;
  $("chunks-h").textContent = `Chunks of ${d.title || d.filename}`;
  if (!offset) {
    $("chunks").replaceChildren();
    $("chunks-note").textContent = "Loading…";
    $("chunks-h").focus();
    card.scrollIntoView({ block: "start" });
  }
  let page;
  try {
    page = await api(`/v1/documents/${encodeURIComponent(d.id)}/chunks?offset=${offset}&limit=${CHUNKS_PAGE}`);
  } catch (err) {
    $("chunks-note").textContent = `Could not load the chunks. ${err.message}`;
    return;
  }
  if (state.chunksOf !== d) return;
  $("chunks").append(...page.chunks.map(chunkItem));
  const shown = $("chunks").children.length;
  const total = `${d.chunks_total} ${d.chunks_total === 1 ? "chunk" : "chunks"}`;
  $("chunks-note").textContent = `${shown} of ${total}, in reading order.`;
  $("chunks-more").hidden = page.next_offset === null;
  $("chunks-more").onclick = () => openChunks(d, page.next_offset);
}

function chunkItem(c) {
  const where = [c.page ? `Page ${c.page}` : null, c.section || null].filter(Boolean);
  return h("li", { class: "chunk", "data-chunk": c.chunk_id },
    h("p", { class: "chunk-where" },
      h("strong", {}, `Chunk ${c.position + 1}`), where.length ? ` · ${where.join(" · ")}` : ""),
    h("p", { class: "chunk-text" }, c.text));
}

function closeChunks() {
  state.chunksOf = null;
  $("chunks-card").hidden = true;
  $("chunks").replaceChildren();
}

// --- start -----------------------------------------------------------------------------------

async function main() {
  state.list = documentList($("documents"), { tell, changed: loadDocuments, actions });
  wireDrop({ area: "main", zone: "dropzone", input: "file-input", browse: "browse",
    onFiles: upload });
  $("version-input").addEventListener("change", (e) => {
    const [file] = e.target.files;
    e.target.value = "";
    if (file && state.versionOf) upload([file], { versionOf: state.versionOf });
    state.versionOf = null;
  });
  $("collection").addEventListener("change", (e) => show(e.target.value));
  $("chunks-close").addEventListener("click", () => {
    const from = state.chunksOf;
    closeChunks();
    document.querySelector(`[data-document="${from?.id}"] .doc-actions .link`)?.focus();
  });
  try {
    await loadMe();
  } catch {
    return; // send() said the session ended
  }
  await loadCollections();
}

main();
