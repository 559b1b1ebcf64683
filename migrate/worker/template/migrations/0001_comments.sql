-- The comment store of the comment API. Ids only grow (AUTOINCREMENT): an id that was
-- deleted is never handed out again, so a stale mapping can never point at another comment.
CREATE TABLE comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- "<source system>:<source id>"; UNIQUE makes a repeated or concurrent POST a no-op.
    -- NULL once the comment is deleted, so the same comment can be migrated again.
    idempotency_key TEXT UNIQUE,
    page_id TEXT NOT NULL,
    page_uri TEXT,
    page_title TEXT,
    parent_id INTEGER REFERENCES comments (id),
    author_name TEXT,
    author_source_id TEXT,   -- never served by the public read endpoint
    author_avatar_url TEXT,
    text TEXT NOT NULL,
    html TEXT,
    created_at TEXT NOT NULL,  -- RFC 3339 UTC, as the source had it
    edited_at TEXT,
    source_system TEXT,
    source_id TEXT,
    source_parent_id TEXT,
    -- a tombstone: kept only because replies hang under it
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    inserted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX comments_page ON comments (page_id, id);
CREATE INDEX comments_page_uri ON comments (page_uri);
CREATE INDEX comments_source ON comments (source_id);
CREATE INDEX comments_parent ON comments (parent_id);
