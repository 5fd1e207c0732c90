// Small DOM helpers shared by the page's modules. Text is only ever inserted as text nodes.

export const $ = (id) => document.getElementById(id);

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const say = (text) => ($("sr-status").textContent = text);

// A table's column header; a column of buttons ("") is named for screen readers only.
export const colHead = (t) =>
  h("th", { scope: "col" }, t || h("span", { class: "visually-hidden" }, "Actions"));
