"""What `status` and `checkpoint show` print, read from the checkpoint without taking its lock
(so both work while a run is going on)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate.session import require_checkpoint
from utils.checkpoint_manager import CheckpointManager, read_checkpoint
from utils.pace import pace_file_for, read_pace, simulate_end


def load_status(path: Path) -> dict[str, Any]:
    state = read_checkpoint(path)
    summary = dict(state.get_progress_summary())
    failed = []
    for page_id in sorted(state.get_failed_page_ids()):
        page = state.get_page(page_id) or {}
        error = page.get("error") or {}
        failed.append(
            {
                "page_id": page_id,
                "attempts": page.get("attempts", 0),
                "error": error.get("message"),
                "error_type": error.get("type"),
                "retryable": error.get("retryable"),
                "at": error.get("time"),
            }
        )
    summary["failed_pages"] = failed
    summary["in_progress_pages"] = sorted(state.get_in_progress_page_ids())
    summary["checkpoint"] = str(path)
    summary["config_identity"] = state.config_identity
    summary["syncs"] = state.get_syncs()
    summary["last_sync"] = state.last_sync
    summary["pace"] = pace_estimate(path, summary, time.time())
    return summary


def pace_estimate(path: Path, report: dict[str, Any], now: float) -> dict[str, Any] | None:
    """For a target that paces its sends (GitHub: utils.pace), when the run should end: the
    comments left, estimated from the pages done so far, sent at the fastest pace its limits
    allow after what it sent lately. None for targets without a pace."""
    state = read_pace(pace_file_for(path))
    if state is None:
        return None
    counted = report["completed"] + report["failed"]
    pages_left = report["pending"] + report["in_progress"]
    extracted = report["comments_extracted"]
    left: int | None = None
    if counted:
        unfinished = max(0, extracted - report["comments_imported"] - report["comments_skipped"])
        # each page left costs its comments and, at most, the creation of its discussion
        left = round(extracted / counted * pages_left) + unfinished + pages_left
    elif not pages_left:
        left = 0
    recent = sum(1 for t in state.sent if t > now - 3600)
    end = None
    if left is not None:
        moment = simulate_end(state.sent, state.limits, state.hold_until, left, now)
        end = datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
    hold = state.hold_until if state.hold_until > now else None
    return {
        "limits": [{"sends": count, "seconds": window} for count, window in state.limits],
        "sent_last_hour": recent,
        "sends_left_estimate": left,
        "expected_end": end,
        "held_until": None
        if hold is None
        else datetime.fromtimestamp(hold, UTC).isoformat(timespec="seconds"),
    }


def _describe_pace(pace: dict[str, Any]) -> list[str]:
    limits = ", ".join(f"{limit['sends']} per {limit['seconds']:g} s" for limit in pace["limits"])
    lines = [f"  pace:     {pace['sent_last_hour']} sends in the last hour (limits: {limits})"]
    if pace["held_until"]:
        lines.append(f"  held:     the target asked for no sends before {pace['held_until']}")
    if pace["expected_end"] is None:
        lines.append("  expected end: not known until a page is done")
    else:
        lines.append(
            f"  expected end: {pace['expected_end']} (about {pace['sends_left_estimate']} "
            "sends left, estimated from the pages done, at the pace the limits allow)"
        )
    return lines


def describe_status(report: dict[str, Any], path: Path) -> str:
    lines = [
        f"Checkpoint {path}",
        f"  pages:    {report['completed']}/{report['total_pages']} complete "
        f"({report['percent_complete']}%), {report['failed']} failed, "
        f"{report['in_progress']} in progress, {report['pending']} pending",
        f"  comments: {report['comments_imported']} imported, "
        f"{report['comments_skipped']} skipped with a reason, {report['mappings']} id mappings",
        f"  started:  {report.get('started_at') or '-'}   updated: "
        f"{report.get('updated_at') or '-'}",
    ]
    if report.get("pace"):
        lines += _describe_pace(report["pace"])
    last = report.get("last_sync")
    if last:
        lines.append(f"  last sync: {last['at']}, {len(report['syncs'])} syncs in all:")
        for entry in report["syncs"][-5:]:
            lines.append(
                f"    {entry['at']}  {entry['comments_imported']} new comments, "
                f"{entry['changes_applied']} edits/deletions applied, "
                f"{entry['changes_not_applied']} not applied, "
                f"{entry['pages_unchanged']}/{entry['pages']} pages unchanged"
                + (f", wrote {entry['output']}" if entry.get("output") else "")
            )
    else:
        lines.append("  last sync: never (`comment-migrate sync` imports what came since)")
    if report["failed_pages"]:
        lines.append("  failed pages:")
        width = max(len(p["page_id"]) for p in report["failed_pages"])
        for page in report["failed_pages"]:
            kind = "retryable" if page["retryable"] else "needs a fix"
            lines.append(
                f"    {page['page_id']:<{width}}  attempts {page['attempts']}  "
                f"[{kind}] {page['error']}"
            )
        lines.append("  Fix the cause, then `comment-migrate run` again (or `run --only-failed`).")
    if report["in_progress_pages"]:
        lines.append("  in progress (or interrupted): " + ", ".join(report["in_progress_pages"]))
    return "\n".join(lines)


def checkpoint_document(path: Path, *, mappings: bool = False) -> dict[str, Any]:
    state = read_checkpoint(path)
    doc = dict(state.to_document())
    if not mappings:
        doc = {k: v for k, v in doc.items() if k not in ("mappings", "id_mapping")}
        doc["mapping_count"] = state.mapping_count()
    return doc


def compact_checkpoint(path: Path) -> None:
    """`checkpoint compact`: fold the journal into a new snapshot, under the checkpoint's
    lock. A journal without a snapshot (a crash before the first compaction) is a checkpoint
    too."""

    require_checkpoint(path, "to compact")
    with CheckpointManager(checkpoint_file=path) as cp:
        cp.compact()
