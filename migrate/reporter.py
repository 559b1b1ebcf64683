"""What a person sees: tqdm bars while it runs, a summary when it ends (stderr), JSON (stdout)."""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from tqdm import tqdm

from utils.terminal import printable


@dataclass
class RunSummary:
    pages_total: int = 0
    pages_complete: int = 0  # complete now, including pages completed by earlier runs
    pages_failed: int = 0
    pages_interrupted: int = 0
    pages_skipped: int = 0  # already complete before this run
    comments_extracted: int = 0
    comments_imported: int = 0  # sent and accepted during this run
    comments_adopted: int = 0  # found already in the target by reconciliation
    comments_skipped: int = 0  # refused by the target's rules, with a recorded reason
    comments_failed: int = 0
    elapsed_seconds: float = 0.0
    interrupted: bool = False
    dry_run: bool = False
    target: str = ""
    output: str | None = None  # file written (file targets, dry run)
    verb: str = "Migration"  # what finished: "Migration" (run) or "Sync"
    notes: list[str] = field(default_factory=list)
    failed_pages: list[dict[str, Any]] = field(default_factory=list)
    skipped_comments: list[dict[str, str]] = field(default_factory=list)
    # source events that are not comments (reactions) or could not be read, with reasons
    skipped_events: list[dict[str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.comments_imported / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["comments_per_second"] = round(self.rate, 2)
        data["elapsed_seconds"] = round(self.elapsed_seconds, 3)
        return data


class Reporter:
    """Progress bars on stderr; off when stderr is not a terminal or with -q."""

    def __init__(self, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self.quiet = quiet
        self._lock = threading.Lock()
        self._pages: tqdm[Any] | None = None
        self._comments: tqdm[Any] | None = None

    def start(self, total_pages: int) -> None:
        if not self.enabled:
            return
        self._pages = tqdm(
            total=total_pages,
            desc="pages",
            unit="page",
            file=self.stream,
            position=0,
            dynamic_ncols=True,
        )
        self._comments = tqdm(
            total=0,
            desc="comments",
            unit="comment",
            file=self.stream,
            position=1,
            dynamic_ncols=True,
        )

    def page_extracted(self, comments: int) -> None:
        with self._lock:
            if self._comments is not None:
                self._comments.total = (self._comments.total or 0) + comments
                self._comments.refresh()

    def comment_done(self, n: int = 1) -> None:
        with self._lock:
            if self._comments is not None:
                self._comments.update(n)

    def page_done(self) -> None:
        with self._lock:
            if self._pages is not None:
                self._pages.update(1)

    def close(self) -> None:
        with self._lock:
            for bar in (self._comments, self._pages):
                if bar is not None:
                    bar.close()
            self._pages = self._comments = None

    def summary(self, summary: RunSummary) -> None:
        """The run's summary; with -q only what went wrong (failed pages and what to do)."""

        def write(line: str) -> None:
            self.stream.write(printable(line))

        if self.quiet:
            for page in summary.failed_pages:
                write(f"FAILED {page['page_id']}: {page['error']}\n")
            self._next_step(summary, write)
            return
        state = "interrupted" if summary.interrupted else "finished"
        if summary.dry_run:
            write(
                f"Dry run {state} in {summary.elapsed_seconds:.2f}s: nothing was sent to the "
                f"{summary.target} target; this is what a run would do now\n"
            )
        else:
            write(
                f"{summary.verb} {state} in {summary.elapsed_seconds:.2f}s "
                f"(target: {summary.target})\n"
            )
        would = "would be " if summary.dry_run else ""
        write(
            f"  pages:    {summary.pages_complete}/{summary.pages_total} complete, "
            f"{summary.pages_failed} failed"
            + (f", {summary.pages_interrupted} interrupted" if summary.pages_interrupted else "")
            + (f" ({summary.pages_skipped} already complete)" if summary.pages_skipped else "")
            + "\n"
        )
        write(
            f"  comments: {summary.comments_imported} {would or ''}"
            f"{'sent' if would else 'imported'}, "
            f"{summary.comments_adopted} found already there, "
            f"{summary.comments_skipped} {would}refused by the target, "
            f"{summary.comments_failed} failed "
            f"({summary.rate:.1f}/s)\n"
        )
        if summary.skipped_events:
            reasons = Counter(e["reason"] for e in summary.skipped_events)
            grouped = ", ".join(f"{n} x {reason}" for reason, n in reasons.most_common(5))
            more = f", {len(reasons) - 5} other reasons" if len(reasons) > 5 else ""
            write(f"  source events skipped: {len(summary.skipped_events)} ({grouped}{more})\n")
        if summary.output:
            write(f"  written:  {summary.output}\n")
        for page in summary.failed_pages:
            write(f"  FAILED {page['page_id']}: {page['error']}\n")
        for skipped in summary.skipped_comments[:10]:
            write(f"  refused {describe_comment(skipped)}: {skipped['reason']}\n")
        if len(summary.skipped_comments) > 10:
            write(
                f"  ... and {len(summary.skipped_comments) - 10} more refused "
                "(`--json` lists them all)\n"
            )
        for note in summary.notes:
            write(f"  note: {note}\n")
        self._next_step(summary, write)

    @staticmethod
    def _next_step(summary: RunSummary, write: Callable[[str], None]) -> None:
        if summary.interrupted:
            write("  The run was interrupted; the checkpoint is saved: run it again to continue.\n")
        elif summary.pages_failed:
            write("  Fix the cause and run again: only what is missing is imported.\n")


def describe_comment(entry: dict[str, str]) -> str:
    """A comment as people know it: page, author, time and the start of its text (the event
    id only when nothing else is known)."""
    if not entry.get("author"):
        return f"{entry['page_id']}/{entry['source_id']}"
    return (
        f"{entry['page_id']}: {entry['author']}, {entry.get('created_at', '')}: "
        f'"{entry.get("excerpt", "")}"'
    )


def print_json(data: Any, stream: IO[str] | None = None) -> None:
    out = stream or sys.stdout
    out.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
    out.flush()
