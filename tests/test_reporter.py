"""Progress bars only on a terminal and never with -q; the summary names what failed."""

from __future__ import annotations

import io

from migrate.reporter import Reporter, RunSummary


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_on_a_terminal_show_pages_comments_rate_and_eta() -> None:
    stream = Terminal()
    reporter = Reporter(stream=stream)
    reporter.start(total_pages=2)
    reporter.page_extracted(10)
    reporter.comment_done(4)
    reporter.page_done()
    reporter.close()
    out = stream.getvalue()
    assert "pages" in out and "1/2" in out
    assert "comments" in out and "4/10" in out
    assert "comment/s" in out or "s/comment" in out  # the rate
    assert "<" in out  # tqdm's elapsed<remaining, i.e. the ETA


def test_no_bars_when_not_a_terminal_or_quiet() -> None:
    for reporter, stream in (
        (Reporter(stream=(plain := io.StringIO())), plain),
        (Reporter(stream=(tty := Terminal()), quiet=True), tty),
    ):
        reporter.start(total_pages=2)
        reporter.page_extracted(3)
        reporter.comment_done()
        reporter.close()
        assert stream.getvalue() == ""


def test_summary_lists_failed_pages_refusals_and_grouped_source_skips() -> None:
    stream = io.StringIO()
    summary = RunSummary(
        pages_total=3,
        pages_complete=2,
        pages_failed=1,
        comments_imported=20,
        comments_skipped=1,
        elapsed_seconds=2.0,
        target="isso",
        failed_pages=[{"page_id": "post2", "error": "POST /new -> 400: bad"}],
        skipped_comments=[{"page_id": "post1", "source_id": "$a", "reason": "too short"}],
        skipped_events=[
            {"page_id": "post1", "source_id": f"$r{i}", "reason": "reaction"} for i in range(3)
        ],
    )
    Reporter(stream=stream).summary(summary)
    out = stream.getvalue()
    assert "2/3 complete, 1 failed" in out
    assert "FAILED post2: POST /new -> 400: bad" in out
    assert "refused post1/$a: too short" in out
    assert "source events skipped: 3 (3 x reaction)" in out
    assert "10.0/s" in out
    assert "run again" in out
