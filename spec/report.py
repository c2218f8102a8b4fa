"""The claim report printed at the end of a run: a rendering of :mod:`spec.aggregate`."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from spec.aggregate import STATUSES, first_line, status_of
from spec.results import BROKEN, HELD


def claim_report_lines(rows: list[dict[str, Any]], registry: dict) -> list[str]:
    by_claim: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_claim[row["claim"]].append(row)
    order = list(registry)
    ids = sorted(by_claim, key=lambda c: order.index(c) if c in order else len(order))
    lines = []
    totals: Counter[str] = Counter()
    for cid in ids:
        rs = by_claim[cid]
        status = status_of(r["outcome"] for r in rs)
        totals[status] += 1
        n = Counter(r["outcome"] for r in rs)
        held, broken = sum(n[o] for o in HELD), sum(n[o] for o in BROKEN)
        statement = registry[cid].statement if cid in registry else "(not in the registry)"
        extra = "".join(f" {n[o]:>2} {w}" for o, w in (("fixed", "fixed"), ("n/a", "n/a")) if n[o])
        lines.append(
            f"{STATUSES[status].word} {cid:<{15 - len(STATUSES[status].word)}} {held:>3} passed {broken:>2} failed {n['skipped']:>3} skipped{extra}  {statement}"
        )
        for r in rs:
            if r["outcome"] in BROKEN or r["outcome"] == "fixed":
                lines.append(f"       {r['nodeid']}: {first_line(r.get('message')) or r['outcome']}")
            elif r["outcome"] == "n/a" and status == "n/a":
                lines.append(f"       {r['nodeid']}: n/a: {first_line(r.get('reason'))}")
    parts = [f"{totals['pass']} hold", f"{totals['fail']} fail"]
    if totals["fixed"]:
        parts.append(f"{totals['fixed']} hazard(s) fixed")
    if totals["n/a"]:
        parts.append(f"{totals['n/a']} n/a everywhere")
    parts.append(f"{totals['skip']} skipped everywhere")
    lines.append(f"claims: {', '.join(parts)} ({len(ids)} claims, {len(rows)} tests)")
    return lines
