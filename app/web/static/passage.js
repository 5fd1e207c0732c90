// The source panel: the passage a citation points at, with the sentence that supports the claim
// highlighted inside its neighbouring text, tables as tables, a marker where a new page begins,
// and the page and section path of what is highlighted. Offsets from the server count Unicode
// code points (Python's), so texts are handled as arrays of code points here.

import { $, h } from "./dom.js";
import { api } from "./session.js";

let opener = null; // the chip that opened the panel

const HIGHLIGHT = {
  support: "Highlighted: the passage that supports the claim.",
  closest: "Highlighted: the closest passage found. It does not support the claim.",
  match: "Highlighted: the sentences that match the question.",
  search: "Highlighted: the sentences that match your search.",
};

// `span`: {start, end, kind} in the source's text (kind: support, closest or match), or null.
export async function openSource(source, chip, span = null) {
  opener?.classList.remove("is-open");
  opener = chip;
  chip.classList.add("is-open");
  $("source-number").textContent = String(source.number);
  $("source-title").textContent = source.title || "Untitled";
  $("source-original").href = `/v1/documents/${encodeURIComponent(source.document_id)}/original`;
  $("source-panel").hidden = false; // visible first: a hidden panel cannot scroll to its mark
  document.body.classList.add("has-source");
  $("source-title").focus({ preventScroll: true });
  show(source, span);
  if (source.text && source.places) return;
  try { // the chunk says on which page and in which section each part of the passage lies
    const chunk = await api(`/v1/chunks/${encodeURIComponent(source.chunk_id)}`);
    if (opener === chip) show({ ...source, text: chunk.text, places: chunk.places }, span);
  } catch (err) {
    if (!source.text) $("source-text").textContent = `Could not load the passage: ${err.message}`;
  }
}

export function closeSource() {
  $("source-panel").hidden = true;
  document.body.classList.remove("has-source");
  const chip = opener;
  opener = null;
  chip?.classList.remove("is-open");
  if (chip?.isConnected) chip.focus();
}

function show(source, span) {
  const places = source.places?.length ? source.places
    : [{ offset: 0, page: source.page, section: source.section }];
  $("source-meta").replaceChildren(...meta(places, span));
  $("source-highlight").textContent = span && source.text ? HIGHLIGHT[span.kind] ?? "" : "";
  if (!source.text) {
    $("source-text").textContent = "Loading…";
    return;
  }
  $("source-text").replaceChildren(...passage(Array.from(source.text), places, span));
  $("source-text").querySelector("mark, .is-highlighted")?.scrollIntoView({ block: "center" });
}

// Page and section: of the highlighted part when there is one, else of the whole passage.
function meta(places, span) {
  const at = (offset) => places.filter((p) => p.offset <= offset).at(-1) ?? places[0];
  const shown = span ? [at(span.start), at(Math.max(span.start, span.end - 1))] : places;
  const pages = [...new Set(shown.map((p) => p.page).filter((n) => n !== null))];
  const sections = [...new Set(shown.map((p) => p.section).filter(Boolean))];
  return [
    [sections.length > 1 ? "Sections" : "Section", sectionsText(sections)],
    [pages.length > 1 ? "Pages" : "Page",
      pages.length > 1 ? `${Math.min(...pages)}–${Math.max(...pages)}` : pages[0]],
  ].filter(([, v]) => v).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]);
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

// The text's blocks (the parser separates them by a blank line): a page marker where a new page
// begins, headings, tables (rows of "cell | cell"), paragraphs; the span highlighted.
function passage(chars, places, span) {
  const nodes = [];
  let page = places[0]?.page ?? null;
  for (const [start, end] of blocks(chars)) {
    const place = places.filter((p) => p.offset <= start).at(-1) ?? places[0];
    if (place && place.page !== null && place.page !== page) {
      nodes.push(h("span", { class: "page-mark" }, `Page ${place.page}`));
      page = place.page;
    }
    const text = chars.slice(start, end).join("");
    const rows = text.split("\n");
    const cells = rows.map((row) => row.split(" | ").length);
    if (cells[0] > 1 && cells.every((n) => n === cells[0])) {
      nodes.push(table(rows, start, span));
    } else if (place?.section && place.section.split(" > ").at(-1) === text.trim()) {
      nodes.push(h("p", { class: "passage-heading" }, marked(chars, start, end, span)));
    } else {
      nodes.push(h("p", {}, marked(chars, start, end, span)));
    }
  }
  return nodes;
}

function blocks(chars) {
  const out = [];
  let start = 0;
  for (let i = 0; i < chars.length - 1; i += 1) {
    if (chars[i] === "\n" && chars[i + 1] === "\n") {
      if (i > start) out.push([start, i]);
      start = i + 2;
      i += 1;
    }
  }
  if (start < chars.length) out.push([start, chars.length]);
  return out;
}

function marked(chars, start, end, span) {
  const a = span ? Math.min(Math.max(span.start, start), end) : end;
  const b = span ? Math.min(Math.max(span.end, start), end) : end;
  const text = (x, y) => chars.slice(x, y).join("");
  if (a >= b) return [text(start, end)];
  return [text(start, a), h("mark", {}, text(a, b)), text(b, end)].filter((p) => p !== "");
}

function table(rows, start, span) {
  let offset = start;
  const trs = rows.map((row, i) => {
    const length = Array.from(row).length;
    const hit = span && span.start < offset + length && span.end > offset;
    offset += length + 1;
    const cell = i === 0 && rows.length > 1 ? "th" : "td";
    return h("tr", { class: hit ? "is-highlighted" : null },
      row.split(" | ").map((c) => h(cell, {}, c)));
  });
  const [head, ...body] = rows.length > 1 ? trs : [null, ...trs];
  return h("div", { class: "table-wrap" }, h("table", { class: "table passage-table" },
    head ? h("thead", {}, head) : null, h("tbody", {}, body)));
}
