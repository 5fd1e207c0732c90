// Answers as Markdown — paragraphs, lists, tables, code, emphasis — built as DOM nodes from
// markdown-it's tokens (vendor/README.md). Raw HTML, links and images are off; every text is a
// text node and only the tags below are ever created, so a model's output cannot inject markup
// or make the page fetch anything. `[n]` citation markers become whatever `cite(n, i)` returns
// (i: the marker's index among all markers of the text, code included); null keeps the text.

import markdownit from "./vendor/markdown-it-15.0.3.min.js";

const md = markdownit({ html: false, linkify: false, typographer: false })
  .disable(["link", "image", "autolink", "html_inline", "html_block", "reference"]);

const TAGS = new Set(["p", "ul", "ol", "li", "strong", "em", "s", "blockquote", "table", "thead",
  "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "br", "pre", "code"]);
const MARKER = /\[(\d+)\]/g;

export function renderMarkdown(text, cite = () => null) {
  const root = document.createDocumentFragment();
  const stack = [root];
  const top = () => stack[stack.length - 1];
  let index = 0; // markers seen so far
  const skip = (code) => { index += [...code.matchAll(MARKER)].length; };
  const withChips = (content) => {
    const out = [];
    let last = 0;
    for (const m of content.matchAll(MARKER)) {
      const chip = cite(Number(m[1]), index++);
      if (!chip) continue;
      out.push(content.slice(last, m.index), chip);
      last = m.index + m[0].length;
    }
    out.push(content.slice(last));
    return out.filter((part) => part !== "");
  };
  const walk = (tokens) => {
    for (const t of tokens) {
      if (t.type === "inline") walk(t.children ?? []);
      else if (t.hidden) continue; // the paragraphs of a tight list
      else if (t.nesting === 1) stack.push(top().appendChild(element(t)));
      else if (t.nesting === -1) stack.pop();
      else if (t.type === "code_inline") { skip(t.content); top().append(tag("code", t.content)); }
      else if (t.type === "fence" || t.type === "code_block") {
        skip(t.content);
        top().append(tag("pre", tag("code", t.content.replace(/\n$/, ""))));
      } else if (t.type === "softbreak") top().append("\n");
      else if (t.type === "hardbreak" || t.type === "hr") top().append(tag(t.tag));
      else if (t.content) top().append(...withChips(t.content));
    }
  };
  walk(md.parse(text, {}));
  return root;
}

function element(token) {
  const el = document.createElement(TAGS.has(token.tag) ? token.tag : "span");
  const start = Number(token.attrGet?.("start"));
  if (token.tag === "ol" && start > 1) el.start = start;
  return el;
}

function tag(name, ...children) {
  const el = document.createElement(TAGS.has(name) ? name : "span");
  el.append(...children);
  return el;
}
