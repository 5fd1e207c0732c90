// The signed-in user and every call to the server. The session cookie is HttpOnly (scripts
// cannot read it); state-changing requests prove they come from this page with the CSRF token
// that /auth/me hands to it. A 401 means the session ended: the page says so and offers the
// sign-in page in a new tab, so that nothing typed here is lost (it stays in this page only).

import { $, h } from "./dom.js";

export const session = { me: null }; // name, roles, permissions per collection, CSRF token

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class SessionEnded extends Error {}

function showSessionEnded() {
  if ($("session-ended")) return;
  document.body.prepend(h("div", { id: "session-ended", class: "session-ended", role: "alert" },
    "Your session has ended. ",
    h("a", { href: "/signin", target: "_blank", rel: "noopener" }, "Sign in again in a new tab"),
    ", then send your question again: it is still here."));
}

// The API's messages are lower-case fragments ("no such role binding"): shown as sentences.
export function sentence(text) {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?…)]$/.test(capital) ? capital : `${capital}.`;
}

export async function errorMessage(res) {
  const body = await res.json().catch(() => null);
  if (body?.error?.message) return sentence(body.error.message);
  if (res.status === 413) return "The file is too large.";
  return `The server answered ${res.status} ${res.statusText}.`.replace(" .", ".");
}

export async function send(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers ?? {}) };
  const safe = SAFE.has((options.method ?? "GET").toUpperCase());
  if (!safe && !session.me) await loadMe().catch(() => null); // signed in again: a new token
  if (!safe && session.me?.csrf_token) {
    headers["X-CSRF-Token"] = session.me.csrf_token;
  }
  const res = await fetch(path, { ...options, headers, credentials: "same-origin" });
  if (res.status === 401) sessionEnded(); // expired, revoked or signed out elsewhere
  $("session-ended")?.remove();
  return res;
}

// The server answered 401: forget the caller, say so at the top of the page, and stop here.
export function sessionEnded() {
  session.me = null;
  showSessionEnded();
  throw new SessionEnded("Your session has ended. Sign in again, then send it again.");
}

export async function api(path, options = {}) {
  const res = await send(path, options);
  if (!res.ok) throw new Error(await errorMessage(res));
  return res.status === 204 ? null : res.json();
}

export function may(permission, collectionId) {
  const access = session.me?.collections.find((c) => c.id === collectionId);
  return Boolean(access?.permissions.includes(permission));
}

// Loads the caller; listeners of "enclave:me" (nav.js, the pages) redraw what depends on it.
export async function loadMe() {
  const me = (session.me = await api("/auth/me"));
  document.dispatchEvent(new CustomEvent("enclave:me", { detail: me }));
  return me;
}
