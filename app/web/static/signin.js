// The sign-in page: offers the organisation's identity provider and/or explains the local
// admin's one-time link, and says why a previous attempt failed.
const $ = (id) => document.getElementById(id);
const ERRORS = {
  link: "That sign-in link is invalid, already used or expired.",
  oidc: "Sign-in with your organisation account failed. Please try again.",
};

async function main() {
  const error = new URLSearchParams(location.search).get("error");
  if (error) $("signin-error").textContent = ERRORS[error] ?? ERRORS.oidc;
  const res = await fetch("/auth/config", { headers: { Accept: "application/json" } });
  const config = res.ok ? await res.json() : { oidc: false, local_admin: false };
  $("signin-oidc").hidden = !config.oidc;
  $("signin-local").hidden = !config.local_admin;
  $("signin-none").hidden = config.oidc || config.local_admin;
}

main();
