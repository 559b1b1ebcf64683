// An allowlist HTML sanitizer for what the public endpoint serves. The Worker cannot trust
// its writers (anyone with the token, any version of any tool), so `/threads` sanitizes
// every comment's `html` on the way out, whatever D1 holds.
//
// It rebuilds the HTML rather than filtering it: text is escaped, and only allowed tags
// come out, each written anew with its allowed attributes, every value escaped. So the
// browser parses only what this file wrote, never a trick of the input's syntax. A link's
// URL is checked after entities are decoded, and written re-escaped: what was checked is
// what the browser follows. One pass over the input, no backtracking: linear time.
// The allowlist is comment-migrate's own (migrate/content/html.py), so HTML the tool
// sanitized comes out as it went in.

const ALLOWED_TAGS = new Set([
  "a", "b", "blockquote", "br", "caption", "code", "del", "details", "div", "em", "h1", "h2",
  "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strike", "strong",
  "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
]);
const VOID_TAGS = new Set(["br", "hr", "img"]);
const ALLOWED_ATTRIBUTES = {
  a: new Set(["href", "title"]),
  img: new Set(["src", "alt", "title", "width", "height"]),
  ol: new Set(["start"]),
  code: new Set(["class"]),
  td: new Set(["colspan", "rowspan"]),
  th: new Set(["colspan", "rowspan"]),
};
const URL_SCHEMES = { href: new Set(["http", "https", "mailto"]), src: new Set(["http", "https"]) };
// elements whose content is code, styles, another document or foreign markup: dropped whole
const DROPPED_WITH_CONTENT = new Set([
  "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript",
  "noembed", "noframes", "template", "textarea", "title", "xmp", "svg", "math", "select",
]);
const LINK_REL = "noopener noreferrer nofollow";

const TAG_OPEN = /<(\/?)([A-Za-z][A-Za-z0-9-]*)/y;
const SEPARATORS = /[\s/]*/y;
const ATTRIBUTE = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?/y;
const NAMED = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0", colon: ":",
  tab: "\t", newline: "\n", sol: "/", lpar: "(", rpar: ")", period: "." };

export function sanitizeHtml(input) {
  if (typeof input !== "string") return null;
  const html = input.replace(/\u0000/g, "");
  const out = [];
  const open = [];
  let position = 0;
  while (position < html.length) {
    const lt = html.indexOf("<", position);
    if (lt === -1) {
      out.push(escapeText(html.slice(position)));
      break;
    }
    out.push(escapeText(html.slice(position, lt)));
    if (html.startsWith("<!--", lt)) {
      const end = html.indexOf("-->", lt + 4);
      if (end === -1) break; // an unclosed comment hides the rest, as in a browser
      position = end + 3;
      continue;
    }
    TAG_OPEN.lastIndex = lt;
    const opening = TAG_OPEN.exec(html);
    if (opening === null) {
      if (html[lt + 1] === "!" || html[lt + 1] === "?") {
        const end = html.indexOf(">", lt); // a declaration or a bogus comment: dropped
        if (end === -1) break;
        position = end + 1;
      } else {
        out.push("&lt;");
        position = lt + 1;
      }
      continue;
    }
    const tag = readTag(html, TAG_OPEN.lastIndex);
    if (tag === null) break; // a tag that never ends takes the rest with it
    position = tag.end + 1;
    const closing = opening[1] === "/";
    const name = opening[2].toLowerCase();
    if (!closing && DROPPED_WITH_CONTENT.has(name)) {
      const end = closingTag(html, name, position);
      if (end === -1) break;
      position = end;
      continue;
    }
    if (!ALLOWED_TAGS.has(name)) continue; // the tag goes, its text stays
    if (closing) {
      const at = open.lastIndexOf(name);
      if (at !== -1) while (open.length > at) out.push(`</${open.pop()}>`);
      continue;
    }
    out.push(startTag(name, tag.attributes));
    if (!VOID_TAGS.has(name)) open.push(name);
  }
  while (open.length > 0) out.push(`</${open.pop()}>`);
  const cleaned = out.join("").trim();
  return cleaned === "" ? null : cleaned;
}

// The attributes of a start tag from `from` to its `>`, or null when there is no end.
function readTag(html, from) {
  const attributes = [];
  let position = from;
  while (true) {
    SEPARATORS.lastIndex = position;
    SEPARATORS.exec(html);
    position = SEPARATORS.lastIndex;
    if (position >= html.length) return null;
    if (html[position] === ">") return { attributes, end: position };
    ATTRIBUTE.lastIndex = position;
    const match = ATTRIBUTE.exec(html);
    if (match === null) {
      position += 1; // a stray quote or "=": skipped
      continue;
    }
    const value = match[2] ?? match[3] ?? match[4] ?? "";
    attributes.push([match[1].toLowerCase(), value]);
    position = ATTRIBUTE.lastIndex;
  }
}

// Just past the end tag of a dropped element, or -1 when it has none (the rest is its).
function closingTag(html, name, from) {
  const pattern = new RegExp(`</${name}(?=[\\s/>])`, "ig");
  pattern.lastIndex = from;
  const found = pattern.exec(html);
  if (found === null) return -1;
  const end = html.indexOf(">", found.index);
  return end === -1 ? -1 : end + 1;
}

function startTag(name, attributes) {
  const allowed = ALLOWED_ATTRIBUTES[name];
  const seen = new Set();
  let written = `<${name}`;
  for (const [key, raw] of attributes) {
    if (allowed === undefined || !allowed.has(key) || seen.has(key)) continue;
    seen.add(key); // the first of a repeated attribute wins, as in a browser
    const value = decodeEntities(raw);
    if (key in URL_SCHEMES && !allowedUrl(value, URL_SCHEMES[key])) continue;
    written += ` ${key}="${escapeAttribute(value)}"`;
  }
  if (name === "a") written += ` rel="${LINK_REL}"`;
  return written + ">";
}

function allowedUrl(value, schemes) {
  // browsers ignore controls and whitespace around a URL and tabs/newlines inside its scheme
  const url = value.replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  if (scheme === null) return true; // relative: the page's own scheme
  return schemes.has(scheme[1].toLowerCase());
}

function decodeEntities(value) {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);?/gi, (entity, body) => {
    if (body[0] === "#") {
      const code = body[1] === "x" || body[1] === "X"
        ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
        ? String.fromCodePoint(code) : "\ufffd";
    }
    const named = NAMED[body.toLowerCase()];
    return named === undefined ? entity : named; // unknown: kept as typed, escaped below
  });
}

function escapeText(text) {
  return text.replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function escapeAttribute(value) {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")
    .replace(/>/g, "&gt;").replace(/\u00a0/g, "&nbsp;");
}
