// Uploads, shared by the chat page's sidebar and the Documents page: one request per file with
// its progress (XMLHttpRequest reports upload progress; fetch cannot), files dropped on an area
// or chosen with a picker, and a document's status followed until it is final.

import { $ } from "./dom.js";
import { api, errorMessage, loadMe, session, sessionEnded } from "./session.js";

export const FINAL = new Set(["indexed", "failed"]);
const POLL_MS = 1000;

// Sends `file` to the collection (as `name`: a new version of the document of that name);
// `onProgress(fraction)` while its bytes go. Resolves with the document, or rejects with a
// sentence saying why.
export async function sendFile(collectionId, file, { name = file.name, onProgress } = {}) {
  if (!session.me) await loadMe().catch(() => null); // signed in again: a new CSRF token
  const url = `/v1/collections/${encodeURIComponent(collectionId)}/documents`;
  const body = new FormData();
  body.append("file", file, name);
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error("The upload was interrupted. Check the connection, then try again."));
    xhr.onabort = xhr.onerror;
  });
  xhr.open("POST", url);
  xhr.setRequestHeader("Accept", "application/json");
  if (session.me?.csrf_token) xhr.setRequestHeader("X-CSRF-Token", session.me.csrf_token);
  if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
  xhr.send(body);
  await done;
  if (xhr.status === 401) sessionEnded();
  const res = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
  if (!res.ok) throw new Error(await errorMessage(res));
  onProgress?.(1);
  return res.json();
}

// Polls a document until its status is final, calling `onChange(doc)` on each new state.
export async function follow(documentId, onChange) {
  let last = "";
  for (;;) {
    const doc = await api(`/v1/documents/${encodeURIComponent(documentId)}`);
    const seen = `${doc.status}:${doc.chunks_done}/${doc.chunks_total}`;
    if (seen !== last) onChange(doc);
    last = seen;
    if (FINAL.has(doc.status)) return doc;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// Files dropped anywhere on `area` (highlighting `zone` meanwhile), or chosen through the file
// input `input` that the button `browse` opens, go to `onFiles(files)`.
export function wireDrop({ area, zone, input, browse, onFiles }) {
  $(browse).addEventListener("click", () => $(input).click());
  $(input).addEventListener("change", (e) => {
    const files = [...e.target.files];
    e.target.value = "";
    if (files.length) onFiles(files);
  });
  const over = (on) => $(zone).classList.toggle("is-over", on);
  for (const type of ["dragenter", "dragover"]) {
    $(area).addEventListener(type, (e) => {
      if (!e.dataTransfer?.types.includes("Files")) return;
      e.preventDefault(); // never let the browser open a dropped file in place of the page
      over(!$(zone).hidden);
    });
  }
  $(area).addEventListener("dragleave", (e) => {
    if (!$(area).contains(e.relatedTarget)) over(false);
  });
  $(area).addEventListener("drop", (e) => {
    e.preventDefault();
    over(false);
    if ($(zone).hidden) return; // those who may not upload see no drop zone
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) onFiles(files);
  });
}
