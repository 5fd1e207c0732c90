// The compliance panel, for compliance officers only: find documents by metadata or by a data
// subject's identifier (titles, ids, collections and counts — never content), erase one or
// several of the documents found with a reason after a confirmation, download their signed
// receipts, list past erasures, and get the public key that verifies receipts offline.
//
// Zero retention: the identifier is sent once in a POST body. It stays in its input field only
// (no `name`, so no form can put it in a URL; autocomplete off, so the browser keeps no history
// of it). The panel's content is made from a <template> on opening and dropped on closing, with
// the identifier, the results and the receipts on show. Nothing here touches storage.

import { $, h, say } from "./dom.js";
import {
  facts, objectUrl, receiptFacts, receiptFile, revokeUrls, saveFile, verified, when,
} from "./receipt-view.js";
import { api, errorMessage, send, session } from "./session.js";

const OFFICER = "compliance_officer";

const state = {
  open: false,
  names: new Map(), // collection id -> name, for the collections this user can see
  results: [], // the documents found (metadata only)
  kind: null, // "metadata" or "identifier": which search found them
  selected: new Set(), // ids of the documents ticked in the results
  targets: [], // the documents chosen for erasure
  onChange: () => {},
};

export function initCompliance(onChange) {
  state.onChange = onChange;
  const officer = Boolean(session.me?.global_roles.includes(OFFICER));
  $("compliance-toggle").hidden = !officer;
  if (!officer) return; // the server refuses these endpoints to anyone else anyway
  $("compliance-toggle").addEventListener("click", () => toggle(!state.open));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.open && state.targets.length) chooseTargets([]);
  });
}

function toggle(open) {
  const panel = $("compliance");
  state.open = open;
  state.results = [];
  state.kind = null;
  state.selected.clear();
  state.targets = [];
  revokeUrls();
  panel.replaceChildren(...(open ? [$("compliance-template").content.cloneNode(true)] : []));
  panel.hidden = !open;
  document.body.classList.toggle("is-compliance", open);
  $("compliance-toggle").setAttribute("aria-expanded", String(open));
  if (!open) {
    $("compliance-toggle").focus();
    return;
  }
  $("compliance-close").addEventListener("click", () => toggle(false));
  $("meta-form").addEventListener("submit", findByMetadata);
  $("subject-form").addEventListener("submit", findByIdentifier);
  $("erase-form").addEventListener("submit", erase);
  $("erase-cancel").addEventListener("click", () => chooseTargets([]));
  $("erase-selected").addEventListener("click", () =>
    chooseTargets(state.results.filter((d) => state.selected.has(d.id))));
  $("erase-confirm").addEventListener("change", () => ($("erase-error").textContent = ""));
  $("erasures-refresh").addEventListener("click", loadErasures);
  $("compliance-h").focus();
  loadCollections();
  loadErasures();
  loadPublicKey();
}

// --- collections, names ------------------------------------------------------------------------

async function loadCollections() {
  let collections = [];
  try {
    collections = await api("/v1/collections");
  } catch {
    // names are a convenience: ids are shown instead
  }
  if (!state.open) return;
  state.names = new Map(collections.map((c) => [c.id, c.name]));
  const select = $("meta-collection");
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "" }, "Any collection"),
    ...collections.map((c) => h("option", { value: c.id }, c.name)));
  select.value = state.names.has(chosen) ? chosen : "";
}

const collectionName = (id) => state.names.get(id) ?? id;

// --- finding documents -------------------------------------------------------------------------

function localDay(value, plusDays = 0) {
  // <input type="date"> gives a day; the API wants an instant: midnight here, sent as UTC.
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
    if (!state.open) return;
    state.kind = kind;
    state.results = found.map((d) => (kind === "identifier" ? { ...d, id: d.document_id } : d));
    state.selected.clear();
  } catch (err) {
    if (!state.open) return;
    $(errorId).textContent = err.message;
    $("results-note").textContent = "";
    return;
  }
  renderResults();
  say($("results-note").textContent);
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function renderResults() {
  const rows = state.results;
  const byIdentifier = state.kind === "identifier";
  $("results-note").textContent = !state.kind ? ""
    : !rows.length ? (byIdentifier ? "No document mentions this identifier."
      : "No document matches these filters.")
      : byIdentifier ? `${plural(rows.length, "document")} ${rows.length === 1 ? "mentions"
        : "mention"} this identifier.`
        : `${plural(rows.length, "document")} found.`;
  const heads = byIdentifier
    ? ["Title", "Document id", "Collection", "Passages", ""]
    : ["Title", "Document id", "Collection", "Uploaded by", "Uploaded", "Status", ""];
  const all = rows.length > 0 && rows.every((d) => state.selected.has(d.id));
  const selectAll = h("input", { type: "checkbox", checked: all,
    "aria-label": "Select every document found", onchange: (e) => select(rows, e.target.checked) });
  $("results").hidden = !rows.length;
  $("results").replaceChildren(
    h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "pick" }, selectAll),
      heads.map(colHead))),
    h("tbody", {}, rows.map((d) => resultRow(d, byIdentifier))));
  const n = rows.filter((d) => state.selected.has(d.id)).length;
  $("erase-selected").hidden = n < 2;
  $("erase-selected").textContent = `Erase the ${n} selected…`;
}

function select(docs, on) {
  for (const d of docs) state.selected[on ? "add" : "delete"](d.id);
  renderResults();
}

const titleOf = (d) => d.title || d.filename || "Untitled";

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
    onclick: () => chooseTargets([d]) }, "Erase…")));
  return h("tr", { "data-document": d.id, class: chosen ? "is-chosen" : null }, cells);
}

// --- erasing -----------------------------------------------------------------------------------

function chooseTargets(docs) {
  state.targets = docs;
  $("erase-form").reset();
  $("erase-error").textContent = "";
  $("erase-progress").textContent = "";
  $("erase-card").hidden = !docs.length;
  renderResults();
  if (!docs.length) return;
  const one = docs.length === 1;
  $("erase-h").textContent = one ? "Erase this document" : `Erase these ${docs.length} documents`;
  $("erase-confirm-text").textContent = one
    ? "I confirm: erase this document, its passages and its original file for everyone."
    : `I confirm: erase these ${docs.length} documents, their passages and original files for everyone.`;
  $("erase-target").replaceChildren(...(one ? facts([
    ["Title", titleOf(docs[0])],
    ["Document id", docs[0].id, "mono"],
    ["Collection", collectionName(docs[0].collection_id)],
  ]) : [h("dt", {}, "Documents"), h("dd", {}, h("ul", { class: "plain" },
    docs.map((d) => h("li", {}, `${titleOf(d)} `,
      h("span", { class: "muted" }, `(${collectionName(d.collection_id)})`)))))]));
  $("erase-card").scrollIntoView({ block: "nearest" });
  $("erase-reason").focus();
}

function checkErase(reason) {
  if (!reason) {
    $("erase-error").textContent = "Give a reason or reference (a case or ticket id).";
    $("erase-reason").focus();
    return false;
  }
  if (!$("erase-confirm").checked) {
    $("erase-error").textContent = "Tick the box to confirm the erasure.";
    $("erase-confirm").focus();
    return false;
  }
  return true;
}

async function erase(event) {
  event.preventDefault();
  const targets = state.targets;
  const reason = $("erase-reason").value.trim();
  $("erase-error").textContent = "";
  if (!targets.length || !checkErase(reason)) return;
  const buttons = $("erase-form").querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  const erased = [];
  const failed = [];
  for (const [i, target] of targets.entries()) { // one at a time: each is a complete erasure
    const step = targets.length > 1 ? ` ${i + 1} of ${targets.length} (${titleOf(target)})` : "";
    if (state.open) {
      $("erase-progress").textContent =
        `Erasing${step}… each returns once every trace is removed and checked.`;
    }
    say(`Erasing${step}…`);
    try {
      const signed = await api("/v1/erasures", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ document_id: target.id, reason }),
      });
      erased.push({ target, signed });
    } catch (err) {
      failed.push({ target, err });
    }
  }
  buttons.forEach((b) => (b.disabled = false));
  if (erased.length) state.onChange(); // the collection and document lists no longer hold them
  if (!state.open) return; // closed while erasing: the receipts are under past erasures
  settle(erased, failed);
}

function settle(erased, failed) {
  const gone = new Set(erased.map((e) => e.target.id));
  state.results = state.results.filter((d) => !gone.has(d.id));
  for (const id of gone) state.selected.delete(id);
  if (failed.length) {
    const reason = $("erase-reason").value;
    chooseTargets(failed.map((f) => f.target)); // what is left to erase, with the same reason
    $("erase-reason").value = reason;
    $("erase-error").textContent = failed.map((f) =>
      `${titleOf(f.target)} was not erased: ${f.err.message}`).join(" ");
    say("An erasure failed.");
  } else {
    chooseTargets([]);
  }
  if (erased.length) showReceipts(erased);
  loadErasures();
}

function showReceipts(erased) {
  const summary = erased.length === 1 ? `${titleOf(erased[0].target)} was erased.`
    : `${erased.length} documents were erased.`;
  $("receipt-summary").textContent = summary;
  const one = erased.length === 1 ? erased[0].signed : null;
  $("receipt-facts").replaceChildren(...(one ? receiptFacts(one.receipt, collectionName) : []));
  $("receipt-facts").hidden = !one;
  const link = $("receipt-download");
  link.hidden = !one;
  if (one) {
    link.href = objectUrl(one);
    link.download = receiptFile(one.receipt.request_id);
  }
  $("receipt-list").hidden = Boolean(one);
  $("receipt-list").replaceChildren(...(one ? [] : erased.map(receiptItem)));
  $("receipt-card").hidden = false;
  $("receipt-h").focus();
  say(summary);
}

function receiptItem({ target, signed }) {
  const r = signed.receipt;
  return h("li", {},
    h("span", { class: "cell-title" }, titleOf(target)),
    h("span", { class: "cell-sub mono" }, `request ${r.request_id}`),
    h("span", { class: "cell-sub" }, verified(r.verification) ? "Verified: nothing left"
      : "Verification FAILED"),
    h("a", { class: "btn btn-quiet btn-sm", href: objectUrl(signed),
      download: receiptFile(r.request_id), "aria-label": `Download the receipt for ${titleOf(target)}` },
    "Download receipt"));
}

// --- past erasures -----------------------------------------------------------------------------

async function loadErasures() {
  let erasures;
  try {
    erasures = await api("/v1/erasures");
  } catch (err) {
    const message = `Could not load past erasures: ${err.message}`;
    if (state.open) $("erasures-error").textContent = message;
    return;
  }
  if (!state.open) return;
  $("erasures-error").textContent = "";
  $("erasures-empty").hidden = erasures.length > 0;
  $("erasures").hidden = !erasures.length;
  const heads = ["Requested", "Request id", "Document id", "Collection", "Reason", "State", ""];
  $("erasures").replaceChildren(
    h("thead", {}, h("tr", {}, heads.map(colHead))),
    h("tbody", {}, erasures.map(erasureRow)));
}

// A column's header; the buttons' column ("") is named for screen readers only.
const colHead = (t) =>
  h("th", { scope: "col" }, t || h("span", { class: "visually-hidden" }, "Actions"));

function erasureRow(e) {
  const download = e.state === "completed"
    ? h("button", { type: "button", class: "link", "aria-label": `Download receipt ${e.id}`,
      onclick: (ev) => downloadReceipt(e, ev.currentTarget) }, "Download")
    : h("span", { class: "muted" }, "no receipt yet");
  return h("tr", { "data-erasure": e.id },
    h("td", {}, when(e.requested_at)),
    h("td", { class: "mono" }, e.id),
    h("td", { class: "mono" }, e.document_id),
    h("td", {}, collectionName(e.collection_id)),
    h("td", { class: "cell-reason" }, e.reason),
    h("td", { class: "nowrap" }, e.state),
    h("td", { class: "actions" }, download));
}

async function downloadReceipt(e, button) {
  button.disabled = true;
  try {
    const signed = await api(`/v1/erasures/${encodeURIComponent(e.id)}/receipt`);
    if (!state.open) return;
    saveFile(objectUrl(signed), receiptFile(e.id));
    say(`Receipt ${e.id} downloaded`);
    $("erasures-error").textContent = "";
  } catch (err) {
    if (!state.open) return;
    $("erasures-error").textContent = `Could not get receipt ${e.id}: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

// --- public key --------------------------------------------------------------------------------

async function loadPublicKey() {
  try {
    const res = await send("/v1/erasures/public-key", { headers: { Accept: "text/plain" } });
    if (!res.ok) throw new Error(await errorMessage(res));
    const pem = await res.text();
    if (!state.open) return;
    $("public-key").value = pem;
    const link = $("public-key-download");
    link.href = objectUrl(pem, "application/x-pem-file");
    link.hidden = false;
    const id = await keyId(pem);
    if (state.open) $("public-key-id").textContent = id ?? "";
  } catch (err) {
    const message = `Could not load the public key: ${err.message}`;
    if (state.open) $("pubkey-error").textContent = message;
  }
}

async function keyId(pem) {
  // As receipts name it: "ed25519:" + the first 16 hex digits of sha256(raw public key).
  if (!crypto.subtle) return null; // only in a secure context (HTTPS or this machine)
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der.slice(-32)));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `Key id: ed25519:${hex.slice(0, 16)}`;
}
