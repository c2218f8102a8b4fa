"""The claim book: every claim with its explanation, its test code and its status.

The module behind the ``docs`` command: ``python -m spec docs RESULTS... -o DIR`` renders, from the
claim registry, the explanations in ``spec/explanations/`` and one or more results files:

- ``DIR/README.md``: the index, grouped by part and section, with each claim's status;
- ``DIR/sections/<section>.md``: one page per section, one ``<a id="CLAIM-ID">`` per claim;
- ``DIR/index.html``: the whole book as one self-contained page (inline CSS and JS,
  no network) with a filter by ID, section and status; ``index.html#LEAF-004`` cites a claim.

The output is deterministic (sorted; the only timestamps are those in the results), so
``--check`` can compare a committed book with a fresh rendering: it exits 1 and lists the
stale files when they differ.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from spec.aggregate import (
    ANY_DEVICE,
    CHANGED_MARK,
    STATUSES,
    Aggregate,
    Cell,
    device_order,
    first_line,
    format_value,
    load_mutants,
    runs_of,
    version_key,
)
from spec.claims import PART_OF, SECTION_NAMES, Claim, SectionFiles
from spec.errors import CommandError
from spec.outcomes import BROKEN, FIXED, UNVERIFIED, status_of
from spec.render import environment, md_fence, paragraphs_html, ref_label, slug, tidy
from spec.results import load_many

EXPLANATIONS = Path(__file__).resolve().parent / "explanations"
HAZARDS_PAGE = "hazards.md"

SOURCES_PAGE = "sources.md"

#: Files the book consists of, besides the section pages.
TOP_FILES = ("README.md", "index.html", SOURCES_PAGE)


# --------------------------------------------------------------------------- explanations


class ExplanationError(ValueError):
    """A malformed explanations file."""


def load_explanations(path: Path | None = None) -> dict[str, str]:
    """Read ``## CLAIM-ID`` sections of Markdown: claim ID -> explanation text.

    ``path`` is one Markdown file or a folder of them (default: ``spec/explanations/``, one
    file per part or theme); a claim explained twice, in one file or in two, is an error.
    """
    path = path or EXPLANATIONS
    files = sorted(path.glob("*.md")) if path.is_dir() else [path]
    out: dict[str, str] = {}
    for file in files:
        sections: list[tuple[str, list[str]]] = []
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.startswith("## "):
                sections.append((line[3:].strip(), []))
            elif sections:
                sections[-1][1].append(line)
        for claim_id, lines in sections:
            if claim_id in out:
                raise ExplanationError(f"{file.name}: {claim_id} is explained twice")
            out[claim_id] = "\n".join(lines).strip()
    return out


# --------------------------------------------------------------------------- the model


def _cell(cell: Cell, blank: bool = False) -> dict[str, Any]:
    info = cell.info
    if blank:
        return {"status": "", "css": "blank", "mark": "", "sym": "", "text": "", "title": "", "changed": [], "changed_mark": ""}
    title = cell.detail + (f"; behaviour changed here: {', '.join(cell.changed)}" if cell.changed and cell.status == "pass" else "")
    return {
        "status": cell.status,
        "css": info.css,
        "mark": info.mark,
        "sym": info.sym,
        "text": cell.text,
        "title": title,
        "changed": cell.changed if cell.status == "pass" else [],
        "changed_mark": CHANGED_MARK,
    }


def status_table(agg: Aggregate, cid: str) -> dict[str, Any]:
    """A claim's status per run (rows) and device x mode (columns; x derivative provider for an operator claim)."""
    devices, modes = agg.devices_of(cid), agg.modes_of(cid)
    providers = agg.providers_of(cid) or [None]
    columns = [(d, m, p) for p in providers for d in devices for m in modes]
    lines = []
    for run in agg.runs:
        if run.partial and not agg.run_cell(cid, run).rows:
            continue  # a run of a selection (one provider's library) that did not select this claim
        ran = [p for p in providers if p is None or agg.run_cell(cid, run, provider=p).rows]
        lines.append({
            "label": f"{run.label} ({run.builds})",
            "cells": [_cell(agg.cell(cid, run, d, m, p)) if p in ran else None for d, m, p in columns],
        })
    labels = [f"{d} {m}" + (f" · {p}" if p else "") for d, m, p in columns]
    return {"columns": labels, "lines": lines if columns else []}


def _where(places: list[tuple[str, str, str]], agg: Aggregate) -> str:
    """[(run, device, mode)] -> 'cpu eager on torch 2.0.1, 2.1.2; cuda eager on torch 2.11.0/py3.12'."""
    by: dict[tuple[str, str], list[str]] = defaultdict(list)
    for run, dev, mode in places:
        by[(dev, mode)].append(run)
    order = {r.key: i for i, r in enumerate(agg.runs)}
    parts = []
    for (dev, mode), runs in sorted(by.items(), key=lambda kv: (device_order(kv[0][0]), kv[0][1])):
        what = f"{mode}" if dev == ANY_DEVICE else f"{dev} {mode}"
        parts.append(f"{what} on torch {', '.join(sorted(set(runs), key=order.__getitem__))}")
    return "; ".join(parts)


def notes(agg: Aggregate, cid: str) -> list[dict[str, Any]]:
    """Why cells are not a plain pass: failures, fixed hazards, n/a and skip reasons, absent devices."""
    found: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for run in agg.runs:
        if run.partial and not agg.run_cell(cid, run).rows:
            continue  # not selected in that run (a run of one section, one provider's library)
        for dev in agg.devices_of(cid):
            for mode in agg.modes_of(cid):
                cell = agg.cell(cid, run, dev, mode)
                place = (run.key, dev, mode)
                if not cell.rows:
                    info = run.devices.get(dev)
                    if dev != ANY_DEVICE and info is not None and not info.get("present"):
                        found[("not run", f"{dev} absent in this run")].append(place)
                    else:
                        found[("not run", cell.detail)].append(place)
                    continue
                for r in cell.rows:
                    status = status_of([r.outcome])
                    if r.outcome in BROKEN:
                        found[(status, first_line(r.message) or r.outcome)].append(place)
                    elif r.outcome in FIXED:
                        found[(status, first_line(r.message) or "hazard fixed")].append(place)
                    elif r.outcome in UNVERIFIED:
                        found[(status, first_line(r.reason) or "no reason given")].append(place)
    out = []
    for (status, text), places in sorted(found.items(), key=lambda kv: (STATUSES[kv[0][0]].severity, kv[0][1])):
        info = STATUSES[status]
        out.append({"status": status, "css": info.css, "mark": info.mark, "sym": info.sym, "word": info.label,
                    "text": text, "where": _where(list(dict.fromkeys(places)), agg)})
    return out


def _claim_model(agg: Aggregate, c: Claim, explanation: str, mutants: dict[str, list[dict[str, str]]] | None) -> dict[str, Any]:
    status = agg.status(c.id)
    info = STATUSES[status]
    applied = agg.applied(c.id)
    return {
        "id": c.id,
        "statement": c.statement,
        "section": c.section,
        "section_slug": slug(c.section),
        "part": c.part,
        "kind": c.kind,
        "ref": c.ref or "",
        "ref_label": ref_label(c.ref or ""),
        "explanation": explanation,
        "explanation_html": paragraphs_html(explanation) if explanation else "",
        "status": status,
        "status_label": info.label,
        "status_mark": info.mark,
        "status_sym": info.sym,
        "status_css": info.css,
        "table": status_table(agg, c.id),
        "notes": notes(agg, c.id),
        "tests": [
            {"module": t.module, "name": t.name, "lineno": t.lineno, "source": t.source, "fence": md_fence(t.source)}
            for t in c.tests
        ],
        "observations": agg.observations(c.id),
        "changes": [
            {
                "key": ch.key,
                "observable": ch.observable,
                "ref": ch.ref,
                "ref_label": ref_label(ch.ref),
                "note": ch.note,
                "between": ch.between,
                "error": ch.error,
                "branches": [
                    {"spec": spec, "value": format_value(value), "applied": applied.get((ch.key, spec), [])}
                    for spec, value in ch.values.items()
                ],
            }
            for ch in agg.changes.get(c.id, [])
        ],
        "mutants": None if mutants is None else mutants.get(c.id, []),
        "hazard_values": agg.hazard_values(c.id) if c.kind == "hazard" else [],
    }


def _source(doc: dict[str, Any]) -> dict[str, Any]:
    from spec.aggregate import mode_order

    modes = sorted({(r.get("params") or {}).get("mode") or "eager" for r in doc["tests"]}, key=mode_order)
    return {
        "file": Path(doc.get("_path", "")).name,
        "torch": str(doc["torch"].get("version")),
        "release": str(doc["torch"]["release"]),
        "python": doc.get("python") or "",
        "platform": doc.get("platform") or "",
        "label": doc.get("label") or "",
        "created": doc.get("created") or "",
        "suite": doc.get("suite_version") or "",
        "devices": ", ".join(sorted((n for n, i in doc["devices"].items() if i.get("present")), key=device_order)),
        "modes": ", ".join(modes),
        "tests": len(doc["tests"]),
    }


def sources_model(registry: dict[str, Claim]) -> dict[str, Any]:
    """The sources map for the book: per documentation page its statements, each with the claims that enforce it
    (linked to their section pages) or its waiver; and per claim the statements it enforces."""
    from spec.sources import load, totals

    pages = load(allow_open=True)
    by_claim: dict[str, list[dict[str, Any]]] = defaultdict(list)
    out = []
    for p in pages:
        statements = []
        for st in p.statements:
            row = {"id": st.id, "section": st.section, "says": st.says, "quote": st.quote, "coverage": st.coverage,
                   "waiver": st.waiver, "why": st.why, "page": p.title, "url": p.url,
                   "claims": [{"id": c, "slug": slug(registry[c].section) if c in registry else ""}
                              for c in st.claims]}
            statements.append(row)
            for c in st.claims:
                by_claim[c].append(row)
        out.append({"prefix": p.prefix, "title": p.title, "url": p.url, "file": p.file, "counts": p.counts,
                    "statements": statements})
    return {"pages": out, "totals": totals(pages), "by_claim": dict(by_claim)}


def book_model(agg: Aggregate, explanations: dict[str, str], mutants: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """Everything the book's templates show, as plain sorted data, from the one aggregation."""
    claims = [_claim_model(agg, c, explanations.get(cid, ""), mutants) for cid, c in agg.registry.items()]
    sources_map = sources_model(agg.registry)
    for c in claims:
        c["statements"] = sources_map["by_claim"].get(c["id"], [])
    counts = agg.counts(agg.registry)
    sections = []
    for name in SECTION_NAMES:
        members = [c for c in claims if c["section"] == name]
        if members:
            files = SectionFiles.of(name)
            sections.append({"name": name, "part": PART_OF[name], "slug": slug(name), "claims": members,
                             "files": {"tests": files.test_module, "explanations": files.explanations,
                                       "mutants": files.mutants}})
    parts: list[dict[str, Any]] = []
    for s in sections:
        if not parts or parts[-1]["name"] != s["part"]:
            parts.append({"name": s["part"], "sections": []})
        parts[-1]["sections"].append(s)
    docs = [d for run in agg.runs for d in run.docs]
    return {
        "claims": claims,
        "sections": sections,
        "parts": parts,
        "hazards": [c for c in claims if c["kind"] == "hazard"],
        "versions": [run.key for run in agg.runs],
        "sources": [_source(d) for d in docs],
        "sources_map": sources_map,
        "upgraded": sum(1 for d in docs if d.get("_upgraded_from")),
        "counts": counts,
        "statuses": [{"key": s.key, "label": s.label, "mark": s.mark, "sym": s.sym, "css": s.css, "count": counts[s.key]}
                     for s in STATUSES.values()],
        "fixed": STATUSES["fixed"],
        "unknown": agg.unknown,
        "total": len(claims),
    }


def build_model(
    registry: dict[str, Claim], docs: list[dict[str, Any]], explanations: dict[str, str], mutants: Any = "default"
) -> dict[str, Any]:
    """The book's model from results documents (``mutants``: claim -> mutants, None for none, or read spec/data)."""
    agg = Aggregate(runs_of(docs), registry)
    return book_model(agg, explanations, load_mutants() if mutants == "default" else mutants)


# --------------------------------------------------------------------------- rendering


def render(model: dict[str, Any]) -> dict[str, str]:
    """Relative path -> file content, for every file of the book."""
    env = environment(STATUSES=STATUSES)
    files = {
        "README.md": env.get_template("index.md.j2").render(book=model),
        "index.html": env.get_template("book.html.j2").render(book=model),
    }
    files[HAZARDS_PAGE] = env.get_template("hazards.md.j2").render(book=model)
    files[SOURCES_PAGE] = env.get_template("sources.md.j2").render(book=model)
    section_tpl = env.get_template("section.md.j2")
    for i, section in enumerate(model["sections"]):
        prev = model["sections"][i - 1] if i else None
        nxt = model["sections"][i + 1] if i + 1 < len(model["sections"]) else None
        files[f"sections/{section['slug']}.md"] = section_tpl.render(book=model, section=section, prev=prev, next=nxt)
    return {k: tidy(v) for k, v in sorted(files.items())}


def build_book(
    results: list[str | Path] | None = None,
    registry: dict[str, Claim] | None = None,
    explanations: dict[str, str] | None = None,
    *,
    docs: list[dict[str, Any]] | None = None,
    mutants: Any = "default",
) -> dict[str, str]:
    """Every file of the book, from results files and folders (or already loaded ``docs``)."""
    from spec.claims import registry as default_registry

    docs = docs if docs is not None else load_many(list(results or []))
    registry = registry if registry is not None else default_registry()
    explanations = explanations if explanations is not None else load_explanations()
    return render(build_model(registry, docs, explanations, mutants))


def existing_files(out: Path) -> set[str]:
    """The files under ``out`` that belong to a book (what --check compares, what writing replaces)."""
    found = {name for name in TOP_FILES if (out / name).is_file()}
    sections = out / "sections"
    if sections.is_dir():
        found |= {f"sections/{p.name}" for p in sections.glob("*.md") if p.is_file()}
    return found


def stale_files(files: dict[str, str], out: Path) -> list[str]:
    """Book files that a fresh rendering would add, change or remove."""
    stale = []
    for rel in sorted(set(files) | existing_files(out)):
        path = out / rel
        if rel not in files:
            stale.append(f"{rel} (no longer generated)")
        elif not path.is_file():
            stale.append(f"{rel} (missing)")
        elif path.read_text(encoding="utf-8") != files[rel]:
            stale.append(f"{rel} (differs)")
    return stale


def write_book(files: dict[str, str], out: Path) -> list[str]:
    """Write the book into ``out``, removing book files no longer generated; returns what changed."""
    changed = stale_files(files, out)
    for rel in existing_files(out) - set(files):
        (out / rel).unlink()
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return changed


# --------------------------------------------------------------------------- command line


def configure(parser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULTS", help="results files or folders of *.json")
    parser.add_argument("-o", "--output", default="docs/book", metavar="DIR", help="where the book goes (default: docs/book)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the stale files when DIR differs from a fresh rendering",
    )
    mode.add_argument("--write", action="store_true", help="write the book into DIR (the default)")


def run(args) -> int:
    import sys

    from spec.claims import registry as default_registry

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CommandError(f"{out}: is not a folder")
    try:
        explanations = load_explanations()
        files = build_book(args.results, explanations=explanations)
    except ExplanationError as exc:
        raise CommandError(str(exc)) from None
    missing = [cid for cid in default_registry() if not explanations.get(cid)]
    if missing:
        print(f"warning: no explanation in spec/explanations/ for {', '.join(missing)}", file=sys.stderr)
    if args.check:
        stale = stale_files(files, out)
        if stale:
            print(f"the claim book in {out} is stale; regenerate it with: python -m spec docs {' '.join(map(str, args.results))} -o {out}")
            for line in stale:
                print(f"  {line}")
            return 1
        print(f"the claim book in {out} is up to date ({len(files)} files)")
        return 0
    changed = write_book(files, out)
    print(f"wrote the claim book to {out}: {len(files)} files, {len(changed)} changed")
    return 0


__all__ = ["book_model", "build_book", "build_model", "format_value", "load_explanations", "render", "stale_files", "version_key", "write_book"]
