// Finding documents on the compliance page: by metadata or by a data subject's identifier
// (titles, ids, collections and counts — never content), with a result list to pick from.
//
// Zero retention: the identifier is sent once in a POST body. It stays in its input field only
// (no `name`, so no form can put it in a URL; autocomplete off, so the browser keeps no history
// of it); leaving the page drops it with the results. Nothing here touches storage.

import { $, h, say } from "./dom.js";
import { when } from "./receipt-view.js";
import { api } from "./session.js";

export const state = {
  names: new Map(), // collection id -> name, for the collections this user can see
  results: [], // the documents found (metadata only)
  kind: null, // "metadata" or "identifier": which search found them
  selected: new Set(), // ids of the documents ticked in the results
  targets: [], // the documents chosen for erasure
  choose: () => {}, // picks documents to erase (compliance-erase.js)
};

export const titleOf = (d) => d.title || d.filename || "Untitled";
export const collectionName = (id) => state.names.get(id) ?? id;

export function wireFind(choose) {
  state.choose = choose;
  $("meta-form").addEventListener("submit", findByMetadata);
  $("subject-form").addEventListener("submit", findByIdentifier);
  $("erase-selected").addEventListener("click", () =>
    choose(state.results.filter((d) => state.selected.has(d.id))));
}

// The collections this user can see, as options of `selects` (names are a convenience: ids are
// shown where a name is unknown).
export async function loadCollectionNames(selects) {
  let collections = [];
  try {
    collections = await api("/v1/collections");
  } catch {
    // ids are shown instead
  }
  state.names = new Map(collections.map((c) => [c.id, c.name]));
  for (const select of selects) {
    select.append(...collections.map((c) => h("option", { value: c.id }, c.name)));
  }
}

// <input type="date"> gives a day; the API wants an instant: midnight here, sent as UTC.
export function localDay(value, plusDays = 0) {
  const day = new Date(`${value}T00:00`);
  day.setDate(day.getDate() + plusDays);
  return day.toISOString();
}

async function findByMetadata(event) {
  event.preventDefault();
  $("meta-error").textContent = "";
  const query = new URLSearchParams();
  const add = (key, value) => value && query.set(key, value);
  add("title", $("meta-title").value.trim());
  add("uploaded_by", $("meta-uploader").value.trim());
  add("collection", $("meta-collection").value);
  const since = $("meta-since").value;
  const until = $("meta-until").value;
  if (since && until && until < since) {
    $("meta-error").textContent = "The end date is before the start date.";
    return;
  }
  if (since) query.set("since", localDay(since));
  if (until) query.set("until", localDay(until, 1)); // the whole end day
  await search("metadata", () => api(`/v1/compliance/documents?${query}`), "meta-error");
}

async function findByIdentifier(event) {
  event.preventDefault();
  $("subject-error").textContent = "";
  const identifier = $("subject-id").value.trim();
  if (identifier.length < 2) {
    $("subject-error").textContent = "Enter at least 2 characters.";
    return;
  }
  const request = () => api("/v1/compliance/search", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ identifier }),
    cache: "no-store",
  });
  await search("identifier", request, "subject-error");
}

async function search(kind, request, errorId) {
  $("results-note").textContent = "Searching…";
  try {
    const found = await request();
    state.kind = kind;
    state.results = found.map((d) => (kind === "identifier" ? { ...d, id: d.document_id } : d));
    state.selected.clear();
  } catch (err) {
    $(errorId).textContent = err.message;
    $("results-note").textContent = "";
    return;
  }
  renderResults();
  say($("results-note").textContent);
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function note(rows, byIdentifier) {
  if (!state.kind) return "";
  if (!rows.length) {
    return byIdentifier ? "No document mentions this identifier."
      : "No document matches these filters.";
  }
  if (!byIdentifier) return `${plural(rows.length, "document")} found.`;
  return `${plural(rows.length, "document")} ${rows.length === 1 ? "mentions" : "mention"} this identifier.`;
}

export function renderResults() {
  const rows = state.results;
  const byIdentifier = state.kind === "identifier";
  $("results-note").textContent = note(rows, byIdentifier);
  const heads = byIdentifier
    ? ["Title", "Document id", "Collection", "Passages", ""]
    : ["Title", "Document id", "Collection", "Uploaded by", "Uploaded", "Status", ""];
  const all = rows.length > 0 && rows.every((d) => state.selected.has(d.id));
  const selectAll = h("input", { type: "checkbox", checked: all,
    "aria-label": "Select every document found", onchange: (e) => select(rows, e.target.checked) });
  $("results").hidden = !rows.length;
  $("results").replaceChildren(
    h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "pick" }, selectAll),
      heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((d) => resultRow(d, byIdentifier))));
  const n = rows.filter((d) => state.selected.has(d.id)).length;
  $("erase-selected").hidden = n < 2;
  $("erase-selected").textContent = `Erase the ${n} selected…`;
}

function select(docs, on) {
  for (const d of docs) state.selected[on ? "add" : "delete"](d.id);
  renderResults();
}

function resultRow(d, byIdentifier) {
  const title = titleOf(d);
  const cells = [
    h("td", { class: "pick" }, h("input", { type: "checkbox", checked: state.selected.has(d.id),
      "aria-label": `Select ${title}`, onchange: (e) => select([d], e.target.checked) })),
    h("td", { class: "title" }, h("span", { class: "cell-title" }, title),
      d.filename && d.filename !== title ? h("span", { class: "cell-sub" }, d.filename) : null),
    h("td", { class: "mono" }, d.id),
    h("td", {}, collectionName(d.collection_id)),
  ];
  if (byIdentifier) {
    cells.push(h("td", { class: "num" }, String(d.passages)));
  } else {
    cells.push(h("td", { title: d.uploaded_by || null }, d.uploaded_by_label || d.uploaded_by || "—"),
      h("td", {}, when(d.created_at)), h("td", {}, d.status));
  }
  const chosen = state.targets.some((t) => t.id === d.id);
  cells.push(h("td", { class: "actions" }, h("button", { type: "button",
    class: "btn btn-danger btn-sm", "aria-label": `Erase ${title}`, "aria-pressed": String(chosen),
    onclick: () => state.choose([d]) }, "Erase…")));
  return h("tr", { "data-document": d.id, class: chosen ? "is-chosen" : null }, cells);
}
