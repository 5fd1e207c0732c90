// Enclave web UI, the chat page: collections, documents, and the wiring of the page's parts
// (chat.js for the conversation; collections, members and keys are managed on /admin). Zero
// retention: questions and answers live only in this page's memory — never in localStorage,
// sessionStorage, IndexedDB or cookies. Model output is only ever inserted as text nodes or
// elements built from its Markdown tokens (no innerHTML), so it cannot inject markup.

import { wireChat } from "./chat.js";
import { documentList } from "./doclist.js";
import { $, h } from "./dom.js";
import { manages } from "./nav.js";
import { api, loadMe, may } from "./session.js";
import { FINAL, sendFile, wireDrop } from "./uploads.js";

const UNCOUNTED = new Set(["failed", "erasing"]); // as the server counts (services/collections.py)
const POLL_MS = 1500;

const state = {
  collections: [],
  active: null, // collection whose documents are shown
  chosen: new Set(), // collections the chat is limited to (empty: all)
  list: null, // the documents' list (doclist.js)
  poll: null,
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
    state.list.reset();
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
  state.list.render(docs);
  $("documents-empty").hidden = docs.length > 0;
  const counted = docs.filter((d) => !UNCOUNTED.has(d.status)).length;
  if (collection.documents !== counted) {
    collection.documents = counted;
    renderCollections();
  }
  if (docs.some((d) => !FINAL.has(d.status))) state.poll = setTimeout(loadDocuments, POLL_MS);
}

async function upload(files) {
  const id = state.active;
  if (!id || !may("write", id)) return;
  for (const file of files) {
    const status = (share) => setUploadStatus(`Uploading ${file.name}… ${Math.round(share * 100)}%`);
    try {
      const doc = await sendFile(id, file, { onProgress: status });
      state.list.seen(doc);
      const note = doc.duplicate ? "was already uploaded." : "uploaded — indexing…";
      setUploadStatus(`${file.name} ${note}`);
    } catch (err) {
      setUploadStatus(`${file.name}: ${err.message}`, true);
    }
  }
  if (id === state.active) loadDocuments();
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
  state.list = documentList($("documents"), { tell: setUploadStatus, changed: loadDocuments });
  wireDrop({ area: "documents-panel", zone: "dropzone", input: "file-input", browse: "browse",
    onFiles: upload });
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
