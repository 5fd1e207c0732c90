// The search page: passages, not prose. Each result shows the sentences that match, highlighted
// inside a little of their passage, with the document, section and page; Enter (or a click)
// opens the whole passage in the source panel. Collection and document-type filters are part of
// the server's index query. Zero retention: the search is sent in a POST body (never in the
// address, so no server or proxy log sees it) and lives only in this page's memory.

import "./nav.js";
import { $, h } from "./dom.js";
import { closeSource, openSource } from "./passage.js";
import { errorMessage, loadMe, send, SessionEnded } from "./session.js";

const K = 20; // results asked for
const CONTEXT = 160; // characters of the passage shown around the matching sentences

const state = { names: new Map(), hits: [], asked: 0 };

// --- searching --------------------------------------------------------------------------------

async function search() {
  const query = $("search-query").value.trim();
  $("search-error").textContent = "";
  if (!query) {
    $("search-error").textContent = "Type something to search for.";
    $("search-query").focus();
    return;
  }
  const body = { query, k: K };
  if ($("search-collection").value) body.collections = [$("search-collection").value];
  if ($("search-type").value) body.types = [$("search-type").value];
  const asked = ++state.asked; // a newer search wins over an older answer still on its way
  status("Searching…");
  let found;
  try {
    const res = await send("/v1/search", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(await errorMessage(res));
    found = await res.json();
  } catch (err) {
    if (asked !== state.asked) return;
    status("");
    $("search-error").textContent = err instanceof SessionEnded ? err.message
      : err instanceof TypeError ? "Enclave could not be reached. Check the connection and search again."
        : `The search failed: ${err.message}`;
    return;
  }
  if (asked === state.asked) show(found.hits);
}

function status(text) {
  $("search-status").textContent = text;
}

function show(hits) {
  if (!$("source-panel").hidden) closeSource();
  state.hits = hits;
  $("results").replaceChildren(...hits.map(result));
  $("results").hidden = hits.length === 0;
  $("search-empty").hidden = hits.length > 0;
  const filtered = $("search-collection").value || $("search-type").value;
  if (hits.length) {
    status(hits.length === 1 ? "1 passage found." : `${hits.length} passages found, best first.`);
  } else {
    status("");
    $("search-empty").replaceChildren(h("p", {}, "No passage matches this search. ",
      filtered ? "Try other words, or widen the filters." : "Try other words."));
  }
}

// --- one result -------------------------------------------------------------------------------

function result(hit, i) {
  const source = { ...hit, number: i + 1 };
  const span = hit.passage ? { start: hit.passage.start, end: hit.passage.end, kind: "search" } : null;
  const title = h("button", { type: "button", class: "result-title",
    "aria-describedby": `result-${i}-where` }, hit.title || "Untitled");
  title.addEventListener("click", () => openSource(source, title, span));
  const original = `/v1/documents/${encodeURIComponent(hit.document_id)}/original`;
  return h("li", { class: "result" },
    h("div", { class: "result-head" },
      h("span", { class: "cite cite-static", "aria-hidden": "true" }, String(i + 1)),
      h("h2", {}, title)),
    h("p", { class: "result-where", id: `result-${i}-where` }, where(hit)),
    h("p", { class: "result-passage" }, excerpt(Array.from(hit.text), hit.passage)),
    hit.passage ? null : h("p", { class: "result-note" },
      "No sentence here shares a word with your search: it was found by meaning."),
    h("a", { class: "result-original", href: original, download: "" },
      "Download the original", h("span", { class: "visually-hidden" }, ` of ${hit.title}`)));
}

// The collection, section path and page where the matching sentences start.
function where(hit) {
  const at = hit.passage?.start ?? 0;
  const place = hit.places?.filter((p) => p.offset <= at).at(-1)
    ?? { page: hit.page, section: hit.section };
  return [
    state.names.get(hit.collection_id),
    place.section ? place.section.split(" > ").join(" › ") : null,
    place.page !== null && place.page !== undefined ? `page ${place.page}` : null,
  ].filter(Boolean).join(" · ");
}

// The matching sentences highlighted, with up to CONTEXT characters of their paragraph either
// side (cut at a space). Offsets count code points, as the server's do.
function excerpt(chars, passage) {
  const text = (a, b) => chars.slice(a, b).join("").replace(/\s+/g, " ");
  if (!passage) return [text(0, 2 * CONTEXT).trim(), chars.length > 2 * CONTEXT ? " …" : ""];
  const { start, end } = passage;
  let from = Math.max(start - CONTEXT, paragraphStart(chars, start));
  let to = Math.min(end + CONTEXT, paragraphEnd(chars, end));
  while (from > 0 && from < start && !/\s/.test(chars[from - 1])) from += 1;
  while (to < chars.length && to > end && !/\s/.test(chars[to])) to -= 1;
  return [
    from > 0 ? "… " : "",
    text(from, start).trimStart(),
    h("mark", {}, text(start, end)),
    text(end, to).trimEnd(),
    to < chars.length ? " …" : "",
  ].filter((part) => part !== "");
}

// Paragraphs are separated by a blank line: where the one holding character `i` starts / ends.
function paragraphStart(chars, i) {
  for (let j = i - 1; j > 0; j -= 1) if (chars[j] === "\n" && chars[j - 1] === "\n") return j + 1;
  return 0;
}

function paragraphEnd(chars, i) {
  for (let j = i; j < chars.length - 1; j += 1) {
    if (chars[j] === "\n" && chars[j + 1] === "\n") return j;
  }
  return chars.length;
}

// --- keyboard ---------------------------------------------------------------------------------

const TYPING = new Set(["INPUT", "SELECT", "TEXTAREA"]);

function onKey(e) {
  if (e.altKey || e.ctrlKey || e.metaKey || e.isComposing) return;
  if (e.key === "Escape" && !$("source-panel").hidden) {
    closeSource(); // focus goes back to the result that opened it
    return;
  }
  const titles = [...document.querySelectorAll("#results .result-title")];
  if (!titles.length) return;
  const here = titles.indexOf(document.activeElement?.closest(".result")
    ?.querySelector(".result-title"));
  const inBox = document.activeElement === $("search-query");
  const typing = TYPING.has(document.activeElement?.tagName);
  const down = e.key === "ArrowDown" || (e.key === "j" && !typing);
  const up = e.key === "ArrowUp" || (e.key === "k" && !typing);
  if (down && (here >= 0 || inBox || (e.key === "j" && !typing))) {
    e.preventDefault();
    titles[Math.min(here + 1, titles.length - 1)].focus();
  } else if (up && here > 0) {
    e.preventDefault();
    titles[here - 1].focus();
  } else if (up && here === 0) {
    e.preventDefault();
    $("search-query").focus();
  }
}

// --- wiring -----------------------------------------------------------------------------------

function wire() {
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search();
  });
  for (const id of ["search-collection", "search-type"]) { // a filter changed: search again
    $(id).addEventListener("change", () => {
      if ($("search-query").value.trim()) search();
    });
  }
  $("close-source").addEventListener("click", closeSource);
  document.addEventListener("keydown", onKey);
}

function fillCollections(me) {
  const readable = me.collections.filter((c) => c.permissions.includes("read"));
  state.names = new Map(me.collections.map((c) => [c.id, c.name]));
  const select = $("search-collection");
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "" }, "All your collections"),
    ...readable.map((c) => h("option", { value: c.id, selected: c.id === chosen }, c.name)));
  if (!readable.length) {
    $("search-empty").replaceChildren(h("p", {},
      "You cannot read any collection yet. Ask a collection's administrator for access."));
  }
}

wire();
document.addEventListener("enclave:me", (e) => fillCollections(e.detail));
loadMe().catch((err) => {
  if (!(err instanceof SessionEnded)) $("search-error").textContent = err.message;
});
$("search-query").focus();
