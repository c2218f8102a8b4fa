"""The outcome vocabulary, defined once: what one test did, and what a set of tests sums up to.

An **outcome** is what one test (a results row) ended with; the groups below say what it means
for its claim.  A **status** sums up the outcomes of several rows (one claim in one cell, in one
run, or everywhere): :data:`STATUSES` lists every status with its words and symbols, in the order
legends list them, and each status owns its place in the order statuses combine in
(:attr:`Status.severity`: fail beats fixed beats pass beats n/a beats skip beats not run).

Every reader and writer of outcomes and statuses (the plugin, the results file, the aggregation,
the claim report, the diff, the book, the matrix, the sensitivity proof) imports them from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

#: Every outcome a results row can have (the results schema's ``outcome`` enum lists the same).
OUTCOMES: tuple[str, ...] = ("passed", "failed", "skipped", "error", "xfailed", "xpassed", "n/a", "fixed")
#: Outcomes under which a claim holds, and under which it is broken.
HELD = frozenset({"passed", "xfailed"})
BROKEN = frozenset({"failed", "error", "xpassed"})
#: A hazard whose wrong value is gone (welcome, not a regression).
FIXED = frozenset({"fixed"})
#: Outcomes that verified nothing: skipped (with the reason) and n/a (the feature does not exist in that torch).
NOT_APPLICABLE = frozenset({"n/a"})
SKIPPED = frozenset({"skipped"})
UNVERIFIED = NOT_APPLICABLE | SKIPPED
#: Outcomes under which a test verified something (it held, broke, or found a hazard fixed).
VERIFIED = HELD | BROKEN | FIXED
#: Verified outcomes under which the claim did not hold as recorded (broken, or a hazard fixed).
NOT_HELD = BROKEN | FIXED


@dataclasses.dataclass(frozen=True)
class Status:
    key: str  # pass | fail | fixed | n/a | skip | not run
    word: str  # the claim report's word
    label: str  # in prose: "holds", "fails" ...
    mark: str  # Markdown (code hosts have emoji fonts)
    sym: str  # HTML (readable with any font)
    css: str  # class suffix: st-<css>
    meaning: str
    outcomes: frozenset[str]  # the outcomes that make this status
    severity: int  # how statuses combine: the lowest severity among the rows' statuses wins


#: Every status, in the order filters and legends list them.
STATUSES: dict[str, Status] = {
    s.key: s
    for s in (
        Status("pass", "PASS", "holds", "✅", "✓", "pass", "every test that ran held", HELD, 2),
        Status("fail", "FAIL", "fails", "❌", "✗", "fail", "a test failed (a rule broke, a hazard changed, or a test crashed)",
               BROKEN, 0),
        Status("fixed", "FIXED", "hazard fixed", "🩹", "✚", "fixed",
               "a hazard's wrong value is gone: torch now gives the true value (welcome, not a regression)", FIXED, 1),
        Status("n/a", "N/A", "n/a", "➖", "∅", "na", "the feature does not exist in this torch (with the reason); never a pass",
               NOT_APPLICABLE, 3),
        Status("skip", "SKIP", "skipped", "⏭️", "–", "skip", "every test was skipped (with the reason)", SKIPPED, 4),
        Status("not run", "NOT RUN", "not run", "·", "·", "not-run", "no results for this combination", frozenset(), 5),
    )
}
#: The statuses from the one that wins to the one that loses when several combine.
BY_SEVERITY: tuple[Status, ...] = tuple(sorted(STATUSES.values(), key=lambda s: s.severity))


def status_of(outcomes: Iterable[str]) -> str:
    """The status of a set of test outcomes: fail beats fixed beats pass beats n/a beats skip."""
    found = set(outcomes)
    if not found:
        return "not run"
    for status in BY_SEVERITY:
        if found & status.outcomes:
            return status.key
    return "skip"  # nothing verified and nothing n/a
