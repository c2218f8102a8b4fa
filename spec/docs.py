"""The claim book: every claim with its explanation, its test code and its status.

``python -m spec docs RESULTS... -o DIR`` renders, from the claim registry, the
explanations in ``spec/explanations/`` and one or more results files:

- ``DIR/README.md``: the index, grouped by part and section, with each claim's status;
- ``DIR/sections/<section>.md``: one page per section, one ``<a id="CLAIM-ID">`` per claim;
- ``DIR/index.html``: the whole book as one self-contained page (inline CSS and JS,
  no network) with a filter by ID, section and status; ``index.html#LEAF-004`` cites a claim.

The output is deterministic (sorted; the only timestamps are those in the results), so
``--check`` can compare a committed book with a fresh rendering: it exits 1 and lists the
stale files when they differ.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from spec.claims import PART_OF, SECTION_NAMES, Claim
from spec.devices import KNOWN_DEVICES
from spec.results import BROKEN, claim_outcome, load_many, outcome_counts

TEMPLATES = Path(__file__).resolve().parent / "templates"
EXPLANATIONS = Path(__file__).resolve().parent / "explanations"

#: Overall statuses of a claim over all the results given, in filter order.
STATUSES = ("pass", "fail", "skip", "not run")
STATUS_LABEL = {"pass": "holds", "fail": "fails", "skip": "skipped", "not run": "not run"}
STATUS_MARK = {"pass": "✅", "fail": "❌", "skip": "⏭", "not run": "·"}  # Markdown: a code host has emoji fonts
STATUS_SYMBOL = {"pass": "✓", "fail": "✗", "skip": "–", "not run": "·"}  # HTML: readable with any font
ANY_DEVICE = "any device"

#: Files the book consists of, besides the section pages.
TOP_FILES = ("README.md", "index.html")


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
        current: str | None = None
        lines: list[str] = []

        def flush() -> None:
            if current is not None:
                text = "\n".join(lines).strip()
                if current in out:
                    raise ExplanationError(f"{file.name}: {current} is explained twice")
                out[current] = text

        for line in file.read_text(encoding="utf-8").splitlines():
            if line.startswith("## "):
                flush()
                current = line[3:].strip()
                lines = []
            elif current is not None:
                lines.append(line)
        flush()
    return out


# --------------------------------------------------------------------------- small formatting helpers


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def md_code(text: str) -> str:
    """Inline Markdown code for any text (backticks and pipes included)."""
    text = " ".join(str(text).split())
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def md_text(text: str) -> str:
    """Plain text that Markdown shows as written: ``a*a*a`` stays three a's, not an emphasis."""
    text = " ".join(str(text).split()).replace("\\", "\\\\")
    text = re.sub(r"([*`<\[\]|])", r"\\\1", text)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def md_fence(code: str, lang: str = "python") -> str:
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}{lang}\n{code}\n{fence}"


_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*|\[([^\]]+)\]\(([^)\s]+)\)")


def inline_html(text: str) -> str:
    """The small Markdown subset used in explanations: `code`, **bold**, *em*, [links](url)."""
    out = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()], quote=False))
        code, bold, em, label, url = m.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code, quote=False)}</code>")
        elif bold is not None:
            out.append(f"<strong>{html.escape(bold, quote=False)}</strong>")
        elif em is not None:
            out.append(f"<em>{html.escape(em, quote=False)}</em>")
        else:
            out.append(f'<a href="{html.escape(url)}">{html.escape(label, quote=False)}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def paragraphs_html(text: str) -> str:
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n".join(f"<p>{inline_html(p)}</p>" for p in paras)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def format_value(value: Any, expected: bool = False) -> str:
    """An observed or expected value, compactly, in Python notation, independently of dtype and memory addresses."""
    if isinstance(value, dict):
        if set(value) == {"type", "message"}:
            sep = " matching " if expected else ": "
            return _ADDRESS.sub("", f"{value['type']}{sep}{value['message']}")
        if {"category", "message"} <= set(value) <= {"category", "message", "count"}:
            sep = " matching " if expected else ": "
            count = f" (x{value['count']})" if value.get("count") not in (None, 1) else ""
            return _ADDRESS.sub("", f"{value['category']}{sep}{value['message']}{count}")
        if set(value) == {"matches"}:
            return f"text matching {value['matches']}"
        if "tensor" in value:
            shape = value.get("shape")
            text = repr(value["tensor"])
            return f"tensor {text}" + (f" (shape {list(shape)})" if shape not in (None, []) else "")
    if isinstance(value, list) and value and all(isinstance(v, dict) and "category" in v for v in value):
        return " | ".join(format_value(v, expected) for v in value)
    if isinstance(value, str):
        return _ADDRESS.sub("", value)
    return _ADDRESS.sub("", repr(value))


_GITHUB_REF = re.compile(r"^https?://github\.com/([\w.-]+/[\w.-]+)/(?:pull|issues)/(\d+)/?$")


def ref_label(ref: str) -> str:
    """``https://github.com/pytorch/pytorch/pull/92753`` -> ``pytorch/pytorch#92753``."""
    m = _GITHUB_REF.match(ref or "")
    return f"{m.group(1)}#{m.group(2)}" if m else ref


def version_key(text: str) -> tuple:
    try:
        return (0, Version(text))
    except InvalidVersion:
        return (1, text)


# --------------------------------------------------------------------------- the model


def _release(doc: dict[str, Any]) -> str:
    torch = doc.get("torch") or {}
    return str(torch.get("release") or torch.get("version") or "unknown")


def _device_of(row: dict[str, Any]) -> str:
    return (row.get("params") or {}).get("device") or ANY_DEVICE


def _device_order(name: str) -> tuple:
    if name in KNOWN_DEVICES:
        return (0, KNOWN_DEVICES.index(name), name)
    return (1 if name != ANY_DEVICE else 2, 0, name)


def build_model(registry: dict[str, Claim], docs: list[dict[str, Any]], explanations: dict[str, str]) -> dict[str, Any]:
    """Everything the templates show, as plain sorted data."""
    docs = sorted(
        docs,
        key=lambda d: (version_key(_release(d)), str(d["torch"].get("version")), str(d.get("label") or ""), Path(d.get("_path", "")).name),
    )
    versions = sorted({_release(d) for d in docs}, key=version_key)
    builds: dict[str, set[str]] = defaultdict(set)
    rows_by: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)  # claim -> [(release, row)]
    for doc in docs:
        rel = _release(doc)
        builds[rel].add(str(doc["torch"].get("build") or doc["torch"].get("version")))
        for row in doc["tests"]:
            rows_by[row["claim"]].append((rel, row))

    sources = [
        {
            "file": Path(doc.get("_path", "")).name,
            "torch": str(doc["torch"].get("version")),
            "release": _release(doc),
            "python": doc.get("python") or "",
            "platform": doc.get("platform") or "",
            "label": doc.get("label") or "",
            "created": doc.get("created") or "",
            "suite": doc.get("suite_version") or "",
            "devices": ", ".join(sorted((n for n, i in doc["devices"].items() if i.get("present")), key=_device_order)),
            "tests": len(doc["tests"]),
        }
        for doc in docs
    ]

    claims = []
    for cid, c in registry.items():
        claims.append(_claim_model(c, rows_by.get(cid, []), versions, builds, explanations.get(cid, "")))

    counts = {s: sum(1 for c in claims if c["status"] == s) for s in STATUSES}
    sections = []
    for name in SECTION_NAMES:
        members = [c for c in claims if c["section"] == name]
        if members:
            sections.append({"name": name, "part": PART_OF[name], "slug": slug(name), "claims": members})
    parts = []
    for s in sections:
        if not parts or parts[-1]["name"] != s["part"]:
            parts.append({"name": s["part"], "sections": []})
        parts[-1]["sections"].append(s)
    unknown = sorted(set(rows_by) - set(registry))
    return {
        "claims": claims,
        "sections": sections,
        "parts": parts,
        "versions": versions,
        "sources": sources,
        "counts": counts,
        "statuses": [{"key": s, "label": STATUS_LABEL[s], "mark": STATUS_MARK[s], "sym": STATUS_SYMBOL[s], "count": counts[s]} for s in STATUSES],
        "unknown": unknown,
        "total": len(claims),
    }


def _claim_model(
    c: Claim,
    rows: list[tuple[str, dict[str, Any]]],
    versions: list[str],
    builds: dict[str, set[str]],
    explanation: str,
) -> dict[str, Any]:
    devices = sorted({_device_of(r) for _, r in rows}, key=_device_order)
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for rel, row in rows:
        cells[(rel, _device_of(row))].append(row)

    table = []
    skip_reasons: dict[str, list[str]] = defaultdict(list)
    failures: dict[str, list[str]] = defaultdict(list)
    for rel in versions:
        line = {"version": rel, "builds": ", ".join(sorted(builds.get(rel, ()))), "cells": []}
        for dev in devices:
            rs = cells.get((rel, dev), [])
            if not rs:
                line["cells"].append({"status": "not run", "text": "not run", "title": "no results for this combination"})
                continue
            outcome = claim_outcome(rs)
            n_pass, n_fail, n_skip = outcome_counts(rs)
            if outcome == "fail":
                text = f"fail {n_fail}/{len(rs)}"
            elif outcome == "pass":
                # Skipped rows (a device absent in one of two runs of a release) are not failures.
                text = f"pass {n_pass}/{n_pass + n_fail}" + (f", {n_skip} skipped" if n_skip else "")
            else:
                text = "skip"
            reasons = sorted({str(r.get("reason") or "no reason given") for r in rs if r["outcome"] == "skipped"})
            for reason in reasons:
                skip_reasons[reason].append(f"{rel} {dev}")
            for r in rs:
                if r["outcome"] in BROKEN:
                    msg = (r.get("message") or r["outcome"]).strip().splitlines()
                    failures[msg[0] if msg else r["outcome"]].append(f"{rel} {r['nodeid'].split('::', 1)[-1]}")
            title = "; ".join(f"{n} {w}" for n, w in ((n_pass, "passed"), (n_fail, "failed"), (n_skip, "skipped")) if n)
            if outcome == "skip":
                title += ": " + "; ".join(reasons)
            line["cells"].append({"status": outcome, "text": text, "title": title})
        table.append(line)

    if rows:
        status = claim_outcome([r for _, r in rows])
    else:
        status = "not run"

    return {
        "id": c.id,
        "statement": c.statement,
        "section": c.section,
        "section_slug": slug(c.section),
        "part": c.part,
        "explanation": explanation,
        "explanation_html": paragraphs_html(explanation) if explanation else "",
        "status": status,
        "status_label": STATUS_LABEL[status],
        "status_mark": STATUS_MARK[status],
        "status_sym": STATUS_SYMBOL[status],
        "devices": devices,
        "table": table,
        "skip_reasons": [{"reason": k, "where": _where_text(v)} for k, v in sorted(skip_reasons.items())],
        "failures": [{"message": k, "where": sorted(set(v))[:8], "more": max(0, len(set(v)) - 8)} for k, v in sorted(failures.items())],
        "tests": [
            {"module": t.module, "name": t.name, "lineno": t.lineno, "source": t.source, "fence": md_fence(t.source)}
            for t in c.tests
        ],
        "observations": _observations(rows),
        "changes": _changes(c, rows),
    }


def _where_text(places: list[str]) -> str:
    """'2.13.0 cuda', '2.14.1 cuda' -> 'cuda on torch 2.13.0, 2.14.1'."""
    by_dev: dict[str, list[str]] = defaultdict(list)
    for p in places:
        rel, dev = p.split(" ", 1)
        by_dev[dev].append(rel)
    return "; ".join(
        f"{dev} on torch {', '.join(sorted(set(v), key=version_key))}" for dev, v in sorted(by_dev.items(), key=lambda kv: _device_order(kv[0]))
    )


def _param_order(name: str) -> tuple:
    return ({"device": 0, "dtype": 1}.get(name, 2), name)


def _observations(rows: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Distinct observed values per observable, and (where they differ) the runs that saw each."""
    order: list[str] = []
    groups: dict[str, dict[tuple, dict[str, Any]]] = defaultdict(dict)
    for rel, row in sorted(rows, key=lambda x: (version_key(x[0]), x[1]["nodeid"])):
        dims = {"torch": rel, "device": _device_of(row)}
        dims.update({k: str(v) for k, v in (row.get("params") or {}).items() if k != "device"})
        for ob in row.get("observations") or []:
            name = str(ob.get("name"))
            if name not in groups:
                order.append(name)
            observed = format_value(ob.get("observed"))
            expected = format_value(ob.get("expected"), expected=True)
            ok = bool(ob.get("ok", True))
            g = groups[name].setdefault(
                (observed, expected, ok),
                {"observed": observed, "expected": expected, "ok": ok, "dims": defaultdict(set), "runs": 0},
            )
            for k, v in dims.items():
                g["dims"][k].add(v)
            g["runs"] += 1
    out = []
    for name in order:
        every: dict[str, set[str]] = defaultdict(set)
        for g in groups[name].values():
            for k, v in g["dims"].items():
                every[k] |= v
        seen = []
        for g in sorted(groups[name].values(), key=lambda g: (not g["ok"], g["observed"], g["expected"])):
            where = []
            for k in ["torch"] + sorted((k for k in every if k != "torch"), key=_param_order):
                mine = g["dims"].get(k, set())
                if mine == every[k]:
                    continue  # not what tells this value apart
                key = version_key if k == "torch" else (_device_order if k == "device" else str)
                where.append(f"{k} {', '.join(sorted(mine, key=key))}")
            seen.append(
                {
                    "observed": g["observed"],
                    "expected": g["expected"],
                    "same": g["observed"] == g["expected"],
                    "ok": g["ok"],
                    "runs": g["runs"],
                    "where": "; ".join(where),
                }
            )
        out.append({"name": name, "seen": seen})
    return out


def _changes(c: Claim, rows: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The claim's version-gated expectations, with where the results applied each branch."""
    from spec.versions import RECORDED_VERSIONS, Versioned

    applied: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rel, row in rows:
        for e in row.get("expectations") or []:
            applied[(str(e.get("key")), str(e.get("branch")))].add(rel)
    out = []
    for ch in sorted(c.changes, key=lambda ch: ch.key):
        try:
            changed_in = [
                f"{RECORDED_VERSIONS[RECORDED_VERSIONS.index(v) - 1]} and {v}"
                for v in Versioned(ch.key, ch.values, ch.ref).changed_in()
            ]
        except Exception:  # an invalid gate is the claim suite's failure, not the book's
            changed_in = []
        out.append(
            {
                "key": ch.key,
                "observable": ch.observable,
                "ref": ch.ref,
                "ref_label": ref_label(ch.ref),
                "changed_in": changed_in,
                "branches": [
                    {
                        "spec": spec,
                        "value": format_value(value),
                        "applied": sorted(applied.get((ch.key, spec), ()), key=version_key),
                    }
                    for spec, value in ch.values.items()
                ],
            }
        )
    return out


# --------------------------------------------------------------------------- rendering


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md_code"] = md_code
    env.filters["md_text"] = md_text
    return env


def render(model: dict[str, Any]) -> dict[str, str]:
    """Relative path -> file content, for every file of the book."""
    env = _environment()
    files = {
        "README.md": env.get_template("index.md.j2").render(book=model),
        "index.html": env.get_template("book.html.j2").render(book=model),
    }
    section_tpl = env.get_template("section.md.j2")
    for i, section in enumerate(model["sections"]):
        prev = model["sections"][i - 1] if i else None
        nxt = model["sections"][i + 1] if i + 1 < len(model["sections"]) else None
        files[f"sections/{section['slug']}.md"] = section_tpl.render(book=model, section=section, prev=prev, next=nxt)
    return {k: _tidy(v) for k, v in sorted(files.items())}


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip("\n") + "\n"


def build_book(results: list[str | Path], registry: dict[str, Claim] | None = None, explanations: dict[str, str] | None = None) -> dict[str, str]:
    from spec.claims import registry as default_registry

    docs = load_many(list(results))
    return render(build_model(registry if registry is not None else default_registry(), docs, explanations if explanations is not None else load_explanations()))


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

    from spec.__main__ import CommandError
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


__all__ = ["build_book", "build_model", "load_explanations", "render", "stale_files", "write_book"]
