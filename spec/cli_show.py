"""``autograd-spec show ID``: every part of one claim in one hop.

Its statement, kind and section; its sources (the upstream issue of a hazard, the pull requests and issues behind
its recorded version changes); each test as file:line; its explanation; the mutants of torch that turn it red; the
recorded version changes with their notes; and its last known status in the results given (``--results``, files or
folders; by default ``results/claims.json`` of the working directory and the committed matrix of a checkout, where
they exist).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from spec.claims import Claim, project_root, registry, resolve_ids
from spec.errors import CommandError


def configure(parser) -> None:
    parser.add_argument("claim", metavar="ID", help="a claim ID, e.g. LEAF-004 (python -m spec list shows all)")
    parser.add_argument(
        "--results",
        nargs="+",
        metavar="PATH",
        help="results files or folders for the last known status (default: results/claims.json here, and "
        "docs/matrix/results of a checkout, where they exist)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")


def default_results() -> list[Path]:
    candidates = [Path.cwd() / "results" / "claims.json", project_root() / "docs" / "matrix" / "results"]
    return [p for p in candidates if p.exists()]


def gather(claim: Claim, results: list[Path]) -> dict[str, Any]:
    """The parts of one claim, as one JSON-ready dict (the text output renders it)."""
    from spec.aggregate import Aggregate, load_mutants, runs_of
    from spec.book import load_explanations
    from spec.results import load_many

    root = project_root()
    files = claim.files
    sources = [claim.ref] if claim.ref else []
    for change in claim.changes:
        if change.ref and change.ref not in sources:
            sources.append(change.ref)
    mutants = (load_mutants() or {}).get(claim.id, [])
    from spec.sources import sources_of, statements_by_id

    found = statements_by_id()
    statements = [{"id": sid, "page": found[sid][0].title, "url": found[sid][0].url, "section": found[sid][1].section,
                   "says": found[sid][1].says, "quote": found[sid][1].quote}
                  for sid in sources_of().get(claim.id, [])]
    status: list[dict[str, Any]] = []
    if results:
        agg = Aggregate(runs_of(load_many([str(p) for p in results])))
        for run in agg.runs:
            rows = [r for rn, r in agg.rows_of.get(claim.id, []) if rn is run]
            if not rows:
                continue
            cell = agg.run_cell(claim.id, run)
            status.append({
                "torch": run.version,
                "label": run.label,
                "devices": sorted({r.device for r in rows}),
                "modes": sorted({r.mode for r in rows}),
                "status": cell.status,
                "tests": len(rows),
            })
    return {
        "id": claim.id,
        "kind": claim.kind,
        "statement": claim.statement,
        "part": claim.part,
        "section": claim.section,
        "sources": sources,
        "statements": statements,
        "tests": [{"file": t.module, "line": t.lineno, "name": t.name, "modes": list(t.modes or ("eager",))}
                  for t in claim.tests],
        "explanation": {"file": files.explanations, "text": load_explanations().get(claim.id, "")},
        "mutants": mutants,
        "changes": [{"key": c.key, "values": c.values, "ref": c.ref, "note": getattr(c, "note", "") or ""}
                    for c in claim.changes],
        "book_page": f"{files.book_page}#{claim.id}",
        "root": str(root),
        "results": [str(p) for p in results],
        "status": status,
    }


def render(info: dict[str, Any]) -> str:
    wrap = textwrap.TextWrapper(width=100, initial_indent="  ", subsequent_indent="  ")
    out = [f"{info['id']} ({info['kind']}): {info['statement']}", ""]
    out.append(f"section: {info['section']} ({info['part']}); book: {info['book_page']}")
    out.append("sources: " + (", ".join(info["sources"]) if info["sources"] else "none recorded beyond the book page"))
    out.append(f"documented statements it enforces ({len(info['statements'])}; autograd-spec sources):")
    for st in info["statements"]:
        out.extend(wrap.wrap(f"{st['id']} [{st['page']}, {st['section']}]: {st['says']}"
                             + (f' ("{st["quote"]}")' if st["quote"] else "")))
    out.append(f"files under {info['root']}:")
    out.append("tests:")
    for t in info["tests"]:
        out.append(f"  {t['file']}:{t['line']}  {t['name']}  [{', '.join(t['modes'])}]")
    out.append(f"explanation ({info['explanation']['file']}):")
    for para in info["explanation"]["text"].split("\n\n"):
        out.extend(wrap.wrap(" ".join(para.split())) or ["  (none)"])
    out.append(f"mutants that turn it red ({len(info['mutants'])}):")
    for m in info["mutants"]:
        where = ""
        if m.get("module"):
            here = (Path(info["root"]) / m["module"]).is_file()
            where = f"  [{m['module']}{'' if here else ', in the autograd-spec repository'}]"
        out.append(f"  {m['name']}: {m['doc']}{where}")
    out.append(f"recorded version changes ({len(info['changes'])}):")
    for c in info["changes"]:
        values = ", ".join(f"{k}: {v!r}" for k, v in c["values"].items())
        out.append(f"  {c['key']}: {values}" + (f"  ({c['ref']})" if c["ref"] else ""))
        if c["note"]:
            out.extend(wrap.wrap("note: " + c["note"]))
    if not info["results"]:
        out.append("last known status: no results given (--results PATH, or run: autograd-spec run --results "
                   "results/claims.json)")
    else:
        out.append(f"last known status (from {', '.join(info['results'])}):")
        if not info["status"]:
            out.append("  not in these results")
        for s in info["status"]:
            out.append(f"  torch {s['torch']} ({s['label']}): {s['status']}  ({s['tests']} tests; "
                       f"{', '.join(s['devices'])}; {', '.join(s['modes'])})")
    return "\n".join(out) + "\n"


def run(args) -> int:
    known = registry()
    (claim_id,) = resolve_ids([args.claim], known)
    results = [Path(p) for p in args.results] if args.results else default_results()
    for p in results:
        if not p.exists():
            raise CommandError(f"no results at {p}", code=4)
    info = gather(known[claim_id], results)
    if args.format == "json":
        json.dump(info, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(info))
    return 0
