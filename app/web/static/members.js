// Members of the collection on show, for its admins: list who holds which role, grant a role to
// a user (e-mail, id or IdP subject; someone not signed in yet gets it at their first sign-in) or
// an IdP group, revoke — except one's own admin role (the server refuses that too). The server
// enforces and audits every change; this panel is only shown to those it would allow.

import { $, h, say } from "./dom.js";
import { api, may, session } from "./session.js";

const ROLES = { reader: "reader", contributor: "contributor", collection_admin: "collection admin" };

let shownFor = null; // the collection whose members are listed
let activeCollection = () => null;
let onOwnChange = async () => {}; // the signed-in user's own roles changed

export function wireMembers(active, ownChange) {
  activeCollection = active;
  onOwnChange = ownChange;
  $("new-member").addEventListener("click", () => toggleMemberForm($("member-form").hidden));
  $("cancel-member").addEventListener("click", () => toggleMemberForm(false));
  $("member-form").addEventListener("submit", grant);
  for (const radio of document.getElementsByName("member-kind")) {
    radio.addEventListener("change", labelSubject);
  }
}

export function clearMembers() {
  shownFor = null;
  toggleMemberForm(false); // a form half-filled for one collection never grants on another
  $("members").replaceChildren();
}

export function showMembersFor(id, { force = false } = {}) {
  if (id === shownFor && !force) return;
  loadMembers(id);
}

const base = (id) => `/v1/collections/${encodeURIComponent(id)}/members`;

async function loadMembers(id) {
  shownFor = id;
  const panel = $("members-panel");
  panel.hidden = !may("members", id);
  if (panel.hidden) {
    toggleMemberForm(false);
    $("members").replaceChildren();
    return;
  }
  let members;
  try {
    members = await api(base(id));
  } catch (err) {
    members = [];
    say(`Could not load the members: ${err.message}`);
  }
  if (id !== activeCollection()) return; // the user moved on while we waited
  $("members").replaceChildren(...members.map(memberItem));
}

const PENDING = { email: "not signed in yet", subject: "not signed in yet (IdP subject)" };

function memberItem(m) {
  const who = m.subject_label || m.subject;
  const role = ROLES[m.role] ?? m.role;
  const kind = m.subject_kind === "group" ? "group" : PENDING[m.subject_kind] ?? "user";
  const own = m.subject_kind === "user" && m.subject === session.me?.id;
  const action = own && m.role === "collection_admin"
    ? h("span", { class: "tag", title: "Another admin can revoke your admin role" },
      "you")
    : h("button", { type: "button", class: "btn btn-quiet btn-sm",
      "aria-label": `Revoke ${role} from ${who}`, onclick: () => revoke(m, who, role) }, "Revoke");
  return h("li", { class: "doc member", "data-binding": m.id },
    h("div", { class: "doc-main" },
      h("span", { class: "doc-title", title: m.subject }, who),
      h("span", { class: "doc-meta" }, `${kind} · ${role}`)),
    action);
}

function chosenKind() {
  return document.querySelector('input[name="member-kind"]:checked')?.value ?? "user";
}

function labelSubject() {
  $("member-subject-label").textContent = chosenKind() === "group" ? "Group name"
    : "E-mail or IdP subject";
  $("member-subject-hint").hidden = chosenKind() === "group";
}

function toggleMemberForm(open) {
  if (!open && $("member-form").hidden) return;
  $("member-form").hidden = !open;
  $("new-member").setAttribute("aria-expanded", String(open));
  $("member-error").textContent = "";
  if (!open) $("member-form").reset();
  labelSubject();
  if (open) $("member-subject").focus();
}

async function grant(event) {
  event.preventDefault();
  const id = activeCollection();
  const body = { kind: chosenKind(), subject: $("member-subject").value.trim(),
    role: $("member-role").value };
  if (!body.subject) return;
  try {
    const made = await api(base(id), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    toggleMemberForm(false);
    say(`${made.subject_label || made.subject} is now ${ROLES[made.role] ?? made.role}`);
    if (made.subject_kind === "user" && made.subject === session.me?.id) await onOwnChange();
    await loadMembers(id);
    $("new-member").focus();
  } catch (err) {
    $("member-error").textContent = err.message;
  }
}

async function revoke(m, who, role) {
  const id = activeCollection();
  try {
    await api(`${base(id)}/${encodeURIComponent(m.id)}`, { method: "DELETE" });
    say(`Revoked ${role} from ${who}`);
  } catch (err) {
    say(`Could not revoke ${role} from ${who}: ${err.message}`);
  }
  if (m.subject_kind === "user" && m.subject === session.me?.id) await onOwnChange();
  else loadMembers(id);
}
