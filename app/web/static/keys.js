// API keys for the collection on show, for its admins: create (the secret is shown once, in a
// read-only field cleared on Done or when the collection changes), list and revoke.

import { $, h, say } from "./dom.js";
import { api, may } from "./session.js";

let shownFor = null; // the collection whose keys are listed
let activeCollection = () => null;

export function wireKeys(active) {
  activeCollection = active;
  $("new-key").addEventListener("click", () => toggleKeyForm($("key-form").hidden));
  $("cancel-key").addEventListener("click", () => toggleKeyForm(false));
  $("key-form").addEventListener("submit", createKey);
  $("key-done").addEventListener("click", forgetKey);
}

export function showKeysFor(id) {
  if (id === shownFor) return;
  forgetKey();
  loadKeys(id);
}

async function loadKeys(id) {
  shownFor = id;
  const panel = $("keys-panel");
  panel.hidden = !may("keys", id);
  toggleKeyForm(false);
  if (panel.hidden) return;
  let keys;
  try {
    keys = (await api("/v1/api-keys")).filter((k) => k.collections.includes(id));
  } catch {
    keys = [];
  }
  if (id !== activeCollection()) return; // the user moved on while we waited
  $("keys").replaceChildren(...keys.map(keyItem));
  $("keys-empty").hidden = keys.length > 0;
}

function keyItem(k) {
  const revoked = Boolean(k.revoked_at);
  const until = new Date(k.expires_at).toLocaleDateString();
  return h("li", { class: "doc key", "data-key": k.id },
    h("div", { class: "doc-main" },
      h("span", { class: "doc-title" }, k.name),
      h("span", { class: "doc-meta" }, `${k.prefix}… · ${k.permissions.join(", ")} · until ${until}`)),
    revoked
      ? h("span", { class: "badge badge-failed" }, "revoked")
      : h("button", { type: "button", class: "btn btn-quiet btn-sm", "aria-label": `Revoke ${k.name}`,
          onclick: () => revokeKey(k) }, "Revoke"));
}

function toggleKeyForm(open) {
  $("key-form").hidden = !open;
  $("new-key").setAttribute("aria-expanded", String(open));
  $("key-error").textContent = "";
  if (open) $("key-name").focus();
  else $("key-form").reset();
}

async function createKey(event) {
  event.preventDefault();
  const id = activeCollection();
  const permissions = $("key-write").checked ? ["read", "write"] : ["read"];
  try {
    const created = await api("/v1/api-keys", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: $("key-name").value.trim(), collections: [id], permissions }),
    });
    toggleKeyForm(false);
    $("key-secret").value = created.key; // shown once; cleared on Done
    $("key-created").hidden = false;
    $("key-secret").select();
    say("API key created. Copy it now: it is shown only once.");
    await loadKeys(id);
  } catch (err) {
    $("key-error").textContent = err.message;
  }
}

export function forgetKey() {
  $("key-secret").value = "";
  $("key-created").hidden = true;
}

async function revokeKey(k) {
  try {
    await api(`/v1/api-keys/${encodeURIComponent(k.id)}`, { method: "DELETE" });
    say(`API key ${k.name} revoked`);
  } catch (err) {
    say(`Could not revoke ${k.name}: ${err.message}`);
  }
  loadKeys(activeCollection());
}
