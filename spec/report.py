"""The claim report printed at the end of a run: a rendering of the run's :class:`spec.aggregate.Aggregate`."""

from __future__ import annotations

from typing import Any

from spec.aggregate import STATUSES, Aggregate, Row, Run, first_line
from spec.outcomes import NOT_APPLICABLE, NOT_HELD


def run_aggregate(rows: list[dict[str, Any]], registry: dict) -> Aggregate:
    """The aggregate of the run that just ended (its rows as the plugin collected them)."""
    return Aggregate([Run("this run", [], [Row.from_json(r) for r in rows])], registry)


def claim_report_lines(rows: list[dict[str, Any]], registry: dict) -> list[str]:
    agg = run_aggregate(rows, registry)
    ids = [cid for cid in agg.claims if cid in agg.rows_of]
    lines = []
    for cid in ids:
        status, n = STATUSES[agg.status(cid)], agg.tally(cid)
        statement = agg.claims[cid].statement if cid in agg.registry else "(not in the registry)"
        extra = "".join(f" {n[o]:>2} {w}" for o, w in (("fixed", "fixed"), ("n/a", "n/a")) if n[o])
        lines.append(
            f"{status.word} {cid:<{15 - len(status.word)}} {n.held:>3} passed {n.broken:>2} failed {n['skipped']:>3} skipped{extra}  {statement}"
        )
        for _, r in agg.rows_of[cid]:
            if r.outcome in NOT_HELD:
                lines.append(f"       {r.nodeid}: {first_line(r.message) or r.outcome}")
            elif r.outcome in NOT_APPLICABLE and status.key == "n/a":
                lines.append(f"       {r.nodeid}: n/a: {first_line(r.reason)}")
    totals = agg.counts(ids)
    parts = [f"{totals['pass']} hold", f"{totals['fail']} fail"]
    if totals["fixed"]:
        parts.append(f"{totals['fixed']} hazard(s) fixed")
    if totals["n/a"]:
        parts.append(f"{totals['n/a']} n/a everywhere")
    parts.append(f"{totals['skip']} skipped everywhere")
    lines.append(f"claims: {', '.join(parts)} ({len(ids)} claims, {len(rows)} tests)")
    return lines
