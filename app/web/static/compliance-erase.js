// Erasing on the compliance page: one or several of the documents found, with a reason and an
// explicit confirmation; each erasure returns once every trace is gone, with a signed receipt
// shown and downloadable in the page.

import { $, h, say } from "./dom.js";
import { state, renderResults, titleOf, collectionName } from "./compliance-find.js";
import { loadErasures } from "./compliance-records.js";
import { facts, objectUrl, receiptFacts, receiptFile, verified } from "./receipt-view.js";
import { api } from "./session.js";

export function wireErase() {
  $("erase-form").addEventListener("submit", erase);
  $("erase-cancel").addEventListener("click", () => chooseTargets([]));
  $("erase-confirm").addEventListener("change", () => ($("erase-error").textContent = ""));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.targets.length) chooseTargets([]);
  });
}

export function chooseTargets(docs) {
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
    $("erase-progress").textContent =
      `Erasing${step}… each returns once every trace is removed and checked.`;
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
