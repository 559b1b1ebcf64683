"""Generated exports of any size in the real shapes, for tests and benchmarks, streamed to
the file (a generator of a gigabyte holds one post in memory):
- Disqus: namespaces, CDATA messages, the thread list first, posts not in page order, twin
  threads, replies up to several levels, spam, deleted posts, disq.us-wrapped links;
- WordPress (WXR 1.2): items with their comments nested, plain permalinks, replies, spam and
  pending comments.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="'
    "http://disqus.com/api/schemas/1.0/disqus.xsd "
    'http://disqus.com/api/schemas/1.0/disqus-internals.xsd">\n'
    '<category dsq:id="1">\n<forum>generated</forum>\n<title>General</title>\n'
    "<isDefault>true</isDefault>\n</category>\n"
)
WORDS = [
    "comment",
    "reply",
    "thanks",
    "great",
    "post",
    "agree",
    "disagree",
    "point",
    "article",
    "read",
    "more",
    "link",
    "idea",
    "question",
    "answer",
    "example",
    "code",
    "works",
    "fine",
    "broken",
    "version",
    "update",
    "later",
    "first",
]


@dataclass(frozen=True)
class GeneratedExport:
    path: Path
    threads: int
    posts: int
    spam: int
    size: int  # bytes written (compressed size when gzip)


def _thread(out: IO[str], dsq_id: int, link: str, title: str) -> None:
    out.write(
        f'<thread dsq:id="{dsq_id}">\n<id />\n<forum>generated</forum>\n'
        '<category dsq:id="1" />\n'
        f"<link>{escape(link)}</link>\n<title>{escape(title)}</title>\n<message />\n"
        "<createdAt>2015-01-01T00:00:00Z</createdAt>\n"
        "<author>\n<name>Owner</name>\n<isAnonymous>false</isAnonymous>\n"
        "<username>owner</username>\n</author>\n"
        "<ipAddress>192.0.2.1</ipAddress>\n<isClosed>false</isClosed>\n"
        "<isDeleted>false</isDeleted>\n</thread>\n"
    )


def write_disqus_export(
    path: Path,
    *,
    threads: int,
    posts: int,
    seed: int = 1,
    compress: bool = False,
    twins: bool = True,
    words: int = 60,
    first_thread: int = 1,
) -> GeneratedExport:
    """A Disqus export of `threads` pages and `posts` posts (about 1 KB each with the
    default `words`): every fifth page also listed as its http:// twin, one post in 50 spam,
    one in 40 deleted, replies to earlier posts of the same page, posts shuffled across
    pages as real exports are. Thread ids start at `first_thread`."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    opener = gzip.open if compress else open
    spam = 0
    with opener(path, "wt", encoding="utf-8") as out:
        out.write(HEAD)
        for n in range(threads):
            _thread(out, first_thread + n, f"https://example.org/post/{n}/", f"Post number {n}")
        if twins:
            for n in range(0, threads, 5):
                twin = first_thread + threads + n
                _thread(out, twin, f"http://www.example.org/post/{n}", f"Post {n}")
        recent: dict[int, list[int]] = {}
        for p in range(posts):
            number = 100000 + p
            page = rng.randrange(threads)
            thread = first_thread + page
            if twins and page % 5 == 0 and rng.random() < 0.3:
                thread = first_thread + threads + page  # posted on the twin URL
            earlier = recent.setdefault(page, [])
            parent = rng.choice(earlier) if earlier and rng.random() < 0.4 else None
            is_spam = rng.random() < 0.02
            spam += is_spam
            deleted = rng.random() < 0.025
            body = " ".join(rng.choice(WORDS) for _ in range(words))
            link = (
                '<a href="https://disq.us/url?url=https%3A%2F%2Fdocs.example.com%2F'
                f'{p}:aBcD{p}efGh" rel="nofollow">docs</a>'
            )
            out.write(
                f'<post dsq:id="{number}">\n<id />\n'
                f"<message><![CDATA[<p>{body}</p><p>See {link}.</p>]]></message>\n"
                f"<createdAt>{2015 + p % 8}-{1 + p % 12:02d}-{1 + p % 28:02d}T"
                f"{p % 24:02d}:{p % 60:02d}:{(p * 7) % 60:02d}Z</createdAt>\n"
                f"<isDeleted>{str(deleted).lower()}</isDeleted>\n"
                f"<isSpam>{str(is_spam).lower()}</isSpam>\n"
                f"<author>\n<email>user{p % 997}@example.net</email>\n"
                f"<name>User {p % 997}</name>\n<isAnonymous>false</isAnonymous>\n"
                f"<username>user{p % 997}</username>\n</author>\n"
                f"<ipAddress>198.51.100.{p % 250}</ipAddress>\n"
                f'<thread dsq:id="{thread}" />\n'
                + (f'<parent dsq:id="{parent}" />\n' if parent is not None else "")
                + "</post>\n"
            )
            earlier.append(number)
            if len(earlier) > 20:
                del earlier[0]
        out.write("</disqus>\n")
    return GeneratedExport(path, threads, posts, spam, path.stat().st_size)


WXR_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0"\n'
    '\txmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"\n'
    '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
    '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
    '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
    '\txmlns:wp="http://wordpress.org/export/1.2/"\n>\n<channel>\n'
    "\t<title>Generated</title>\n\t<link>https://blog.example.org</link>\n"
    "\t<wp:wxr_version>1.2</wp:wxr_version>\n"
    "\t<wp:author><wp:author_id>1</wp:author_id>"
    "<wp:author_login><![CDATA[admin]]></wp:author_login></wp:author>\n"
)


def _wxr_comment(out: IO[str], number: int, parent: int, approved: str, body: str) -> None:
    who = number % 997
    stamp = f"{2015 + number % 8}-{1 + number % 12:02d}-{1 + number % 28:02d} {number % 24:02d}"
    stamp += f":{number % 60:02d}:{(number * 7) % 60:02d}"
    out.write(
        f"\t\t<wp:comment>\n\t\t\t<wp:comment_id>{number}</wp:comment_id>\n"
        f"\t\t\t<wp:comment_author><![CDATA[User {who}]]></wp:comment_author>\n"
        f"\t\t\t<wp:comment_author_email><![CDATA[user{who}@example.net]]>"
        "</wp:comment_author_email>\n"
        f"\t\t\t<wp:comment_author_url>https://user{who}.example.net/</wp:comment_author_url>\n"
        f"\t\t\t<wp:comment_author_IP><![CDATA[198.51.100.{number % 250}]]>"
        "</wp:comment_author_IP>\n"
        f"\t\t\t<wp:comment_date><![CDATA[{stamp}]]></wp:comment_date>\n"
        f"\t\t\t<wp:comment_date_gmt><![CDATA[{stamp}]]></wp:comment_date_gmt>\n"
        f"\t\t\t<wp:comment_content><![CDATA[{body}]]></wp:comment_content>\n"
        f"\t\t\t<wp:comment_approved><![CDATA[{approved}]]></wp:comment_approved>\n"
        "\t\t\t<wp:comment_type><![CDATA[comment]]></wp:comment_type>\n"
        f"\t\t\t<wp:comment_parent>{parent}</wp:comment_parent>\n"
        "\t\t\t<wp:comment_user_id>0</wp:comment_user_id>\n\t\t</wp:comment>\n"
    )


def write_wxr_export(
    path: Path, *, posts: int, comments: int, seed: int = 1, words: int = 60
) -> GeneratedExport:
    """A WordPress export (WXR 1.2) of `posts` items sharing `comments` comments (about 1 KB
    each), each item's comments nested in it as WordPress writes them: plain permalinks,
    replies to earlier comments of the same post, one comment in 50 spam, one in 40 pending,
    two paragraphs with a line break."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    spam = 0
    number = 1
    with path.open("w", encoding="utf-8") as out:
        out.write(WXR_HEAD)
        for post in range(posts):
            out.write(
                f"\t<item>\n\t\t<title>Post number {post}</title>\n"
                f"\t\t<link>https://blog.example.org/?p={post + 10}</link>\n"
                "\t\t<dc:creator><![CDATA[admin]]></dc:creator>\n"
                f"\t\t<content:encoded><![CDATA[<p>Post {post}.</p>]]></content:encoded>\n"
                f"\t\t<wp:post_id>{post + 10}</wp:post_id>\n"
                "\t\t<wp:status><![CDATA[publish]]></wp:status>\n"
                "\t\t<wp:post_type><![CDATA[post]]></wp:post_type>\n"
            )
            share = comments // posts + (post < comments % posts)
            earlier: list[int] = []
            for _ in range(share):
                parent = rng.choice(earlier) if earlier and rng.random() < 0.4 else 0
                roll = rng.random()
                approved = "spam" if roll < 0.02 else "0" if roll < 0.045 else "1"
                spam += approved == "spam"
                body = " ".join(rng.choice(WORDS) for _ in range(words))
                _wxr_comment(out, number, parent, approved, f"{body}\nthanks\n\n{body[:40]}")
                earlier = [*earlier[-19:], number]
                number += 1
            out.write("\t</item>\n")
        out.write("</channel>\n</rss>\n")
    return GeneratedExport(path, posts, comments, spam, path.stat().st_size)
