// The header's links between the UI's pages, each shown only to those whose roles can use it
// (the server refuses the rest anyway), and the signed-in user's name with "Sign out".

import { $, h } from "./dom.js";
import { send } from "./session.js";

export const manages = (me) =>
  me.global_roles.includes("platform_admin")
  || me.collections.some((c) => c.permissions.includes("members") || c.permissions.includes("keys"));

// One entry per page: its path, its label, and who sees the link.
const PAGES = [
  { path: "/", label: "Chat", shown: () => true },
  { path: "/search", label: "Search",
    shown: (me) => me.collections.some((c) => c.permissions.includes("read")) },
  { path: "/documents", label: "Documents",
    shown: (me) => me.collections.some((c) => c.permissions.includes("read")) },
  { path: "/admin", label: "Admin", shown: manages },
  { path: "/compliance", label: "Compliance", shown: (me) => me.global_roles.includes("compliance_officer") },
];

function renderNav(me) {
  const nav = $("site-nav");
  if (!nav) return;
  const here = location.pathname;
  nav.replaceChildren(...PAGES.filter((p) => p.shown(me)).map((p) =>
    h("a", { href: p.path, class: "site-link", "aria-current": p.path === here ? "page" : null },
      p.label)));
  nav.hidden = false;
}

function renderUserMenu(me) {
  const roles = me.global_roles.map((r) => r.replace("_", " "));
  $("user-menu").replaceChildren(
    h("span", { class: "user-name", title: roles.join(", ") || null }, me.name),
    h("button", { type: "button", id: "sign-out", class: "btn btn-quiet btn-sm",
      onclick: signOut }, "Sign out"));
  $("user-menu").hidden = false;
}

async function signOut() {
  await send("/auth/logout", { method: "POST" }).catch(() => null);
  location.assign("/signin");
}

document.addEventListener("enclave:me", (e) => {
  renderNav(e.detail);
  renderUserMenu(e.detail);
});
