// Records on the compliance page: past erasures and deletions (each receipt downloadable
// again), and the public key that verifies receipts offline.

import { $, h, say } from "./dom.js";
import { collectionName } from "./compliance-find.js";
import { objectUrl, receiptFile, saveFile, when } from "./receipt-view.js";
import { api, errorMessage, send } from "./session.js";

export function wireRecords() {
  $("erasures-refresh").addEventListener("click", loadErasures);
}

export async function loadErasures() {
  let erasures;
  try {
    erasures = await api("/v1/erasures");
  } catch (err) {
    $("erasures-error").textContent = `Could not load past erasures: ${err.message}`;
    return;
  }
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
    saveFile(objectUrl(signed), receiptFile(e.id));
    say(`Receipt ${e.id} downloaded`);
    $("erasures-error").textContent = "";
  } catch (err) {
    $("erasures-error").textContent = `Could not get receipt ${e.id}: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

export async function loadPublicKey() {
  try {
    const res = await send("/v1/erasures/public-key", { headers: { Accept: "text/plain" } });
    if (!res.ok) throw new Error(await errorMessage(res));
    const pem = await res.text();
    $("public-key").value = pem;
    const link = $("public-key-download");
    link.href = objectUrl(pem, "application/x-pem-file");
    link.hidden = false;
    const id = await keyId(pem);
    $("public-key-id").textContent = id ?? "";
  } catch (err) {
    $("pubkey-error").textContent = `Could not load the public key: ${err.message}`;
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
