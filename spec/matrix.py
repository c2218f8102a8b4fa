"""``python -m spec matrix RESULTS...``: the claims x torch versions x devices matrix.

One row per claim; one column per run (torch release, and Python where several
runs share a release) and device.  A cell is ``pass``, ``fail``, ``skip`` (with its
reason) or ``changed`` (passes, and a recorded behaviour change took effect at this
version).  Below the table, every recorded behaviour change with the version where
it happened and the PyTorch PR or issue behind it.
"""

from __future__ import annotations

import dataclasses
import html
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from packaging.version import Version

from spec.claims import SECTION_NAMES
from spec.results import BROKEN, ResultsError, claim_outcome, load_many, outcome_counts

SYMBOLS = {"pass": "✅ pass", "fail": "❌ fail", "skip": "⏭️ skip", "changed": "🔄 changed", "none": "·"}


def configure(parser) -> None:
    parser.add_argument("results", nargs="+", help="results files or folders of them")
    parser.add_argument("-o", "--output", default=None, help="write to FILE.md or FILE.html (default: Markdown on stdout)")
    parser.add_argument("--title", default="autograd-spec: claims across torch versions and devices")


@dataclasses.dataclass
class Column:
    key: str  # e.g. "2.15.0" or "2.15.0/py3.12"
    release: str
    doc: dict[str, Any]

    @property
    def label(self) -> str:
        t = self.doc["torch"]
        rec = "" if t.get("recorded", True) else " (unrecorded version)"
        return f"{self.key}{rec}"


@dataclasses.dataclass
class Cell:
    state: str  # pass | fail | skip | changed | none
    detail: str = ""


@dataclasses.dataclass
class Matrix:
    columns: list[Column]
    devices: list[str]
    absent_everywhere: dict[str, str]
    claims: list[tuple[str, dict[str, Any]]]  # (id, {"statement", "section"})
    cells: dict[tuple[str, str, str], Cell]  # (claim, column key, device)
    changes: dict[str, list[dict[str, Any]]]  # claim -> recorded changes


def build(docs: list[dict[str, Any]]) -> Matrix:
    docs = sorted(docs, key=lambda d: (Version(d["torch"]["release"]), d.get("python", "")))
    per_release: dict[str, int] = defaultdict(int)
    for d in docs:
        per_release[d["torch"]["release"]] += 1
    columns = []
    seen_keys: set[str] = set()
    for d in docs:
        rel = d["torch"]["release"]
        key = rel if per_release[rel] == 1 else f"{rel}/py{'.'.join(d.get('python', '?').split('.')[:2])}"
        if key in seen_keys:
            key = f"{key}/{d['torch'].get('build', '')}"
        if key in seen_keys:
            raise ResultsError(f"two results files describe the same run {key} ({d.get('_path')})")
        seen_keys.add(key)
        columns.append(Column(key, rel, d))

    present = {name for d in docs for name, info in d["devices"].items() if info.get("present")}
    all_devices = list(dict.fromkeys(name for d in docs for name in d["devices"]))
    devices = [n for n in all_devices if n in present]
    absent_everywhere = {
        n: next(d["devices"][n].get("detail", "") for d in docs if n in d["devices"]) for n in all_devices if n not in present
    }

    claims: dict[str, dict[str, Any]] = {}
    for d in docs:
        for cid, meta in d["claims"].items():
            claims.setdefault(cid, meta)
    order = {name: i for i, name in enumerate(SECTION_NAMES)}
    claim_list = sorted(claims.items(), key=lambda kv: order.get(kv[1].get("section"), len(order)))

    changes: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    cells: dict[tuple[str, str, str], Cell] = {}
    previous_branches: dict[str, dict[str, str]] = {}
    for col in columns:
        rows_by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        branches: dict[str, dict[str, str]] = defaultdict(dict)
        for row in col.doc["tests"]:
            dev = row["params"].get("device")
            targets = [dev] if dev else [n for n in devices if col.doc["devices"].get(n, {}).get("present")]
            for t in targets:
                rows_by[(row["claim"], t)].append(row)
            for e in row.get("expectations", []):
                branches[row["claim"]][e["key"]] = e["branch"]
                changes[row["claim"]].setdefault(e["key"], e)
        for cid, _meta in claim_list:
            changed_here = [
                k for k, b in branches.get(cid, {}).items() if cid in previous_branches and previous_branches[cid].get(k, b) != b
            ]
            for dev in devices:
                rows = rows_by.get((cid, dev), [])
                if not rows:
                    info = col.doc["devices"].get(dev, {})
                    cell = Cell("skip", info.get("detail", "")) if not info.get("present", False) else Cell("none", "not run")
                else:
                    outcome = claim_outcome(rows)
                    if outcome == "fail":
                        bad = [r for r in rows if r["outcome"] in BROKEN]
                        first = (bad[0].get("message") or bad[0]["nodeid"]).strip().splitlines()[0]
                        cell = Cell("fail", f"{len(bad)}/{len(rows)} tests fail: {first}")
                    elif outcome == "skip":
                        reasons = sorted({r.get("reason") or "" for r in rows})
                        cell = Cell("skip", "; ".join(reasons))
                    elif changed_here:
                        cell = Cell("changed", "behaviour changed here: " + ", ".join(changed_here))
                    else:
                        n_pass, _, n_skip = outcome_counts(rows)
                        cell = Cell("pass", f"{n_pass} tests pass, {n_skip} skipped")
                cells[(cid, col.key, dev)] = cell
        for cid, b in branches.items():
            previous_branches.setdefault(cid, {}).update(b)
    return Matrix(
        columns=columns,
        devices=devices,
        absent_everywhere=absent_everywhere,
        claims=claim_list,
        cells=cells,
        changes={cid: list(v.values()) for cid, v in changes.items()},
    )


def _fmt_values(values: dict[str, Any]) -> str:
    return "; ".join(f"`{spec}`: {value!r}" for spec, value in values.items())


def render_markdown(m: Matrix, title: str) -> str:
    out = [f"# {title}", ""]
    out.append(
        "Legend: ✅ pass · ❌ fail · ⏭️ skip (reason below the table) · 🔄 changed (holds, and a recorded "
        "behaviour change took effect at this version)."
    )
    out.append("")
    runs = ", ".join(
        f"{c.key} (torch {c.doc['torch']['version']}, Python {c.doc.get('python', '?')})" for c in m.columns
    )
    out.append(f"Runs: {runs}.")
    if m.absent_everywhere:
        out.append("")
        for dev, why in m.absent_everywhere.items():
            out.append(f"- `{dev}`: absent in every run ({why}); its cells are omitted.")
    out.append("")
    header = ["claim"] + [f"{c.label} {d}" if len(m.devices) > 1 else c.label for c in m.columns for d in m.devices]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    notes: dict[str, int] = {}
    section = None
    for cid, meta in m.claims:
        if meta.get("section") != section:
            section = meta.get("section")
            out.append("| **" + str(section) + "** |" + " |" * (len(header) - 1))
        cells = []
        for c in m.columns:
            for d in m.devices:
                cell = m.cells.get((cid, c.key, d), Cell("none"))
                text = SYMBOLS[cell.state].split()[0]
                if cell.state in ("skip", "fail", "changed") and cell.detail:
                    n = notes.setdefault(cell.detail, len(notes) + 1)
                    text += f" [{n}]"
                cells.append(text)
        out.append(f"| [{cid}](#{cid.lower()}) | " + " | ".join(cells) + " |")
    if notes:
        out += ["", "Notes:", ""]
        for detail, n in notes.items():
            out.append(f"{n}. {detail}")
    out += ["", "## Recorded behaviour changes", ""]
    if not any(m.changes.values()):
        out.append("None in these runs.")
    for cid, _meta in m.claims:
        for e in m.changes.get(cid, []):
            where = ", ".join(e.get("changed_in") or []) or "(no change among recorded versions)"
            out.append(f"- **{cid}** `{e['key']}` changed in torch {where}: {_fmt_values(e['values'])}. Ref: {e['ref']}")
    out += ["", "## Claims", ""]
    for cid, meta in m.claims:
        out.append(f"- <a id=\"{cid.lower()}\"></a>**{cid}** ({meta.get('section')}): {meta.get('statement')}")
    return "\n".join(out) + "\n"


CSS = """
body{font-family:system-ui,sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:2px 5px;text-align:center;white-space:nowrap}
td.claim{text-align:left;font-weight:600}
tr.section td{background:#eef;text-align:left;font-weight:700}
.pass{background:#d9f2d9}.fail{background:#f7c6c6}.skip{background:#eee;color:#666}
.changed{background:#fff1b3}.none{color:#aaa}
.wrap{overflow-x:auto}
"""


def render_html(m: Matrix, title: str) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<p>Cells: <span class=pass>pass</span> <span class=fail>fail</span> <span class=skip>skip</span> "
        "<span class=changed>changed</span> (a recorded behaviour change took effect at this version). "
        "Hover a cell for its reason.</p>",
    ]
    for dev, why in m.absent_everywhere.items():
        parts.append(f"<p><code>{e(dev)}</code>: absent in every run ({e(why)}).</p>")
    parts.append("<div class=wrap><table><thead><tr><th>claim</th>")
    for c in m.columns:
        for d in m.devices:
            parts.append(f"<th>{e(c.label)}<br>{e(d)}</th>")
    parts.append("</tr></thead><tbody>")
    section = None
    ncols = 1 + len(m.columns) * len(m.devices)
    for cid, meta in m.claims:
        if meta.get("section") != section:
            section = meta.get("section")
            parts.append(f"<tr class=section><td colspan={ncols}>{e(str(section))}</td></tr>")
        parts.append(f'<tr id="{e(cid)}"><td class=claim title="{e(meta.get("statement") or "")}">{e(cid)}</td>')
        for c in m.columns:
            for d in m.devices:
                cell = m.cells.get((cid, c.key, d), Cell("none"))
                parts.append(f'<td class={cell.state} title="{e(cell.detail)}">{e(cell.state if cell.state != "none" else "·")}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table></div><h2>Recorded behaviour changes</h2><ul>")
    for cid, _meta in m.claims:
        for ch in m.changes.get(cid, []):
            where = ", ".join(ch.get("changed_in") or []) or "(no change among recorded versions)"
            ref = e(ch["ref"])
            parts.append(
                f"<li><b>{e(cid)}</b> <code>{e(ch['key'])}</code> changed in torch {e(where)}: "
                f"{e(_fmt_values(ch['values']))}. Ref: <a href=\"{ref}\">{ref}</a></li>"
            )
    parts.append("</ul><h2>Claims</h2><dl>")
    for cid, meta in m.claims:
        parts.append(f"<dt id=\"claim-{e(cid)}\"><b>{e(cid)}</b> ({e(str(meta.get('section')))})</dt><dd>{e(meta.get('statement') or '')}</dd>")
    parts.append("</dl></body></html>\n")
    return "".join(parts)


def run(args) -> int:
    docs = load_many(args.results)
    m = build(docs)
    if args.output is None:
        sys.stdout.write(render_markdown(m, args.title))
        return 0
    out = Path(args.output)
    if out.suffix == ".html":
        text = render_html(m, args.title)
    elif out.suffix == ".md":
        text = render_markdown(m, args.title)
    else:
        from spec.errors import CommandError

        raise CommandError(f"-o {out}: the output must end in .md or .html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0
