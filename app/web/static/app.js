// Enclave web UI, the chat page: collections, documents, and the wiring of the page's parts
// (chat.js for the conversation; collections, members and keys are managed on /admin). Zero
// retention: questions and answers live only in this page's memory — never in localStorage,
// sessionStorage, IndexedDB or cookies. Model output is only ever inserted as text nodes or
// elements built from its Markdown tokens (no innerHTML), so it cannot inject markup.

import { wireChat } from "./chat.js";
import { $, h, say } from "./dom.js";
import { manages } from "./nav.js";
import { api, errorMessage, loadMe, may, send, session } from "./session.js";

const FINAL = new Set(["indexed", "failed"]);
const UNCOUNTED = new Set(["failed", "erasing"]); // as the server counts (services/collections.py)
const POLL_MS = 1500;

const state = {
  collections: [],
  active: null, // collection whose documents are shown
  chosen: new Set(), // collections the chat is limited to (empty: all)
  statuses: new Map(), // document id -> last seen status, to announce changes
  poll: null,
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

// Switching collections empties the list at once: until the new collection's documents
// arrive, the old ones must not be shown (or acted on) under the new name.
function setActive(id) {
  if (id !== state.active) {
    clearTimeout(state.poll);
    $("documents").replaceChildren();
    $("documents-empty").hidden = true;
  }
  state.active = id;
}

function selectCollection(id) {
  setActive(id);
  renderCollections();
  setUploadStatus("");
  loadDocuments();
}

// --- documents -------------------------------------------------------------------------------

async function loadDocuments() {
  clearTimeout(state.poll);
  const id = state.active;
  const collection = state.collections.find((c) => c.id === id);
  $("documents-panel").hidden = !collection;
  $("dropzone").hidden = !may("write", id); // readers see the documents, cannot upload
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

// Narrow screens show the chat or the sidebar; the header's button switches between them.
function toggleSidebar() {
  const open = document.body.classList.toggle("show-sidebar");
  $("sidebar-toggle").setAttribute("aria-expanded", String(open));
  $("sidebar-toggle").textContent = open ? "Chat" : "Collections";
  (open ? $("collections-h") : $("question")).focus();
}

// --- start -----------------------------------------------------------------------------------

async function main() {
  wireDropzone();
  $("sidebar-toggle").addEventListener("click", toggleSidebar);
  wireChat(() => (state.chosen.size ? [...state.chosen] : null));
  document.addEventListener("enclave:me", (e) => {
    $("manage-collections").hidden = !manages(e.detail);
  });
  try {
    await loadMe();
  } catch {
    return; // send() is taking the browser to the sign-in page
  }
  await loadCollections();
  loadDocuments();
}

main();
