// Platform admins' view of the deployment: the readiness of each dependency (/readyz, each
// check in its plain sentence) and the IdP group roles configured at start (read-only).

import { $, h, say } from "./dom.js";
import { api, send } from "./session.js";

const LABELS = { ok: "ready", loading: "loading", timeout: "no answer", down: "down" };

export async function showReadiness() {
  $("ready-card").hidden = false;
  const refresh = $("ready-refresh");
  if (!refresh.dataset.wired) {
    refresh.dataset.wired = "1";
    refresh.addEventListener("click", showReadiness);
  }
  $("ready-summary").textContent = "Checking…";
  refresh.disabled = true;
  let body;
  try {
    const res = await send("/readyz");
    body = await res.json();
  } catch (err) {
    $("ready-summary").textContent = `Could not ask the server whether it is ready: ${err.message}`;
    return;
  } finally {
    refresh.disabled = false;
  }
  const checks = Object.entries(body.checks ?? {});
  const ready = body.status === "ready";
  const summary = ready ? "Ready: every dependency answered."
    : "Not ready: requests that need the dependencies below marked as not ready will fail.";
  $("ready-summary").textContent = summary;
  $("ready-summary").classList.toggle("is-error", !ready);
  $("ready-checks").replaceChildren(...checks.map(([name, c]) =>
    h("li", { class: `check-item is-${c.status}`, "data-check": name },
      h("span", { class: `badge ${c.status === "ok" ? "badge-indexed" : "badge-failed"}` },
        LABELS[c.status] ?? c.status),
      h("span", {}, c.sentence))));
  say(summary);
}

export async function showGroupRoles() {
  let mapping;
  try {
    mapping = await api("/v1/group-roles");
  } catch {
    return; // platform admins only: the card stays hidden
  }
  const groups = Object.entries(mapping);
  $("groups-card").hidden = false;
  $("groups-empty").hidden = groups.length > 0;
  $("groups").hidden = !groups.length;
  $("groups").replaceChildren(
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "IdP group"),
      h("th", { scope: "col" }, "Roles"))),
    h("tbody", {}, groups.map(([group, grants]) => h("tr", { "data-group": group },
      h("td", { class: "mono" }, group),
      h("td", {}, grants.map(describe).join("; "))))));
}

// "reader:cardiology" -> "reader of cardiology"; "compliance_officer" -> "compliance officer".
function describe(grant) {
  const [role, collection] = grant.split(":");
  const name = role.replaceAll("_", " ");
  return collection ? `${name} of ${collection}` : name;
}
