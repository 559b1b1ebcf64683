// A comment API on Cloudflare Workers + D1: comment-migrate's HTTP contract, plus a public
// read endpoint for the site's comment widget. Plain JavaScript modules, no framework.
//
// Migration API (every request needs `Authorization: Bearer <MIGRATE_TOKEN>`, else 401):
//   POST   /comments               Idempotency-Key: <system>:<source id>
//                                  -> 201 {"id"} | 409 {"id"} (already there) | 400 {"error"}
//   POST   /comments/batch         {"comments": [...]} -> 200 {"results": [{"id"} |
//                                  {"id", "existing": true} | {"error"}]}, one D1 batch
//   GET    /comments?source_id=    -> 200 {"id"} | 404 {"error"}
//   GET    /comments?page_id=&cursor=  -> 200 {"comments": [...], "next": cursor | null}
//   PATCH  /comments/{id}          {"text", "html", "edited_at"} -> 200 | 404
//   DELETE /comments/{id}          -> 204 | 404; releases the Idempotency-Key; a comment
//                                  with replies becomes a "[deleted]" tombstone
// Public (no token, CORS open, no author source ids, no keys):
//   GET    /threads?uri=/page/  (or ?page_id=)  -> 200 {"page", "comments": [nested], "total"}
//          (/page and /page/ are one page)

const MAX_BATCH = 100;
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024;
const MAX_TEXT_CHARS = 100000;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 500;
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const TOMBSTONE_TEXT = "[deleted]";

const COLUMNS =
  "id, idempotency_key, page_id, page_uri, page_title, parent_id, author_name, " +
  "author_source_id, author_avatar_url, text, html, created_at, edited_at, source_system, " +
  "source_id, source_parent_id, deleted";

// INSERT ... SELECT ... WHERE: the parent check and the insert are one statement, so a
// parent deleted meanwhile cannot leave an orphan; ON CONFLICT makes concurrent repeats of
// one key insert a single row (the losers get no RETURNING row and read the winner's id).
const INSERT_SQL =
  "INSERT INTO comments (idempotency_key, page_id, page_uri, page_title, parent_id, " +
  "author_name, author_source_id, author_avatar_url, text, html, created_at, edited_at, " +
  "source_system, source_id, source_parent_id, deleted) " +
  "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16 " +
  "WHERE ?5 IS NULL OR EXISTS (SELECT 1 FROM comments WHERE id = ?5 AND page_id = ?2) " +
  "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id";

export default {
  async fetch(request, env) {
    try {
      return await route(request, env);
    } catch (error) {
      if (error instanceof HttpError) {
        return json({ error: error.message }, error.status);
      }
      console.error("unexpected error", error && error.stack ? error.stack : error);
      return json({ error: "internal error" }, 500);
    }
  },
};

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function route(request, env) {
  const url = new URL(request.url);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const method = request.method;

  if (path === "/threads") {
    if (method === "OPTIONS") return new Response(null, { status: 204, headers: cors() });
    if (method !== "GET") return notAllowed(method, path);
    return thread(env, url.searchParams);
  }
  if (path !== "/comments" && !path.startsWith("/comments/")) {
    return json({ error: `no endpoint ${method} ${path}` }, 404);
  }

  await requireToken(request, env);
  if (path === "/comments") {
    if (method === "POST") return createOne(request, env);
    if (method === "GET") return find(env, url.searchParams);
    return notAllowed(method, path);
  }
  if (path === "/comments/batch") {
    if (method === "POST") return createBatch(request, env);
    return notAllowed(method, path);
  }
  const id = commentId(decodeURIComponent(path.slice("/comments/".length)));
  if (method === "DELETE") return remove(env, id);
  if (method === "PATCH") return edit(request, env, id);
  return notAllowed(method, path);
}

// -- authentication ------------------------------------------------------------------------

async function requireToken(request, env) {
  const secret = env.MIGRATE_TOKEN;
  if (typeof secret !== "string" || secret === "") {
    throw new HttpError(500, "the Worker has no MIGRATE_TOKEN secret; set it with " +
      "`wrangler secret put MIGRATE_TOKEN` (or in .dev.vars locally)");
  }
  const match = /^Bearer (.+)$/.exec(request.headers.get("Authorization") || "");
  // compare digests of equal length in constant time: no early exit that leaks a prefix
  const [given, expected] = await Promise.all([sha256(match ? match[1] : ""), sha256(secret)]);
  if (!match || !crypto.subtle.timingSafeEqual(given, expected)) {
    throw new HttpError(401, "missing or wrong bearer token");
  }
}

async function sha256(text) {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

// -- writes --------------------------------------------------------------------------------

async function createOne(request, env) {
  const body = await readJson(request, MAX_BODY_BYTES);
  const key = request.headers.get("Idempotency-Key") || derivedKey(body);
  const problem = invalid(body);
  if (problem !== null) {
    // a repeat of a comment already stored is "already there", as in the contract server
    const existing = key ? await idForKey(env, key) : null;
    if (existing !== null) return json({ id: existing }, 409);
    throw new HttpError(400, problem);
  }
  const [inserted, stored] = await env.DB.batch([
    insertStatement(env, key, body),
    env.DB.prepare("SELECT id FROM comments WHERE idempotency_key = ?1").bind(key),
  ]);
  if (inserted.results.length > 0) return json({ id: String(inserted.results[0].id) }, 201);
  if (stored.results.length > 0) return json({ id: String(stored.results[0].id) }, 409);
  throw new HttpError(400, `unknown parent_id ${body.parent_id} on page ${body.page.id}`);
}

async function createBatch(request, env) {
  const body = await readJson(request, MAX_BATCH_BODY_BYTES);
  if (body === null || typeof body !== "object" || !Array.isArray(body.comments)) {
    throw new HttpError(400, "body must be {\"comments\": [...]}");
  }
  if (body.comments.length > MAX_BATCH) {
    throw new HttpError(400, `at most ${MAX_BATCH} comments per batch, got ${body.comments.length}`);
  }
  const items = body.comments.map((item) => {
    const key = item && typeof item === "object" && typeof item.idempotency_key === "string"
      ? item.idempotency_key : derivedKey(item);
    return { item, key, problem: invalid(item) };
  });
  const statements = [];
  for (const entry of items) {
    if (entry.problem === null) statements.push(insertStatement(env, entry.key, entry.item));
  }
  const keys = items.map((entry) => entry.key).filter((key) => key);
  statements.push(
    env.DB.prepare(
      "SELECT id, idempotency_key FROM comments " +
      "WHERE idempotency_key IN (SELECT value FROM json_each(?1))",
    ).bind(JSON.stringify(keys)),
  );
  // one D1 batch: one round trip, one transaction
  const answers = await env.DB.batch(statements);
  const stored = new Map();
  for (const row of answers[answers.length - 1].results) {
    stored.set(row.idempotency_key, String(row.id));
  }
  let next = 0;
  const results = items.map((entry) => {
    if (entry.problem !== null) {
      return entry.key && stored.has(entry.key)
        ? { id: stored.get(entry.key), existing: true } : { error: entry.problem };
    }
    const inserted = answers[next++].results;
    if (inserted.length > 0) return { id: String(inserted[0].id) };
    if (stored.has(entry.key)) return { id: stored.get(entry.key), existing: true };
    return { error: `unknown parent_id ${entry.item.parent_id} on page ${entry.item.page.id}` };
  });
  return json({ results }, 200);
}

function insertStatement(env, key, body) {
  const author = body.author;
  const source = body.source;
  return env.DB.prepare(INSERT_SQL).bind(
    key,
    body.page.id,
    optionalString(body.page.uri),
    optionalString(body.page.title),
    parentId(body.parent_id),
    author.name,
    optionalString(author.source_id),
    optionalString(author.avatar_url),
    body.text,
    optionalString(body.html),
    body.created_at,
    optionalString(body.edited_at),
    optionalString(source.system),
    source.id,
    optionalString(source.parent_id),
    body.deleted === true ? 1 : 0,
  );
}

async function edit(request, env, id) {
  const body = await readJson(request, MAX_BODY_BYTES);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "body must be a JSON object");
  }
  if (typeof body.text !== "string") throw new HttpError(400, "text is required");
  if (body.text.length > MAX_TEXT_CHARS) {
    throw new HttpError(400, `text is longer than ${MAX_TEXT_CHARS} characters`);
  }
  if (body.html !== undefined && body.html !== null && typeof body.html !== "string") {
    throw new HttpError(400, "html must be a string or null");
  }
  if (body.edited_at !== undefined && body.edited_at !== null && !isRfc3339(body.edited_at)) {
    throw new HttpError(400, "edited_at must be RFC 3339 in UTC");
  }
  const row = await env.DB.prepare(
    "UPDATE comments SET text = ?1, html = ?2, edited_at = ?3 " +
    "WHERE id = ?4 AND deleted = 0 RETURNING id, text, html, edited_at",
  ).bind(body.text, optionalString(body.html), optionalString(body.edited_at), id).first();
  if (row === null) return json({ error: "not found" }, 404);
  return json({ id: String(row.id), text: row.text, html: row.html, edited_at: row.edited_at });
}

async function remove(env, id) {
  const row = await env.DB.prepare("SELECT id, parent_id FROM comments WHERE id = ?1")
    .bind(id).first();
  if (row === null) return json({ error: "not found" }, 404);
  // only a comment nobody answers is removed; one with replies keeps the thread's shape
  const gone = await env.DB.prepare(
    "DELETE FROM comments WHERE id = ?1 AND NOT EXISTS " +
    "(SELECT 1 FROM comments AS child WHERE child.parent_id = ?1)",
  ).bind(id).run();
  if (gone.meta.changes === 0) {
    await env.DB.prepare(
      "UPDATE comments SET deleted = 1, idempotency_key = NULL, text = ?2, html = NULL, " +
      "author_name = NULL, author_source_id = NULL, author_avatar_url = NULL WHERE id = ?1",
    ).bind(id, TOMBSTONE_TEXT).run();
    return new Response(null, { status: 204 });
  }
  // a tombstone whose last reply went has nothing left to hold up
  let parent = row.parent_id;
  while (parent !== null) {
    const up = await env.DB.prepare(
      "DELETE FROM comments WHERE id = ?1 AND deleted = 1 AND NOT EXISTS " +
      "(SELECT 1 FROM comments AS child WHERE child.parent_id = ?1) RETURNING parent_id",
    ).bind(parent).first();
    parent = up === null ? null : up.parent_id;
  }
  return new Response(null, { status: 204 });
}

// -- reads (migration API) -----------------------------------------------------------------

async function find(env, params) {
  if (params.has("source_id")) {
    const row = await env.DB.prepare(
      "SELECT id FROM comments WHERE source_id = ?1 AND deleted = 0 ORDER BY id LIMIT 1",
    ).bind(params.get("source_id")).first();
    return row === null ? json({ error: "not found" }, 404) : json({ id: String(row.id) });
  }
  if (params.has("page_id")) return listPage(env, params);
  throw new HttpError(400, "give source_id or page_id");
}

async function listPage(env, params) {
  const cursor = params.get("cursor") || "0";
  if (!/^\d{1,15}$/.test(cursor)) throw new HttpError(400, `bad cursor ${cursor}`);
  const size = Math.min(Number(params.get("limit") || DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
  if (!Number.isInteger(size) || size < 1) throw new HttpError(400, "limit must be 1..500");
  // keyset pagination on the id: stable while comments are added or deleted meanwhile
  const { results } = await env.DB.prepare(
    `SELECT ${COLUMNS} FROM comments WHERE page_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3`,
  ).bind(params.get("page_id"), Number(cursor), size + 1).all();
  const more = results.length > size;
  const rows = more ? results.slice(0, size) : results;
  return json({
    comments: rows.map(listed),
    next: more ? String(rows[rows.length - 1].id) : null,
  });
}

function listed(row) {
  return {
    id: String(row.id),
    parent_id: row.parent_id === null ? null : String(row.parent_id),
    page: { id: row.page_id, uri: row.page_uri, title: row.page_title },
    author: { name: row.author_name, source_id: row.author_source_id,
              avatar_url: row.author_avatar_url },
    text: row.text,
    html: row.html,
    created_at: row.created_at,
    edited_at: row.edited_at,
    deleted: row.deleted === 1,
    source: { system: row.source_system, id: row.source_id, parent_id: row.source_parent_id },
  };
}

// -- public read endpoint (the site's widget) ----------------------------------------------

async function thread(env, params) {
  let statement;
  if (params.has("uri")) {
    statement = env.DB.prepare(
      `SELECT ${COLUMNS} FROM comments WHERE page_uri IN (?1, ?2) ORDER BY created_at, id`,
    ).bind(params.get("uri"), otherSlash(params.get("uri")));
  } else if (params.has("page_id")) {
    statement = env.DB.prepare(
      `SELECT ${COLUMNS} FROM comments WHERE page_id = ?1 ORDER BY created_at, id`,
    ).bind(params.get("page_id"));
  } else {
    return json({ error: "give uri or page_id" }, 400, cors());
  }
  const { results } = await statement.all();
  const nodes = new Map();
  for (const row of results) nodes.set(row.id, publicComment(row));
  const top = [];
  for (const row of results) {
    const parent = row.parent_id === null ? undefined : nodes.get(row.parent_id);
    (parent ? parent.replies : top).push(nodes.get(row.id));
  }
  const first = results[0];
  const page = first
    ? { id: first.page_id, uri: first.page_uri, title: first.page_title }
    : { id: params.get("page_id"), uri: params.get("uri"), title: null };
  return json({ page, comments: top, total: results.length }, 200, cors());
}

// "/page" and "/page/" are one page, as a site's router serves both: the other spelling
function otherSlash(uri) {
  const [path, ...query] = uri.split("?");
  const other = path.endsWith("/") ? path.replace(/\/+$/, "") || "/" : `${path}/`;
  return [other, ...query].join("?");
}

// What a visitor may see: no author source ids, no source ids, no idempotency keys.
function publicComment(row) {
  const deleted = row.deleted === 1;
  return {
    id: String(row.id),
    author: deleted ? { name: null, avatar_url: null }
      : { name: row.author_name, avatar_url: httpUrl(row.author_avatar_url) },
    text: row.text,
    html: deleted ? null : row.html,
    created_at: row.created_at,
    edited_at: row.edited_at,
    deleted,
    replies: [],
  };
}

// -- helpers -------------------------------------------------------------------------------

function invalid(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return "body must be a JSON object";
  }
  const { page, author, source } = body;
  if (!isObject(page) || typeof page.id !== "string" || page.id === "") {
    return "page.id is required";
  }
  if (!isObject(author) || typeof author.name !== "string") return "author.name is required";
  if (!isObject(source) || typeof source.id !== "string" || source.id === "") {
    return "source.id is required";
  }
  if (typeof body.text !== "string") return "text is required";
  if (body.text.length > MAX_TEXT_CHARS) return `text is longer than ${MAX_TEXT_CHARS} characters`;
  if (!isRfc3339(body.created_at)) return "created_at must be RFC 3339 in UTC";
  for (const key of ["parent_id", "html"]) {
    if (!(key in body)) return `${key} is required (null allowed)`;
  }
  if (body.html !== null && typeof body.html !== "string") return "html must be a string or null";
  if (body.parent_id !== null && parentId(body.parent_id) === null) {
    return `parent_id ${JSON.stringify(body.parent_id)} is not a comment id`;
  }
  if (body.edited_at !== undefined && body.edited_at !== null && !isRfc3339(body.edited_at)) {
    return "edited_at must be RFC 3339 in UTC";
  }
  return null;
}

function derivedKey(body) {
  // the key comment-migrate sends as the header: "<source system>:<source id>"
  if (!isObject(body) || !isObject(body.source) || typeof body.source.id !== "string") {
    return null;
  }
  const system = typeof body.source.system === "string" ? body.source.system : "unknown";
  return `${system}:${body.source.id}`;
}

async function idForKey(env, key) {
  const row = await env.DB.prepare("SELECT id FROM comments WHERE idempotency_key = ?1")
    .bind(key).first();
  return row === null ? null : String(row.id);
}

function commentId(text) {
  const id = parentId(text);
  if (id === null) throw new HttpError(404, "not found");
  return id;
}

function parentId(value) {
  if (value === null || value === undefined) return null;
  const text = String(value);
  return /^[1-9]\d{0,14}$/.test(text) ? Number(text) : null;
}

function isRfc3339(value) {
  return typeof value === "string" && RFC3339_UTC.test(value) && !Number.isNaN(Date.parse(value));
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function optionalString(value) {
  return typeof value === "string" ? value : null;
}

function httpUrl(value) {
  return typeof value === "string" && /^https?:\/\//i.test(value) ? value : null;
}

async function readJson(request, limit) {
  const declared = Number(request.headers.get("Content-Length") || 0);
  if (declared > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
  const raw = await request.text();
  if (raw.length > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
  try {
    return JSON.parse(raw);
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
}

function notAllowed(method, path) {
  return json({ error: `method ${method} not allowed on ${path}` }, 405);
}

function cors() {
  return {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Max-Age": "86400",
  };
}

// JSON that stays inert even if a page inlines it in HTML: <, >, & and the JS line
// separators are escaped; nosniff keeps browsers from reading it as anything else.
function json(body, status = 200, extra = {}) {
  const text = JSON.stringify(body).replace(
    /[<>&\u2028\u2029]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
  return new Response(text, {
    status,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "no-store",
      ...extra,
    },
  });
}
