"""``python -m spec diff OLD NEW``: what changed between two runs (e.g. two torch versions).

Lists every claim whose outcome changed, every recorded behaviour change whose
expectation switched between the two torch versions, and every observed value
(messages, flags, exact numbers) that differs, old beside new.  Values compared
with a tolerance are reported only when their check's verdict changed.

Exit status: 1 when a claim that held in OLD fails in NEW (the CI gate), else 0;
2 for bad input (missing or unreadable file, not results JSON, newer schema,
different claim sets, empty folder).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any

from spec.results import ResultsError, claim_outcome, load_many

WORST = {"failed": 4, "error": 4, "xpassed": 4, "passed": 2, "xfailed": 2, "skipped": 1}


def configure(parser) -> None:
    parser.add_argument("old", help="results file or folder of the baseline run")
    parser.add_argument("new", help="results file or folder of the candidate run")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")


def merge(path: str) -> dict[str, Any]:
    """One run from a file, or the union of a folder's files (a test seen twice keeps its worst outcome)."""
    docs = load_many([path])
    rows: dict[str, dict[str, Any]] = {}
    claims: dict[str, Any] = {}
    for d in docs:
        claims.update(d["claims"])
        for row in d["tests"]:
            old = rows.get(row["nodeid"])
            if old is None or WORST[row["outcome"]] > WORST[old["outcome"]]:
                rows[row["nodeid"]] = row
    versions = sorted({d["torch"]["version"] for d in docs})
    return {"label": path, "torch": ", ".join(versions), "claims": claims, "rows": rows,
            "recorded": all(d["torch"].get("recorded", True) for d in docs)}


def _observations(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = defaultdict(int)
    for obs in row.get("observations", []):
        counts[obs["name"]] += 1
        key = obs["name"] if counts[obs["name"]] == 1 else f"{obs['name']} #{counts[obs['name']]}"
        out[key] = obs
    return out


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    only_old = sorted(set(old["claims"]) - set(new["claims"]))
    only_new = sorted(set(new["claims"]) - set(old["claims"]))
    if only_old or only_new:
        raise ResultsError(
            "the two runs check different claim sets: "
            f"only in OLD: {', '.join(only_old) or 'none'}; only in NEW: {', '.join(only_new) or 'none'}"
        )
    by_claim_old: dict[str, list] = defaultdict(list)
    by_claim_new: dict[str, list] = defaultdict(list)
    for r in old["rows"].values():
        by_claim_old[r["claim"]].append(r)
    for r in new["rows"].values():
        by_claim_new[r["claim"]].append(r)
    claims = []
    regressions = []
    for cid in old["claims"]:
        o_out = claim_outcome(by_claim_old[cid]) if by_claim_old[cid] else "skip"
        n_out = claim_outcome(by_claim_new[cid]) if by_claim_new[cid] else "skip"
        entry: dict[str, Any] = {"claim": cid, "statement": old["claims"][cid].get("statement"), "old": o_out,
                                 "new": n_out, "tests": [], "expectations": []}
        exp_old = {e["key"]: e for r in by_claim_old[cid] for e in r.get("expectations", [])}
        exp_new = {e["key"]: e for r in by_claim_new[cid] for e in r.get("expectations", [])}
        for key in sorted(set(exp_old) | set(exp_new)):
            a, b = exp_old.get(key), exp_new.get(key)
            if a and b and a["branch"] != b["branch"]:
                entry["expectations"].append({"key": key, "old": a["expected"], "new": b["expected"],
                                              "old_branch": a["branch"], "new_branch": b["branch"], "ref": b["ref"]})
        nodeids = sorted({r["nodeid"] for r in by_claim_old[cid]} | {r["nodeid"] for r in by_claim_new[cid]})
        for nodeid in nodeids:
            a, b = old["rows"].get(nodeid), new["rows"].get(nodeid)
            change: dict[str, Any] = {"nodeid": nodeid}
            if a is None or b is None:
                change.update(old=a and a["outcome"], new=b and b["outcome"])
                entry["tests"].append(change)
                continue
            if a["outcome"] != b["outcome"]:
                change.update(old=a["outcome"], new=b["outcome"], message=b.get("message") or b.get("reason"))
            values = []
            oa, ob = _observations(a), _observations(b)
            for name in list(dict.fromkeys(list(oa) + list(ob))):
                x, y = oa.get(name), ob.get(name)
                if x is None or y is None:
                    continue  # a check that did not run on one side: the outcome change says why
                tolerant = isinstance(x.get("tolerance"), dict) or isinstance(y.get("tolerance"), dict)
                if x.get("ok") != y.get("ok") or (not tolerant and x.get("observed") != y.get("observed")):
                    values.append({"name": name, "old": x.get("observed"), "new": y.get("observed"),
                                   "old_ok": x.get("ok"), "new_ok": y.get("ok")})
            if values:
                change["values"] = values
            if len(change) > 1:
                entry["tests"].append(change)
        if o_out != n_out or entry["tests"] or entry["expectations"]:
            claims.append(entry)
        if o_out == "pass" and n_out == "fail":
            regressions.append(cid)
    return {"old": {"label": old["label"], "torch": old["torch"]}, "new": {"label": new["label"], "torch": new["torch"],
            "recorded": new["recorded"]}, "changed_claims": claims, "regressions": regressions}


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_text(report: dict[str, Any]) -> str:
    lines = [f"OLD: {report['old']['label']} (torch {report['old']['torch']})",
             f"NEW: {report['new']['label']} (torch {report['new']['torch']})"
             + ("" if report["new"]["recorded"] else "  [unrecorded version]")]
    if not report["changed_claims"]:
        lines.append("no claim changed")
    for c in report["changed_claims"]:
        head = f"{c['claim']}: {c['old']} -> {c['new']}" if c["old"] != c["new"] else f"{c['claim']}: {c['new']} (values changed)"
        lines.append("")
        lines.append(head + f"  {c['statement'] or ''}")
        for e in c["expectations"]:
            lines.append(f"  recorded change {e['key']} ({e['old_branch']} -> {e['new_branch']}, {e['ref']}):")
            lines.append(f"    old: {_short(e['old'])}")
            lines.append(f"    new: {_short(e['new'])}")
        for t in c["tests"]:
            if "old" in t or "new" in t:
                lines.append(f"  {t['nodeid']}: {t.get('old')} -> {t.get('new')}" + (f"  ({_short(t['message'], 200)})" if t.get("message") else ""))
            for v in t.get("values", []):
                lines.append(f"  {t['nodeid']}: {v['name']}")
                lines.append(f"    old: {_short(v['old'])}")
                lines.append(f"    new: {_short(v['new'])}")
    lines.append("")
    if report["regressions"]:
        lines.append(f"GATE: FAIL: {len(report['regressions'])} claim(s) held in OLD and fail in NEW: {', '.join(report['regressions'])}")
    else:
        lines.append("GATE: PASS: no claim that held in OLD fails in NEW")
    return "\n".join(lines) + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"## autograd-spec diff: torch {report['old']['torch']} -> {report['new']['torch']}", ""]
    if report["regressions"]:
        lines.append(f"**Gate: FAIL**: claims that held and now fail: {', '.join(report['regressions'])}")
    else:
        lines.append("**Gate: PASS**: no claim that held fails.")
    lines += ["", "| claim | old | new | what changed |", "|---|---|---|---|"]
    for c in report["changed_claims"]:
        what = []
        for e in c["expectations"]:
            what.append(f"recorded `{e['key']}` ({e['ref']})")
        for t in c["tests"]:
            for v in t.get("values", []):
                what.append(f"`{v['name']}`: {_short(v['old'], 80)} → {_short(v['new'], 80)}")
            if "old" in t:
                what.append(f"{t['nodeid'].split('::')[-1]}: {t.get('old')} → {t.get('new')}")
        lines.append(f"| {c['claim']} | {c['old']} | {c['new']} | {'<br>'.join(dict.fromkeys(what))[:1500]} |")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    old = merge(args.old)
    new = merge(args.new)
    report = compare(old, new)
    if args.format == "json":
        json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_text(report))
    return 1 if report["regressions"] else 0
