// The audit trail on the compliance page: filter it (event, outcome, actor, collection, days;
// the server filters inside its query), page through it oldest first, and export what the
// filters select as JSON Lines (a download straight from the server, all pages at once).

import { $, h, say } from "./dom.js";
import { collectionName, localDay } from "./compliance-find.js";
import { saveFile, when } from "./receipt-view.js";
import { api } from "./session.js";

const PAGE = 50;
const OUTCOMES = { ok: "allowed", denied: "refused" };

const paging = { filters: null, starts: [0] }; // `after` of each page shown so far

export async function wireAudit() {
  $("audit-form").addEventListener("submit", (e) => {
    e.preventDefault();
    show();
  });
  $("audit-export").addEventListener("click", exportTrail);
  $("audit-next").addEventListener("click", () => turn(1));
  $("audit-prev").addEventListener("click", () => turn(-1));
  try {
    const actions = await api("/v1/audit/actions");
    $("audit-action").append(...actions.map((a) => h("option", { value: a }, a)));
  } catch {
    // the field still takes "any event"
  }
}

// The form's filters as query parameters, or null (and a sentence) when they cannot be right.
function filters() {
  $("audit-error").textContent = "";
  const query = new URLSearchParams();
  const add = (key, value) => value && query.set(key, value);
  add("action", $("audit-action").value);
  add("outcome", $("audit-outcome").value);
  add("actor", $("audit-actor").value.trim());
  add("collection", $("audit-collection").value);
  const since = $("audit-since").value;
  const until = $("audit-until").value;
  if (since && until && until < since) {
    $("audit-error").textContent = "The end date is before the start date.";
    return null;
  }
  if (since) query.set("since", localDay(since));
  if (until) query.set("until", localDay(until, 1)); // the whole end day
  return query;
}

function show() {
  const query = filters();
  if (!query) return;
  paging.filters = query;
  paging.starts = [0];
  load();
}

function turn(step) {
  if (step < 0) paging.starts.pop();
  load(step > 0 ? paging.next : undefined);
}

async function load(after) {
  if (after !== undefined) paging.starts.push(after);
  const start = paging.starts.at(-1);
  const query = new URLSearchParams(paging.filters);
  query.set("after", String(start));
  query.set("limit", String(PAGE + 1)); // one more: is there a next page?
  $("audit-note").textContent = "Loading…";
  let rows;
  try {
    rows = await api(`/v1/audit?${query}`);
  } catch (err) {
    $("audit-note").textContent = "";
    $("audit-error").textContent = `Could not load the audit trail: ${err.message}`;
    return;
  }
  const more = rows.length > PAGE;
  rows = rows.slice(0, PAGE);
  paging.next = rows.at(-1)?.id;
  const page = paging.starts.length;
  const first = (page - 1) * PAGE + 1;
  $("audit-note").textContent = !rows.length ? "No event matches these filters."
    : `Events ${first}–${first + rows.length - 1}${more ? "" : " (the last)"}, page ${page}.`;
  $("audit-prev").hidden = page < 2;
  $("audit-next").hidden = !more;
  render(rows);
  say($("audit-note").textContent);
}

function render(rows) {
  const heads = ["When", "Event", "Outcome", "Actor", "Collection", "Document or target", "Reason"];
  $("audit").hidden = !rows.length;
  $("audit").replaceChildren(
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map(eventRow)));
}

function eventRow(e) {
  const outcome = OUTCOMES[e.outcome] ?? e.outcome;
  return h("tr", { "data-event": String(e.id), class: e.outcome === "denied" ? "is-denied" : null },
    h("td", { class: "nowrap" }, when(e.at)),
    h("td", { class: "mono nowrap" }, e.action),
    h("td", {}, outcome),
    h("td", { title: e.actor || null },
      h("span", { class: "cell-title" }, e.actor_label || e.actor || "—"),
      h("span", { class: "cell-sub" }, e.actor_kind.replace("_", " "))),
    h("td", {}, e.collection_id ? collectionName(e.collection_id) : "—"),
    h("td", { class: "mono" }, e.document_id || e.target || "—"),
    h("td", { class: "mono" }, e.reason || ""));
}

function exportTrail() {
  const query = filters();
  if (!query) return;
  saveFile(`/v1/audit/export?${query}`, "enclave-audit.jsonl");
  say("The audit trail export has started.");
}
