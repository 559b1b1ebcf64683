"""The contract every target passes: run it on a built-in target or on your own plugin's.

    from migrate.testing.target_contract import check_target
    report = check_target(lambda: MyTarget(url, token), plugin=TARGET, section=section)

`check_target` opens the target (a function that builds a fresh one each time: reopening is
how a crash is stood in for) and sends one page whose thread is three levels deep, placed as
the pipeline places it for the target's depth. It raises AssertionError when a rule is broken:
- `create` answers a new, non-empty id per comment;
- the plugin, where given, knows the target's identity and capabilities before opening it;
- a target declaring `idempotency = "reconcile"` is a ReconcilingTarget, and its `reconcile`,
  asked by a fresh target object about the page just sent, adopts every comment with its id
  (the crash window closed: nothing would be sent twice);
- a target declaring `idempotency = "key"` answers the id it gave when a comment is sent
  again;
- a page-atomic target shows nothing of a page that was aborted, even after reopening;
- a ListingTarget lists exactly what was created, under the parents it reported;
- a DeletingTarget that can delete removes a comment once (True), then says it is gone.
The report says which abilities were exercised and what a crash may leave (`crash_window`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from migrate.abilities import (
    DeletingTarget,
    ListingTarget,
    ReconcilingTarget,
    Target,
    crash_window,
)
from migrate.config import SectionConfig
from migrate.model import Comment, Created, Page
from migrate.pipeline.transform import CommentTransformer, PagePlan
from migrate.plugins import TargetPlugin
from migrate.testing.factories import comment

PAGE = Page(id="contract-kit", key="/contract-kit/", title="The contract kit's page")


def _thread(page: Page) -> list[Comment]:
    return [
        comment("kit-a", minute=0, author="ann", text="A first comment, top level.", page=page.id),
        comment("kit-b", "kit-a", minute=1, author="bob", text="Bob answers Ann.", page=page.id),
        comment("kit-c", "kit-b", minute=2, author="cy", text="Cy answers Bob.", page=page.id),
        comment("kit-d", minute=3, author="di", text="Another thread begins.", page=page.id),
    ]


@dataclass
class TargetReport:
    created: dict[str, str] = field(default_factory=dict)  # source id -> target id
    abilities: list[str] = field(default_factory=list)
    crash_window: str | None = None


def _never_gone(source_id: str) -> str | None:
    return None


def check_target(
    open_target: Callable[[], Target],
    *,
    plugin: TargetPlugin | None = None,
    section: SectionConfig | None = None,
    page: Page = PAGE,
) -> TargetReport:
    """Send one page and check the contract; see the module docstring."""
    report = TargetReport()
    target = open_target()
    caps = target.capabilities
    report.crash_window = crash_window(caps)
    if plugin is not None and section is not None:
        assert plugin.identity(section) == dict(target.identity()), (
            f"the plugin's identity {plugin.identity(section)} is not the target's "
            f"{dict(target.identity())}"
        )
        assert plugin.capabilities(section) == caps, "the plugin's capabilities differ"
    if caps.idempotency == "reconcile":
        assert isinstance(target, ReconcilingTarget), "declares reconcile but has none"
    comments = _thread(page)
    plan = PagePlan(CommentTransformer(caps, system="contract"), page, comments)
    created: dict[str, Created] = {}

    def lookup(source_id: str) -> str | None:
        return created[source_id].target_id if source_id in created else None

    if caps.page_atomic:
        target.begin_page(page)
        target.create(plan.outgoing(plan.order[0], lookup, _never_gone))
        target.abort_page(page)
        target.close()
        target = open_target()
        if isinstance(target, ListingTarget):
            assert target.list_page(page) == [], "an aborted page left comments behind"
        report.abilities.append("page-atomic")
    target.begin_page(page)
    sent = []
    for source in plan.order:
        outgoing = plan.outgoing(source, lookup, _never_gone)
        refusal = target.check(outgoing)
        assert refusal is None, f"{source.id} refused by rule: {refusal}"
        answer = target.create(outgoing)
        assert answer.target_id, f"{source.id}: an empty id"
        assert answer.target_id not in (c.target_id for c in created.values()), (
            f"{source.id}: id {answer.target_id} given twice"
        )
        created[source.id] = answer
        sent.append(outgoing)
    target.finish_page(page)
    report.created = {sid: answer.target_id for sid, answer in created.items()}
    target.close()

    target = open_target()
    try:
        if isinstance(target, ListingTarget):
            held = {c.target_id: c for c in target.list_page(page)}
            assert set(held) == set(report.created.values()), (
                f"listed {sorted(held)}, created {sorted(report.created.values())}"
            )
            for outgoing in sent:
                answer = created[outgoing.source.id]
                parent = answer.parent_target_id or outgoing.parent_target_id
                assert held[answer.target_id].parent_target_id == parent, (
                    f"{outgoing.source.id} listed under {held[answer.target_id].parent_target_id}"
                )
            report.abilities.append("list")
        if isinstance(target, ReconcilingTarget):
            found = target.reconcile(page, sent, known_target_ids=())
            assert found == report.created, f"reconcile adopted {found}, not {report.created}"
            report.abilities.append("reconcile")
        if caps.idempotency == "key":
            again = target.create(sent[0])
            assert again.target_id == report.created[sent[0].source.id], "a resend made a copy"
            report.abilities.append("key")
        if isinstance(target, DeletingTarget) and caps.can_delete:
            last = report.created[plan.order[-1].id]
            assert target.delete(last, page) is True, "delete of a comment it holds said gone"
            assert target.delete(last, page) is False, "a second delete said it deleted"
            if isinstance(target, ListingTarget):
                assert last not in {c.target_id for c in target.list_page(page)}
            report.abilities.append("delete")
    finally:
        target.close()
    return report
