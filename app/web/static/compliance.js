// The compliance panel, for compliance officers only: find documents by metadata or by a data
// subject's identifier (titles, ids, collections and counts — never content), erase one with a
// reason after a confirmation, download its signed receipt, list past erasures, and get the
// public key that verifies receipts offline.
//
// Zero retention: the identifier is sent once in a POST body. It stays in its input field only
// (no `name`, so no form can put it in a URL; autocomplete off, so the browser keeps no history
// of it). The panel's content is made from a <template> on opening and dropped on closing, with
// the identifier, the results and the receipts on show. Nothing here touches storage.

import { $, h, say } from "./dom.js";
import { api, errorMessage, send, session } from "./session.js";

const OFFICER = "compliance_officer";

const state = {
  open: false,
  names: new Map(), // collection id -> name, for the collections this user can see
  results: [], // the documents found (metadata only)
  kind: null, // "metadata" or "identifier": which search found them
  target: null, // the document chosen for erasure
  urls: [], // object URLs of the downloads on offer, revoked when replaced
  onChange: () => {},
};

export function initCompliance(onChange) {
  state.onChange = onChange;
  const officer = Boolean(session.me?.global_roles.includes(OFFICER));
  $("compliance-toggle").hidden = !officer;
  if (!officer) return; // the server refuses these endpoints to anyone else anyway
  $("compliance-toggle").addEventListener("click", () => toggle(!state.open));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.open && state.target) chooseTarget(null);
  });
}

function toggle(open) {
  const panel = $("compliance");
  state.open = open;
  state.results = [];
  state.kind = null;
  state.target = null;
  for (const url of state.urls.splice(0)) URL.revokeObjectURL(url);
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
  $("erase-cancel").addEventListener("click", () => chooseTarget(null));
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
  $("results").hidden = !rows.length;
  $("results").replaceChildren(
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((d) => resultRow(d, byIdentifier))));
}

function resultRow(d, byIdentifier) {
  const title = d.title || d.filename || "Untitled";
  const cells = [
    h("td", {}, h("span", { class: "cell-title" }, title),
      d.filename && d.filename !== title ? h("span", { class: "cell-sub" }, d.filename) : null),
    h("td", { class: "mono" }, d.id),
    h("td", {}, collectionName(d.collection_id)),
  ];
  if (byIdentifier) {
    cells.push(h("td", { class: "num" }, String(d.passages)));
  } else {
    cells.push(h("td", { class: "mono" }, d.uploaded_by || "—"),
      h("td", {}, when(d.created_at)), h("td", {}, d.status));
  }
  const chosen = state.target?.id === d.id;
  cells.push(h("td", { class: "actions" }, h("button", { type: "button",
    class: "btn btn-danger btn-sm", "aria-label": `Erase ${title}`, "aria-pressed": String(chosen),
    onclick: () => chooseTarget(d) }, "Erase…")));
  return h("tr", { "data-document": d.id, class: chosen ? "is-chosen" : null }, cells);
}

function when(iso) {
  if (!iso) return "—";
  return h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

// --- erasing -----------------------------------------------------------------------------------

function chooseTarget(d) {
  state.target = d;
  $("erase-form").reset();
  $("erase-error").textContent = "";
  $("erase-progress").textContent = "";
  $("erase-card").hidden = !d;
  renderResults();
  if (!d) return;
  $("erase-target").replaceChildren(...facts([
    ["Title", d.title || d.filename || "Untitled"],
    ["Document id", d.id, "mono"],
    ["Collection", collectionName(d.collection_id)],
  ]));
  $("erase-card").scrollIntoView({ block: "nearest" });
  $("erase-reason").focus();
}

async function erase(event) {
  event.preventDefault();
  const target = state.target;
  if (!target) return;
  const reason = $("erase-reason").value.trim();
  $("erase-error").textContent = "";
  if (!reason) {
    $("erase-error").textContent = "Give a reason or reference (a case or ticket id).";
    $("erase-reason").focus();
    return;
  }
  if (!$("erase-confirm").checked) {
    $("erase-error").textContent = "Tick the box to confirm the erasure.";
    $("erase-confirm").focus();
    return;
  }
  const buttons = $("erase-form").querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  $("erase-progress").textContent =
    "Erasing… this returns once every trace is removed and checked.";
  say("Erasing the document…");
  let signed;
  try {
    signed = await api("/v1/erasures", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ document_id: target.id, reason }),
    });
  } catch (err) {
    if (!state.open) return;
    $("erase-progress").textContent = "";
    $("erase-error").textContent = `The erasure did not complete: ${err.message}`;
    say("The erasure failed.");
    return;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
  state.onChange(); // the collection and document lists no longer hold it
  if (!state.open) return; // closed while erasing: the receipt is under past erasures
  state.results = state.results.filter((d) => d.id !== target.id);
  chooseTarget(null);
  showReceipt(signed, `${target.title || target.filename || target.id} was erased.`);
  loadErasures();
}

function showReceipt(signed, summary) {
  const r = signed.receipt;
  $("receipt-summary").textContent = summary;
  $("receipt-facts").replaceChildren(...facts([
    ["Request id", r.request_id, "mono"],
    ["Kind", r.kind],
    ["Document id", r.document_id, "mono"],
    ["Collection", collectionName(r.collection_id)],
    ["Content hash", r.content_hash, "mono"],
    ["Requested at", when(r.requested_at)],
    ["Completed at", when(r.completed_at)],
    ["Removed", removedText(r.removed)],
    ["Verification", verificationText(r.verification)],
    ["Signed by key", r.key_id, "mono"],
  ]));
  const link = $("receipt-download");
  link.href = objectUrl(signed);
  link.download = receiptFile(r.request_id);
  $("receipt-card").hidden = false;
  $("receipt-h").focus();
  say(summary);
}

const LABELS = {
  index_points: ["index point", "index points"],
  originals: ["original file", "original files"],
  job_rows: ["job row", "job rows"],
  document_rows: ["document row", "document rows"],
  document_rows_remaining: ["document row", "document rows"],
  job_rows_remaining: ["job row", "job rows"],
  index_points_remaining: ["index point", "index points"],
  originals_remaining: ["original file", "original files"],
  partial_uploads: ["interrupted upload", "interrupted uploads"],
  partial_uploads_remaining: ["interrupted upload", "interrupted uploads"],
  index_files_naming_document: ["index file naming it", "index files naming it"],
};

function counted(counts) {
  return Object.entries(counts ?? {})
    .filter(([, n]) => typeof n === "number")
    .map(([key, n]) => {
      const [one, many] = LABELS[key] ?? [key.replaceAll("_", " "), key.replaceAll("_", " ")];
      return `${n} ${n === 1 ? one : many}`;
    });
}

const removedText = (removed) => counted(removed).join(" · ") || "—";

function verificationText(checks) {
  const left = counted(checks);
  const clean = Object.values(checks ?? {}).every((v) => typeof v !== "number" || v === 0);
  const db = checks?.database ? ` (database: ${checks.database})` : "";
  return `${clean ? "Passed — nothing left" : "FAILED"}: ${left.join(", ")}${db}`;
}

function facts(pairs) {
  return pairs.flatMap(([label, value, cls]) => [
    h("dt", {}, label),
    h("dd", { class: cls ?? null }, value ?? "—"),
  ]);
}

// --- downloads (made in the page: a Blob, no further request) ----------------------------------

const receiptFile = (requestId) => `erasure-receipt-${requestId}.json`;

function objectUrl(data, type = "application/json") {
  const text = typeof data === "string" ? data : `${JSON.stringify(data, null, 2)}\n`;
  const url = URL.createObjectURL(new Blob([text], { type }));
  state.urls.push(url);
  return url;
}

function saveFile(url, filename) {
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
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
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, erasures.map(erasureRow)));
}

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
