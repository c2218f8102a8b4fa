"""``python -m spec matrix RESULTS...``: the claims x torch versions x devices x modes matrix.

One row per claim; one column per run (torch release, and Python where several runs share a
release) and execution mode.  A cell is the claim's status there (:data:`spec.aggregate.STATUSES`:
pass, fail, fixed, n/a, skip, not run), per device where the run had several, with 🔄 where a
recorded behaviour change took effect at that version; a claim whose tests have no device
parameter has one status per run and mode ("any device").  The reasons (failures, n/a, skips)
are numbered notes below the table, and then every recorded behaviour change with the versions
where it happened and the PyTorch PR or issue behind it.

The matrix is a rendering of :mod:`spec.aggregate` through the templates the claim book uses
(``spec/templates/matrix.md.j2`` and ``matrix.html.j2``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from spec.aggregate import ANY_DEVICE, CHANGED_MARK, STATUSES, Aggregate, runs_of
from spec.render import environment, tidy
from spec.results import load_many

TITLE = "autograd-spec: claims across torch versions, devices and modes"


def configure(parser) -> None:
    parser.add_argument("results", nargs="+", help="results files or folders of them")
    parser.add_argument("-o", "--output", default=None, help="write to FILE.md or FILE.html (default: Markdown on stdout)")
    parser.add_argument("--title", default=TITLE)


def build(docs: list[dict[str, Any]], registry: dict | None = None) -> Aggregate:
    """The aggregate the matrix renders (one run per results document)."""
    return Aggregate(runs_of(docs), registry)


def _fmt_values(values: dict[str, Any]) -> str:
    return "; ".join(f"{spec}: {value!r}" for spec, value in values.items())


def model(agg: Aggregate, title: str) -> dict[str, Any]:
    """What the matrix templates show, as plain data."""
    claims = [c for c in agg.claims.values() if c.id in agg.in_results]
    columns = [{"run": run, "mode": mode} for run in agg.runs for mode in run.modes]
    named = {name: info for run in agg.runs for name, info in run.devices.items()}
    present = {name for run in agg.runs for name in run.present}
    absent_everywhere = {name: info.get("detail", "") for name, info in named.items() if name not in present}
    notes: dict[str, int] = {}

    def note(text: str) -> int:
        return notes.setdefault(text, len(notes) + 1)

    rows = []
    section = object()
    for c in claims:
        if c.section != section:
            section = c.section
            rows.append({"section": section or "(not in the registry)"})
        # An operator claim has one row per derivative provider; any other claim one row.
        for provider in agg.providers_of(c.id) or [None]:
            rows.append({"claim": c, "provider": provider, "cells": _cells(agg, c, columns, provider, note)})

    changes = []
    for c in claims:
        for ch in agg.changes.get(c.id, []):
            changes.append({
                "claim": c.id,
                "key": ch.key,
                "observable": ch.observable,
                "where": ", ".join(ch.changed_in) if ch.changed_in else "(no change among recorded versions)",
                "between": "; ".join(ch.between),
                "values_text": _fmt_values(ch.values),
                "ref": ch.ref,
                "error": ch.error,
            })
    several_modes = len({col["mode"] for col in columns}) > 1 or any(col["mode"] != "eager" for col in columns)
    return {
        "title": title,
        "runs": agg.runs,
        "columns": [
            {"label": f"{col['run'].label} {col['mode']}", "run": col["run"].label, "mode": col["mode"]} for col in columns
        ],
        "groups": [{"label": run.label, "span": len(run.modes)} for run in agg.runs],
        "several_modes": several_modes,
        "absent_everywhere": absent_everywhere,
        "rows": rows,
        "ncols": 1 + len(columns),
        "notes": [{"n": n, "text": text} for text, n in notes.items()],
        "changes": changes,
        "claims": claims,
        "statuses": list(STATUSES.values()),
        "changed_mark": CHANGED_MARK,
    }


def _cells(agg: Aggregate, c, columns: list[dict[str, Any]], provider: str | None, note) -> list[dict[str, Any]]:
    """The cells of one matrix row: a claim (with one derivative provider, for an operator claim) in every column."""
    modes = set(agg.modes_of(c.id))
    device_axis = agg.devices_of(c.id) != [ANY_DEVICE]
    cells = []
    for col in columns:
        run, mode = col["run"], col["mode"]
        if mode not in modes:
            cells.append({"css": "blank", "md": "", "html": "", "title": f"{c.id} has no {mode} tests", "note": None})
            continue
        if provider is not None and not agg.run_cell(c.id, run, provider=provider).rows:
            cells.append({"css": "blank", "md": "", "html": "", "title": f"the run {run.label} did not run the provider "
                          f"{provider}", "note": None})
            continue
        if run.partial and not agg.run_cell(c.id, run).rows:
            # A run of a selection (one section, one provider's library) says nothing of the claims it did not select.
            cells.append({"css": "blank", "md": "", "html": "", "title": f"{c.id} not selected in the run {run.label}",
                          "note": None})
            continue
        devices = run.present if device_axis else [ANY_DEVICE]
        parts = [(dev, agg.cell(c.id, run, dev, mode, provider)) for dev in devices]
        whole = agg.run_cell(c.id, run, mode, provider)
        info = whole.info
        label = len(parts) > 1
        md = " ".join(f"{p.info.mark} {dev}" if label else p.info.mark for dev, p in parts)
        html = " ".join(f"{p.info.sym} {dev}" if label else p.info.sym for dev, p in parts)
        why = [f"{dev}: {p.detail}" if label else p.detail for dev, p in parts if p.status not in ("pass",)]
        changed = whole.changed if whole.status == "pass" else []
        if changed:
            md += f" {CHANGED_MARK}"
            html += f" {CHANGED_MARK}"
            why.append("behaviour changed here: " + ", ".join(changed))
        ref = None
        if why and whole.status != "not run":
            ref = note("; ".join(why))
            md += f" [{ref}]"
        tip = "; ".join(f"{dev}: {p.text}" if label else p.text for dev, p in parts)
        if why:
            tip += " — " + "; ".join(why)
        cells.append({"css": info.css + (" changed" if changed else ""), "md": md, "html": html, "title": tip, "note": ref})
    return cells


def render_markdown(agg: Aggregate, title: str = TITLE) -> str:
    return tidy(environment(STATUSES=STATUSES).get_template("matrix.md.j2").render(m=model(agg, title)))


def render_html(agg: Aggregate, title: str = TITLE) -> str:
    return tidy(environment(STATUSES=STATUSES).get_template("matrix.html.j2").render(m=model(agg, title)))


def render(agg: Aggregate, suffix: str, title: str = TITLE) -> str:
    if suffix == ".html":
        return render_html(agg, title)
    if suffix == ".md":
        return render_markdown(agg, title)
    from spec.errors import CommandError

    raise CommandError(f"-o {suffix or '(no suffix)'}: the output must end in .md or .html")


def run(args) -> int:
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix not in (".md", ".html"):
        from spec.errors import CommandError

        raise CommandError(f"-o {out}: the output must end in .md or .html")
    agg = build(load_many(args.results))
    if out is None:
        sys.stdout.write(render_markdown(agg, args.title))
        return 0
    text = render(agg, out.suffix, args.title)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0
