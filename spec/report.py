"""The claim report printed at the end of a run."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from spec.results import BROKEN, claim_outcome, outcome_counts

SYMBOL = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


def claim_report_lines(rows: list[dict[str, Any]], registry: dict) -> list[str]:
    by_claim: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_claim[row["claim"]].append(row)
    order = list(registry)
    ids = sorted(by_claim, key=lambda c: order.index(c) if c in order else len(order))
    lines = []
    totals: dict[str, int] = defaultdict(int)
    for cid in ids:
        rs = by_claim[cid]
        outcome = claim_outcome(rs)
        totals[outcome] += 1
        n_pass, n_fail, n_skip = outcome_counts(rs)
        statement = registry[cid].statement if cid in registry else "(not in the registry)"
        lines.append(f"{SYMBOL[outcome]} {cid:<11} {n_pass:>3} passed {n_fail:>2} failed {n_skip:>3} skipped  {statement}")
        for r in rs:
            if r["outcome"] in BROKEN and r.get("message"):
                first = r["message"].strip().splitlines()[0] if r["message"].strip() else ""
                lines.append(f"       {r['nodeid']}: {first}")
    lines.append(
        f"claims: {totals['pass']} hold, {totals['fail']} fail, {totals['skip']} skipped everywhere "
        f"({len(ids)} claims, {len(rows)} tests)"
    )
    return lines
