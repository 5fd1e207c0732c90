// The admin page, for platform and collection admins: collections (platform admins create them),
// and for the collection chosen its members (members.js) and API keys (keys.js); platform admins
// also see the configured IdP group roles and the deployment's readiness (admin-status.js).
// Anyone else is told plainly that the page is not for them; the API refuses them anyway.

import { showGroupRoles, showReadiness } from "./admin-status.js";
import { $, h, say } from "./dom.js";
import { forgetKey, showKeysFor, wireKeys } from "./keys.js";
import { clearMembers, showMembersFor, wireMembers } from "./members.js";
import { manages } from "./nav.js";
import { api, loadMe, may } from "./session.js";

const PLATFORM_ADMIN = "platform_admin";

const state = { collections: [], chosen: null };

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const managed = (id) => may("members", id) || may("keys", id);

async function loadCollections() {
  try {
    state.collections = await api("/v1/collections");
  } catch (err) {
    $("collections-empty").hidden = false;
    $("collections-empty").textContent = `Could not load the collections: ${err.message}`;
    return;
  }
  const mine = state.collections.filter((c) => managed(c.id));
  if (!mine.some((c) => c.id === state.chosen)) state.chosen = mine[0]?.id ?? null;
  renderCollections();
  showChosen();
}

function renderCollections() {
  const rows = state.collections;
  $("collections-empty").hidden = rows.length > 0;
  $("collections-empty").textContent = "No collections yet.";
  $("collections").hidden = !rows.length;
  $("collections").replaceChildren(
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col", class: "wide-only" }, "Description"),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
    h("tbody", {}, rows.map(collectionRow)));
}

function collectionRow(c) {
  const chosen = c.id === state.chosen;
  const manage = managed(c.id)
    ? h("button", { type: "button", class: "btn btn-quiet btn-sm", "aria-pressed": String(chosen),
      "aria-label": `Manage ${c.name}`, onclick: () => choose(c.id) }, chosen ? "Managing" : "Manage")
    : h("span", { class: "muted" }, "read only");
  return h("tr", { "data-collection": c.id, class: chosen ? "is-current" : null },
    h("td", { class: "title" }, h("span", { class: "cell-title" }, c.name),
      h("span", { class: "cell-sub count-line" }, plural(c.documents, "document"))),
    h("td", { class: "wide-only" }, c.description || h("span", { class: "muted" }, "—")),
    h("td", { class: "actions" }, manage));
}

function choose(id) {
  if (id !== state.chosen) {
    clearMembers(); // a form half-filled for one collection never grants on another
    forgetKey();
  }
  state.chosen = id;
  renderCollections();
  showChosen();
  $("members-panel").scrollIntoView({ block: "nearest" });
}

function showChosen() {
  const c = state.collections.find((x) => x.id === state.chosen);
  $("members-h").textContent = c ? `Members · ${c.name}` : "Members";
  $("keys-h").textContent = c ? `API keys · ${c.name}` : "API keys";
  showMembersFor(state.chosen);
  showKeysFor(state.chosen);
}

function toggleCollectionForm(open) {
  const form = $("collection-form");
  form.hidden = !open;
  $("new-collection").setAttribute("aria-expanded", String(open));
  $("collection-error").textContent = "";
  if (open) $("collection-name").focus();
  else form.reset();
}

async function createCollection(event) {
  event.preventDefault();
  const name = $("collection-name").value.trim();
  const description = $("collection-description").value.trim();
  if (!name) return;
  try {
    const created = await api("/v1/collections", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, description }),
    });
    toggleCollectionForm(false);
    await loadMe(); // the creator now administers it
    state.chosen = created.id;
    await loadCollections();
    say(`Collection ${created.name} created`);
    $("new-collection").focus();
  } catch (err) {
    $("collection-error").textContent = err.message;
  }
}

async function ownRolesChanged() {
  await loadMe();
  await loadCollections();
  showMembersFor(state.chosen, { force: true });
}

async function main() {
  let me;
  try {
    me = await loadMe();
  } catch {
    return; // send() says the session ended
  }
  $("page-loading").hidden = true;
  if (!manages(me)) {
    $("no-access").hidden = false;
    return;
  }
  $("admin").hidden = false;
  const platform = me.global_roles.includes(PLATFORM_ADMIN);
  $("new-collection").hidden = !platform;
  $("new-collection").addEventListener("click", () =>
    toggleCollectionForm($("collection-form").hidden));
  $("cancel-collection").addEventListener("click", () => toggleCollectionForm(false));
  $("collection-form").addEventListener("submit", createCollection);
  wireMembers(() => state.chosen, ownRolesChanged);
  wireKeys(() => state.chosen);
  await loadCollections();
  if (platform) {
    showReadiness();
    showGroupRoles();
  }
}

main();
