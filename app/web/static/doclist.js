// A collection's documents as a list, shared by the chat page's sidebar and the Documents page:
// each with its status (a failure with the reason in a sentence), and Delete for those allowed
// (a confirmation first; the server decides anyway). A page adds its own actions per document.

import { h, say } from "./dom.js";
import { FINAL } from "./uploads.js";
import { api, may, session } from "./session.js";

// Collection admins delete any document; contributors their own uploads (the server decides).
export const mayDelete = (d) => may("delete", d.collection_id)
  || (may("write", d.collection_id) && d.uploaded_by === session.me?.id);

const count = (n, word) => n && `${n} ${word}${n === 1 ? "" : "s"}`;

// `list`: the <ul>; `tell(text, isError)`: where outcomes are said; `changed()`: reload after a
// deletion; `actions(d)`: the page's own controls for a document.
export function documentList(list, { tell, changed, actions = () => [] }) {
  const statuses = new Map(); // document id -> last seen status, to announce changes
  let confirming = null; // id of the document whose deletion awaits confirmation

  function item(d) {
    if (confirming === d.id) return confirmItem(d);
    const busy = !FINAL.has(d.status);
    const progress =
      d.status === "embedding" && d.chunks_total ? ` ${d.chunks_done}/${d.chunks_total}` : "";
    const meta = [count(d.pages, "page"), count(d.chunks_total, "chunk")].filter(Boolean);
    const name = d.title || d.filename;
    const remove = mayDelete(d) && d.status !== "erasing"
      ? h("button", { type: "button", class: "link doc-delete", "aria-label": `Delete ${name}`,
        onclick: (e) => ask(d, e.currentTarget.closest("li")) }, "Delete")
      : null;
    const failed = d.status === "failed" && d.error_message;
    const extra = actions(d);
    return h("li", { class: "doc", "data-status": d.status, "data-document": d.id },
      h("div", { class: "doc-main" },
        h("span", { class: "doc-title", title: d.filename }, name),
        meta.length ? h("span", { class: "doc-meta" }, meta.join(" · ")) : null,
        failed ? h("span", { class: "doc-error", title: d.error }, d.error_message) : null,
        extra.length ? h("span", { class: "doc-actions" }, extra) : null),
      h("div", { class: "doc-side" },
        h("span", { class: `badge badge-${d.status}${busy ? " is-busy" : ""}` }, d.status + progress),
        remove));
  }

  function ask(d, li) {
    confirming = d.id;
    const confirm = item(d);
    li.replaceWith(confirm);
    confirm.querySelector(".btn-quiet").focus(); // Cancel: the safe default
  }

  function confirmItem(d) {
    const name = d.title || d.filename;
    const li = h("li", { class: "doc is-confirming", "data-document": d.id },
      h("div", { class: "doc-main" },
        h("span", { class: "doc-title" }, `Delete ${name}?`),
        h("span", { class: "doc-meta" }, "Removed for everyone, with its passages. No undo.")),
      h("div", { class: "row" },
        h("button", { type: "button", class: "btn btn-danger btn-sm",
          onclick: (e) => remove(d, e.currentTarget) }, "Delete permanently"),
        h("button", { type: "button", class: "btn btn-quiet btn-sm", onclick: () => {
          confirming = null;
          li.replaceWith(item(d));
        } }, "Cancel")));
    return li;
  }

  async function remove(d, button) {
    const name = d.title || d.filename;
    button.disabled = true;
    tell(`Deleting ${name}…`);
    try {
      const signed = await api(`/v1/documents/${encodeURIComponent(d.id)}`, { method: "DELETE" });
      tell(`${name} deleted (receipt ${signed.receipt.request_id}).`);
      say(`${name} deleted`);
    } catch (err) {
      tell(`Could not delete ${name}: ${err.message}`, true);
    }
    confirming = null;
    statuses.delete(d.id);
    changed();
  }

  function announce(docs) {
    for (const d of docs) {
      const before = statuses.get(d.id);
      if (before && before !== d.status && FINAL.has(d.status)) {
        const ok = d.status === "indexed";
        tell(`${d.filename}: ${ok ? "indexed, ready to ask" : `not indexed. ${d.error_message ?? ""}`}`.trim(), !ok);
      }
      statuses.set(d.id, d.status);
    }
  }

  return {
    render(docs) {
      announce(docs);
      list.replaceChildren(...docs.map(item));
    },
    seen(doc) { statuses.set(doc.id, doc.status); },
    reset() { confirming = null; list.replaceChildren(); },
  };
}
