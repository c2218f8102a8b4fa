"""``python -m spec diff OLD NEW``: what changed between two runs (e.g. two torch versions).

Each side is one results file, or a folder of results files of ONE torch version (for example the
CPU and the GPU runs of one release); a folder that mixes versions is refused.  The diff is a
rendering of :mod:`spec.aggregate`: per claim, its status on each side and per execution mode;
every cell (device x mode) whose status changed; every recorded behaviour change that took effect
between the two versions (from the registry's ``by_version`` data); and every observed value
(messages, flags, exact numbers) that differs, old beside new, shown around its first
difference.  Values compared with a tolerance are reported only when their check's verdict changed.

A hazard whose wrong value is gone in NEW (status "fixed") is a fix, not a regression.

``--uses PATH`` (files, folders or an installed package, as ``autograd-spec scan`` takes them; repeatable) restricts
the diff to the claims that touch that code (:mod:`spec.scan`), each shown with the places in the code that connect
it, and counts the other changed claims in one line.  The gate then judges those claims only.

``--waivers FILE`` (see :mod:`spec.waivers`): a regression that waivers cover in NEW is listed as waived and does not
fail the gate; a waiver that has expired for NEW's torch does (exit 1); a waivers file that cannot be used is exit 4.

Exit status: 1 when a claim that held in OLD fails in NEW (a regression: the CI gate; with ``--uses``, a claim that
touches the code) or a waiver has expired, else 0 (also when the only changes are fixes or waived); 2 for bad input
(missing or unreadable file, not results JSON, newer schema, different claim sets, an empty folder, a folder of
several versions, a ``--uses`` PATH that does not exist); 4 for an unusable waivers file.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from spec import waivers as waivers_mod
from spec.aggregate import (
    STATUSES,
    Aggregate,
    Row,
    Run,
    as_text,
    first_line,
    side_run,
    status_of,
    version_key,
)
from spec.errors import CommandError
from spec.render import emit
from spec.results import ResultsError, load_many

#: How wide a value is shown in text and Markdown before it is cut (around its first difference).
WIDTH = 240


def configure(parser) -> None:
    parser.add_argument("old", help="results file, or folder of one torch version's results, of the baseline run")
    parser.add_argument("new", help="results file, or folder of one torch version's results, of the candidate run")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument("--uses", action="append", metavar="PATH",
                        help="only the claims that touch this code (a file, folder or installed package; repeatable)")
    parser.add_argument("--waivers", metavar="FILE", help="TOML waivers: regressions they cover in NEW do not fail the "
                        "gate; a waiver expired for NEW's torch does (docs/waivers.md)")


def load_side(path: str, side: str) -> Run:
    """One side of the diff: a results file, or a folder of one torch version's results."""
    return side_run(side, load_many([path]), f"{side} {path}")


def test_key(nodeid: str) -> str:
    """A test's node ID without its module: the test's name and parameters.

    Test names are unique across the suite (a meta test keeps them so), and modules move: the claims moved from
    tests/claims to spec/suite, and later from one module per article part to one module per section.
    """
    path, sep, rest = nodeid.partition("::")
    return rest if sep else path


def _worst(rows: list[Row]) -> dict[str, Row]:
    """Rows by test; a test seen in two runs of one side keeps its worst outcome."""
    out: dict[str, Row] = {}

    def severity(row: Row) -> int:
        return STATUSES[status_of([row.outcome])].severity

    for r in rows:
        key = test_key(r.nodeid)
        old = out.get(key)
        if old is None or severity(r) < severity(old):
            out[key] = r
    return out


def _observations(row: Row) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = defaultdict(int)
    for obs in row.observations:
        counts[obs["name"]] += 1
        key = obs["name"] if counts[obs["name"]] == 1 else f"{obs['name']} #{counts[obs['name']]}"
        out[key] = obs
    return out


def _claims_of(run: Run) -> set[str]:
    return {cid for d in run.docs for cid in d["claims"]} | {r.claim for r in run.rows}


def compare(old: Run, new: Run, registry: dict | None = None) -> dict[str, Any]:
    """The diff of two sides as plain data (what ``--format json`` prints)."""
    a_claims, b_claims = _claims_of(old), _claims_of(new)
    only_old, only_new = sorted(a_claims - b_claims), sorted(b_claims - a_claims)
    if only_old or only_new:
        raise ResultsError(
            "the two runs check different claim sets: "
            f"only in OLD: {', '.join(only_old) or 'none'}; only in NEW: {', '.join(only_new) or 'none'}"
        )
    agg = Aggregate([old, new], registry)
    changed_claims = []
    regressions: list[str] = []
    fixes: list[str] = []
    for cid, info in agg.claims.items():
        if cid not in a_claims:
            continue
        o_rows = [r for run, r in agg.rows_of.get(cid, []) if run is old]
        n_rows = [r for run, r in agg.rows_of.get(cid, []) if run is new]
        entry: dict[str, Any] = {
            "claim": cid,
            "kind": info.kind,
            "statement": info.statement,
            "old": status_of(r.outcome for r in o_rows),
            "new": status_of(r.outcome for r in n_rows),
            "modes": {},
            "cells": [],
            "regressions": [],
            "fixes": [],
            "expectations": [],
            "tests": [],
        }
        for mode in agg.modes_of(cid):
            entry["modes"][mode] = {"old": agg.run_cell(cid, old, mode).status, "new": agg.run_cell(cid, new, mode).status}
        for device in agg.devices_of(cid):
            for mode in agg.modes_of(cid):
                a, b = agg.cell(cid, old, device, mode), agg.cell(cid, new, device, mode)
                if a.status == b.status:
                    continue
                cell = {"device": device, "mode": mode, "old": a.status, "new": b.status, "detail": b.detail}
                entry["cells"].append(cell)
                if a.status == "pass" and b.status == "fail":
                    entry["regressions"].append(cell)
                elif b.status == "fixed" and a.status != "fixed":
                    entry["fixes"].append(cell)
        for ch in agg.changes.get(cid, []):
            if ch.changed_between(old.release, new.release):
                entry["expectations"].append({
                    "key": ch.key,
                    "changed_in": ch.changes_between(old.release, new.release),
                    "old": ch.value_at(old.release),
                    "new": ch.value_at(new.release),
                    "ref": ch.ref,
                })
        a_rows, b_rows = _worst(o_rows), _worst(n_rows)
        for nodeid in sorted(set(a_rows) | set(b_rows)):
            a, b = a_rows.get(nodeid), b_rows.get(nodeid)
            change: dict[str, Any] = {"nodeid": nodeid}
            if a is None or b is None:
                change.update(old=a and a.outcome, new=b and b.outcome)
                entry["tests"].append(change)
                continue
            if a.outcome != b.outcome:
                change.update(old=a.outcome, new=b.outcome, message=first_line(b.message or b.reason) or None)
            values = []
            oa, ob = _observations(a), _observations(b)
            for name in dict.fromkeys(list(oa) + list(ob)):
                x, y = oa.get(name), ob.get(name)
                if x is None or y is None:
                    continue  # a check that did not run on one side: the outcome change says why
                tolerant = isinstance(x.get("tolerance"), dict) or isinstance(y.get("tolerance"), dict)
                if x.get("ok") != y.get("ok") or (not tolerant and x.get("observed") != y.get("observed")):
                    values.append({"name": name, "old": x.get("observed"), "new": y.get("observed"),
                                   "old_ok": x.get("ok"), "new_ok": y.get("ok"),
                                   "kind": change_kind(x.get("observed"), y.get("observed"), x.get("ok"), y.get("ok"))})
            if values:
                change["values"] = values
            if len(change) > 1:
                entry["tests"].append(change)
        if entry["old"] != entry["new"] or entry["cells"] or entry["tests"] or entry["expectations"]:
            changed_claims.append(entry)
        if entry["regressions"]:
            regressions.append(cid)
        if entry["fixes"]:
            fixes.append(cid)
    return {
        "old": _side(old),
        "new": _side(new),
        "changed_claims": changed_claims,
        "regressions": regressions,
        "fixes": fixes,
    }


def _side(run: Run) -> dict[str, Any]:
    return {"label": ", ".join(str(d.get("_path", "")) for d in run.docs), "torch": run.version, "release": run.release,
            "recorded": run.recorded, "partial": run.partial}


# --------------------------------------------------------------------------- what kind of change


def change_kind(old: Any, new: Any, old_ok: Any = None, new_ok: Any = None) -> str:
    """What changed in an observation, in meaning: ``verdict`` (the check's ok), ``type`` (an exception's or a value's
    type), ``outcome`` (returned or raised), ``flag`` (a boolean or None), ``message`` (text) or ``value``.

    Both sides are read normalized (:mod:`spec.normalize`): a change of form alone (a path, pytest's frames, Python's
    decoration under a frame) leaves them equal and is no change at all.
    """
    if old_ok != new_ok:
        return "verdict"
    if isinstance(old, dict) and isinstance(new, dict):
        for key in ("outcome", "type", "dtype", "category"):
            if key in old and key in new and old[key] != new[key]:
                return "outcome" if key == "outcome" else "type"
        if "message" in old and "message" in new and old["message"] != new["message"]:
            return "message"
        return "value"
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        kinds = {change_kind(a, b) for a, b in zip(old, new) if a != b}
        return kinds.pop() if len(kinds) == 1 else "value"
    if isinstance(old, bool) or isinstance(new, bool) or old is None or new is None:
        return "flag"
    if isinstance(old, str) and isinstance(new, str):
        return "message"
    if type(old) is not type(new):
        return "type"
    return "value"


# --------------------------------------------------------------------------- showing values


def around(old: Any, new: Any, width: int = WIDTH) -> tuple[str, str, int | None]:
    """Two values as text, each cut to ``width`` around their first difference (never before it).

    Returns the two texts and the position of the first difference (None when they are equal).
    """
    a, b = as_text(old), as_text(new)
    if a == b:
        return a, b, None
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) <= width and len(b) <= width:
        return a, b, i
    start = max(0, i - width // 4)
    if start:
        space = a.rfind(" ", start - 20, start)  # start on a word where one is near
        start = space + 1 if space > 0 else start

    def cut(text: str) -> str:
        part = text[start : start + width]
        return ("…" if start else "") + part + ("…" if start + width < len(text) else "")

    return cut(a), cut(b), i


def _pair(old: Any, new: Any, indent: str, width: int = WIDTH) -> list[str]:
    a, b, i = around(old, new, width)
    where = f"  (first difference at character {i + 1})" if i is not None and (len(as_text(old)) > width or len(as_text(new)) > width) else ""
    return [f"{indent}old: {a}", f"{indent}new: {b}{where}"]


def _modes_text(entry: dict[str, Any]) -> str:
    return "; ".join(f"{mode}: {s['old']} -> {s['new']}" for mode, s in entry["modes"].items())


def restrict(report: dict[str, Any], uses: dict[str, Any]) -> dict[str, Any]:
    """The diff of the claims that touch the scanned code (``uses``, from :func:`spec.scan.scan`), with its places."""
    touching = {c["id"]: c["sites"] for c in uses["claims"] if c["match"] == "specific"}
    others = [c["claim"] for c in report["changed_claims"] if c["claim"] not in touching]
    return {
        **report,
        "changed_claims": [dict(c, uses=touching[c["claim"]]) for c in report["changed_claims"] if c["claim"] in touching],
        "regressions": [cid for cid in report["regressions"] if cid in touching],
        "fixes": [cid for cid in report["fixes"] if cid in touching],
        "uses": {"paths": uses["paths"], "files": uses["files"], "claims": sorted(touching),
                 "uncovered": [u["api"] for u in uses["uncovered"]]},
        "other_changes": {"claims": others, "regressions": [cid for cid in report["regressions"] if cid not in touching]},
    }


def _others(report: dict[str, Any]) -> list[str]:
    if "uses" not in report:
        return []
    other = report["other_changes"]
    n, k = len(other["claims"]), len(other["regressions"])
    regressed = f" ({k} of them regressions: {', '.join(other['regressions'])})" if k else ""
    return [f"{n} other claim{'s' * (n != 1)} changed{regressed}; drop --uses to see them"]


def _gate(report: dict[str, Any]) -> str:
    mine = "uses" in report
    expired = waivers_mod.expired_in(report)
    if report["regressions"] or expired:
        why = [f"{len(report['regressions'])} claim(s){' that touch your code' * mine} held in OLD and fail in NEW: "
               f"{', '.join(report['regressions'])}"] if report["regressions"] else []
        return "GATE: FAIL: " + "; ".join(why + ([expired] if expired else []))
    line = f"GATE: PASS: no claim that {'touches your code and ' * mine}held in OLD fails in NEW"
    if report.get("waived"):
        line += f" except waived ones ({', '.join(report['waived'])})"
    if report["fixes"]:
        line += f" ({len(report['fixes'])} hazard(s) fixed: {', '.join(report['fixes'])})"
    return line


def _header_note(report: dict[str, Any]) -> list[str]:
    if version_key(report["old"]["release"]) > version_key(report["new"]["release"]):
        return [f"note: OLD (torch {report['old']['release']}) is newer than NEW (torch {report['new']['release']})"]
    return []


def render_text(report: dict[str, Any]) -> str:
    lines = [f"OLD: {report['old']['label']} (torch {report['old']['torch']})",
             f"NEW: {report['new']['label']} (torch {report['new']['torch']})"
             + ("" if report["new"]["recorded"] else "  [unrecorded version]")]
    lines += _header_note(report)
    if "uses" in report:
        lines.append(f"USES: {', '.join(report['uses']['paths'])}: {len(report['uses']['claims'])} claims touch this code")
    if not report["changed_claims"]:
        lines.append("no claim that touches your code changed" if "uses" in report else "no claim changed")
    for c in report["changed_claims"]:
        head = f"{c['claim']}: {c['old']} -> {c['new']}" if c["old"] != c["new"] else f"{c['claim']}: {c['new']} (values changed)"
        lines.append("")
        lines.append(head + f"  {c['statement'] or ''}")
        lines.append(f"  per mode: {_modes_text(c)}")
        if "uses" in c:
            from spec.scan import places

            lines += [f"  your code: {where}  {', '.join(names)}" for where, names in places(c["uses"])]
        for cell in c["cells"]:
            tag = "REGRESSION" if cell in c["regressions"] else "WAIVED" if cell in c.get("waived", ()) else ("FIX" if cell in c["fixes"] else "changed")
            lines.append(f"  {tag} {cell['device']} {cell['mode']}: {cell['old']} -> {cell['new']}"
                         + (f"  ({cell['detail']})" if cell["new"] not in ("pass",) and cell["detail"] else ""))
        for e in c["expectations"]:
            lines.append(f"  recorded change {e['key']} (changed in torch {', '.join(e['changed_in'])}, {e['ref']}):")
            lines += _pair(e["old"], e["new"], "    ")
        for t in c["tests"]:
            if "old" in t or "new" in t:
                lines.append(f"  {t['nodeid']}: {t.get('old')} -> {t.get('new')}" + (f"  ({t['message']})" if t.get("message") else ""))
            for v in t.get("values", []):
                lines.append(f"  {t['nodeid']}: {v['name']} ({v.get('kind', 'value')} changed)")
                lines += _pair(v["old"], v["new"], "    ")
    lines.append("")
    lines += _others(report)
    if report["fixes"]:
        lines.append(f"FIXES: hazards whose wrong value is gone in NEW (welcome, not regressions): {', '.join(report['fixes'])}")
    if report.get("waived"):
        lines.append(f"WAIVED: regressions that waivers cover (listed, not failing the gate): {', '.join(report['waived'])}")
    if report.get("waivers"):
        lines += waivers_mod.report_lines(report["waivers"])
    lines.append(_gate(report))
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    from spec.render import md_code

    return md_code(text)


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"## autograd-spec diff: torch {report['old']['torch']} -> {report['new']['torch']}", ""]
    lines += [f"_{n}_" for n in _header_note(report)]
    uses = "uses" in report
    if uses:
        lines += [f"Only the {len(report['uses']['claims'])} claims that touch {', '.join(map(_md, report['uses']['paths']))}; "
                  + _others(report)[0] + ".", ""]
    expired = waivers_mod.expired_in(report)
    if report["regressions"]:
        lines.append(f"**Gate: FAIL**: claims {'that touch your code ' * uses}that held and now fail: "
                     f"{', '.join(report['regressions'])}")
    elif expired:
        lines.append(f"**Gate: FAIL**: {expired}")
    else:
        lines.append(f"**Gate: PASS**: no claim that {'touches your code and ' * uses}held fails"
                     + (" except waived ones." if report.get("waived") else "."))
    if report.get("waived"):
        lines += ["", f"**Waived** (regressions that waivers cover; not failing the gate): {', '.join(report['waived'])}"]
    if report["fixes"]:
        lines += ["", f"**Fixes** (hazards whose wrong value is gone; welcome, not regressions): {', '.join(report['fixes'])}"]
    column = " your code |" if uses else ""
    lines += ["", f"| claim | old | new | per mode | what changed |{column}", f"|---|---|---|---|---|{'---|' * uses}"]
    for c in report["changed_claims"]:
        what = []
        for cell in c["cells"]:
            tag = "**regression**" if cell in c["regressions"] else "**waived**" if cell in c.get("waived", ()) else ("**fix**" if cell in c["fixes"] else "")
            what.append(f"{tag} {cell['device']} {cell['mode']}: {cell['old']} → {cell['new']}".strip())
        for e in c["expectations"]:
            a, b, _ = around(e["old"], e["new"], 120)
            what.append(f"recorded `{e['key']}` (changed in {', '.join(e['changed_in'])}, {e['ref']}): {_md(a)} → {_md(b)}")
        for t in c["tests"]:
            for v in t.get("values", []):
                a, b, _ = around(v["old"], v["new"], 120)
                what.append(f"{_md(v['name'])} ({v.get('kind', 'value')}): {_md(a)} → {_md(b)}")
            if "old" in t:
                what.append(f"{_md(t['nodeid'].split('::')[-1])}: {t.get('old')} → {t.get('new')}")
        modes = "<br>".join(f"{m}: {STATUSES[s['old']].mark} → {STATUSES[s['new']].mark}" for m, s in c["modes"].items())
        lines.append(
            f"| {c['claim']} | {STATUSES[c['old']].mark} {c['old']} | {STATUSES[c['new']].mark} {c['new']} | {modes} | "
            f"{'<br>'.join(dict.fromkeys(what))} |" + (f" {_uses_cell(c['uses'])} |" if uses else "")
        )
    if report.get("waivers"):
        lines += waivers_mod.markdown_lines(report["waivers"])
    return "\n".join(lines) + "\n"


def _uses_cell(sites: list[dict[str, Any]]) -> str:
    from spec.scan import places

    return "<br>".join(f"{_md(where)} {', '.join(map(_md, names))}" for where, names in places(sites))


def run(args) -> int:
    try:
        waivers = waivers_mod.load(args.waivers) if getattr(args, "waivers", None) else None
    except waivers_mod.WaiverError as exc:
        raise CommandError(str(exc), 4) from None
    old = load_side(args.old, "OLD")
    new = load_side(args.new, "NEW")
    report = compare(old, new)
    if waivers is not None:
        waivers_mod.apply_to_diff(report, new, waivers)
    if args.uses:
        from spec.scan import report_skipped, scan

        uses = scan(args.uses)
        report_skipped(uses, "diff")
        if uses["files"] == len(uses["skipped"]):  # a gate over no code would pass having judged nothing
            raise CommandError(f"--uses {' '.join(args.uses)}: no Python file read ({uses['files']} found, "
                               f"{len(uses['skipped'])} skipped): nothing to restrict the diff to")
        report = restrict(report, uses)
    emit(report, args.format, render_text, render_markdown)
    return 1 if report["regressions"] or waivers_mod.expired_in(report) else 0
