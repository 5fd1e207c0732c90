// Erasure receipts as the compliance page shows them: facts and counts in words, and downloads
// made in the page (a Blob: no further request). Object URLs go when the page is left.

import { h } from "./dom.js";

export const receiptFile = (requestId) => `erasure-receipt-${requestId}.json`;

export function objectUrl(data, type = "application/json") {
  const text = typeof data === "string" ? data : `${JSON.stringify(data, null, 2)}\n`;
  return URL.createObjectURL(new Blob([text], { type }));
}

export function saveFile(url, filename) {
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}

export function when(iso) {
  if (!iso) return "—";
  return h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

export function facts(pairs) {
  return pairs.flatMap(([label, value, cls]) => [
    h("dt", {}, label),
    h("dd", { class: cls ?? null }, value ?? "—"),
  ]);
}

// The facts of one receipt; `collectionName` turns a collection id into its name.
export function receiptFacts(r, collectionName) {
  return facts([
    ["Request id", r.request_id, "mono"],
    ["Kind", r.kind],
    ["Reason", r.reason || "—"],
    ["Document id", r.document_id, "mono"],
    ["Collection", collectionName(r.collection_id)],
    ["Content hash", r.content_hash, "mono"],
    ["Requested at", when(r.requested_at)],
    ["Completed at", when(r.completed_at)],
    ["Removed", removedText(r.removed)],
    ["Verification", verificationText(r.verification)],
    ["Signed by key", r.key_id, "mono"],
  ]);
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

export const verified = (checks) =>
  Object.values(checks ?? {}).every((v) => typeof v !== "number" || v === 0);

export function verificationText(checks) {
  const db = checks?.database ? ` (database: ${checks.database})` : "";
  return `${verified(checks) ? "Passed — nothing left" : "FAILED"}: ${counted(checks).join(", ")}${db}`;
}
