"""``autograd-spec scan PATH...``: the claims that touch your code, with the file:line where it calls what they check.

PATH is a file, a folder (its ``*.py`` files, recursively, skipping hidden folders, ``__pycache__`` and virtual
environments) or the name of an installed package or module (found with :func:`importlib.util.find_spec`, whose
origin and search locations give its files).  The scan reads the code's syntax trees with :mod:`ast` and never
imports or runs it.  The vocabulary (:mod:`spec.apis`) names the autograd APIs the code uses; the registry
(:mod:`spec.claims`) names the APIs each claim's tests use, by running the same recogniser over their code.

The matching rule.  Each API has a role:

- *ubiquitous*: every autograd program has it, or a test only observes through it (``requires_grad``, reading
  ``.grad``, ``.grad_fn``, ``.is_leaf``, ``detach()``, ``torch.nn.Parameter``, ``torch.is_grad_enabled()``);
- *entry*: the plain ways to differentiate, ``backward()`` and ``torch.autograd.grad``;
- *transform*: the specific ways, ``torch.func`` transforms and ``torch.autograd.functional``;
- *operator*: an operator whose derivative claims single out (``sqrt``, ``abs``, ``relu``, ``clamp``, ``where``,
  norms, ``cdist`` ...); a test's operators are alternatives (one test often checks several spellings of a kink);
- *condition*: everything else: a keyword given (``torch.autograd.grad(create_graph=True)``), ``torch.compile``,
  checkpointing, hooks, forward-mode AD, a custom ``autograd.Function``, a grad mode, writing ``.grad``,
  ``zero_grad()``, in-place updates, complex numbers, anomaly detection ...

A test of a claim *matches* your code when (1) your code uses every condition API the test uses, (2) your code uses
at least one of the test's ways to differentiate: one of its transforms if it uses any (a test that checks
``torch.func.grad`` against ``torch.autograd.grad`` is about ``torch.func``), else one of its entries, and (3) your
code uses at least one of the test's operators, if it names any.  It matches *specifically* when it has a condition,
a transform or an operator; a test with none (only ``backward()``, ``autograd.grad`` and ubiquitous APIs, which every
autograd user has) matches *generally*, when your code uses one of them.  A claim touches your code when one of its tests matches; a claim whose tests match only generally is
*general*: counted in the summary, listed with ``--general``.  So the create_graph claims touch code that passes
``create_graph=True``, the Hooks claims only code that registers hooks, and a claim whose tests compare forward mode
with a Hessian touches only code that uses forward mode.  The places shown for a claim are where your code uses the
APIs of its matching tests (conditions and ways).  An API your code uses that no claim's tests use is listed as
"no claim covers it yet" rather than dropped.

Where the derivation from a test's code misses or overshoots, the test declares its APIs:
``@claim("ID", ..., apis=("torch.autograd.grad:create_graph",))`` (``autograd-spec scan --vocabulary`` lists the
names).

Exit status: 0 when every file was read (also when nothing matched); 1 when some file could not be read or parsed
(one line on stderr each, with the file and line; the others are scanned); 2 for a PATH that is no file, folder or
installed package.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spec import apis as vocab
from spec.errors import CommandError
from spec.render import emit

#: How many places a claim shows in text and Markdown (JSON lists them all).
PLACES = 6
#: A statement is cut to this many characters in text and Markdown.
STATEMENT = 110


def configure(parser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="a file, a folder, or an installed package's name")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument("--general", action="store_true",
                        help="list the general claims too (those about plain backward() / autograd.grad)")
    parser.add_argument("--vocabulary", action="store_true", help="list the API names the scan recognises and exit")


# --------------------------------------------------------------------------- finding and reading the files


def _module_files(name: str) -> list[Path] | None:
    """The source files of an installed module or package, found without importing it (None: not installed)."""
    parts = name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])  # a top-level name: found on sys.path, nothing runs
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = [Path(p) for p in (spec.submodule_search_locations or [])]
    origin = Path(spec.origin) if spec.origin and spec.has_location else None
    for part in parts[1:]:
        sub = [loc / part for loc in locations if (loc / part).is_dir()]
        mods = [loc / f"{part}.py" for loc in locations if (loc / f"{part}.py").is_file()]
        if sub:
            locations, origin = sub, None
        elif mods:
            locations, origin = [], mods[0]
        else:
            return None
    if locations:
        return [f for loc in locations for f in _walk(loc)]
    if origin is None or origin.suffix != ".py":
        raise CommandError(f"{name}: the installed module has no Python source to scan ({origin or 'built in'})")
    return [origin]


def _walk(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__"
                             and not (Path(dirpath) / d / "pyvenv.cfg").exists())
        found += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py")]
    return found


def files_of(target: str) -> list[Path]:
    """The files one PATH names: a file, a folder's ``*.py`` files, or an installed package's."""
    path = Path(target)
    if path.is_file():
        return [path]
    if path.is_dir():
        return _walk(path)
    if path.exists():
        raise CommandError(f"{target}: neither a file nor a folder")
    if all(part.isidentifier() for part in target.split(".")):
        files = _module_files(target)
        if files is not None:
            return files
        raise CommandError(f"{target}: no such file or folder, and no installed package or module of that name")
    raise CommandError(f"{target}: no such file or folder")


@dataclasses.dataclass
class Skipped:
    file: str
    line: int | None
    error: str

    def __str__(self) -> str:
        return f"{self.file}{f':{self.line}' if self.line else ''}: {self.error} (skipped)"


def read(path: Path) -> list[vocab.Use] | Skipped:
    """The API uses in one file, or why it was skipped."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        return Skipped(str(path), exc.lineno, f"does not parse: {exc.msg}")
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        return Skipped(str(path), None, f"cannot be read: {type(exc).__name__}: {exc}")
    return vocab.recognise(tree)


# --------------------------------------------------------------------------- matching


@dataclasses.dataclass(frozen=True)
class Requirement:
    """What one claim test asks of the code it touches (the module docstring states the rule)."""

    test: str
    conditions: frozenset[str]
    ways: frozenset[str]
    operators: frozenset[str]
    general: bool

    @classmethod
    def of(cls, test: str, names: Iterable[str]) -> Requirement:
        by_role: dict[str, set[str]] = defaultdict(set)
        for n in vocab.closure(names):
            by_role[vocab.role(n)].add(n)
        general = not (by_role[vocab.CONDITION] or by_role[vocab.TRANSFORM] or by_role[vocab.OPERATOR])
        ways = by_role[vocab.TRANSFORM] or by_role[vocab.ENTRY] or (by_role[vocab.UBIQUITOUS] if general else set())
        return cls(test, frozenset(by_role[vocab.CONDITION]), frozenset(ways), frozenset(by_role[vocab.OPERATOR]),
                   general)

    def match(self, used: set[str]) -> set[str] | None:
        """The APIs that connect the test to code using ``used``, or None when it does not match."""
        if not self.conditions <= used:
            return None
        alternatives = [self.ways & used, self.operators & used]
        if (self.ways and not alternatives[0]) or (self.operators and not alternatives[1]):
            return None
        return set(self.conditions).union(*alternatives) or None


def requirements(registry: dict) -> dict[str, list[Requirement]]:
    return {cid: [Requirement.of(t.name, t.apis) for t in c.tests] for cid, c in registry.items()}


def scan(paths: Iterable[str], registry: dict | None = None, general: bool = False) -> dict[str, Any]:
    """The scan of ``paths`` as plain data (what ``--format json`` prints).  Unknown paths raise CommandError."""
    if registry is None:
        from spec.claims import registry as load

        registry = load()
    paths = list(paths)
    files = list(dict.fromkeys(f for p in paths for f in files_of(p)))
    sites: dict[str, dict[tuple[str, int], str]] = defaultdict(dict)  # API -> place -> the use there that implies it
    direct: set[str] = set()
    skipped = []
    for f in files:
        found = read(f)
        if isinstance(found, Skipped):
            skipped.append(found)
            continue
        for use in found:
            direct.add(use.api)
            for name in vocab.closure([use.api]):
                place = sites[name].setdefault((str(f), use.line), use.api)
                if place != name and use.api == name:
                    sites[name][(str(f), use.line)] = name
    used = set(sites)
    claims, general_ids = [], []
    covered: set[str] = set()
    for cid, reqs in requirements(registry).items():
        claim = registry[cid]
        covered |= {n for t in claim.tests for n in vocab.closure(t.apis)}
        connecting: set[str] = set()
        specific = False
        for req in reqs:
            hit = req.match(used)
            if hit is not None and not (specific and req.general):
                if not req.general and not specific:
                    specific, connecting = True, set()
                connecting |= hit
        if not connecting:
            continue
        if not specific:
            general_ids.append(cid)
            if not general:
                continue
        claims.append({
            "id": cid, "kind": claim.kind, "section": claim.section, "statement": claim.statement,
            "match": "specific" if specific else "general", "apis": sorted(connecting),
            "sites": _sites(connecting, sites),
        })
    uncovered = sorted(n for n in direct if ":" not in n and vocab.role(n) != vocab.UBIQUITOUS and n not in covered)
    return {
        "paths": paths,
        "files": len(files),
        "skipped": [dataclasses.asdict(s) for s in skipped],
        "apis": [{"api": n, "role": vocab.role(n), "sites": _sites([n], sites)} for n in sorted(direct)],
        "claims": claims,
        "general": general_ids,
        "uncovered": [{"api": n, "what": vocab.BY_NAME[n].what, "sites": _sites([n], sites)} for n in uncovered],
    }


def _sites(names: Iterable[str], sites: dict[str, dict[tuple[str, int], str]]) -> list[dict[str, Any]]:
    """Where each API is used: ``use`` is the API used there, which is ``api`` or implies it (zero_grad clears .grad)."""
    return [{"file": f, "line": line, "api": n, "use": use}
            for n in sorted(names) for (f, line), use in sorted(sites.get(n, {}).items())]


def places(sites: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """``("file:line", [API spellings])`` in file and line order; an API whose keyword is shown there is not repeated."""
    by_place: dict[tuple[str, int], set[str]] = defaultdict(set)
    for s in sites:
        by_place[(s["file"], s["line"])].add(s["use"])
    out = []
    for (f, line), names in sorted(by_place.items()):
        shown = {n for n in names if not any(m.startswith(n + ":") for m in names)}
        implied = set().union(*(vocab.closure([n]) - {n} for n in shown))
        out.append((f"{f}:{line}", [vocab.describe(n) for n in sorted(shown - implied) or sorted(shown)]))
    return out


# --------------------------------------------------------------------------- rendering


def short(statement: str | None, width: int = STATEMENT) -> str:
    text = " ".join((statement or "").split())
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width - 1)
    return text[: cut if cut > width // 2 else width - 1].rstrip(",;:") + "…"


def _sections(claims: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for c in claims:
        out.setdefault(c["section"], []).append(c)
    return out


def summary(report: dict[str, Any]) -> str:
    claims = [c for c in report["claims"] if c["match"] == "specific"]
    n_sections = len({c["section"] for c in claims})
    line = (f"{len(claims)} claim{'s' * (len(claims) != 1)} in {n_sections} section{'s' * (n_sections != 1)} "
            f"touch{'es' * (len(claims) == 1)} your code")
    if report["general"]:
        listed = any(c["match"] == "general" for c in report["claims"])
        line += (f"; {len(report['general'])} general claims (plain backward(), autograd.grad, requires_grad) apply to "
                 f"any code that uses those{'' if listed else ': --general lists them'}")
    if report["uncovered"]:
        line += f"; {len(report['uncovered'])} API{'s' * (len(report['uncovered']) != 1)} used that no claim covers yet"
    if report["skipped"]:
        line += f"; {len(report['skipped'])} file(s) skipped"
    return line


def header(report: dict[str, Any]) -> str:
    n_files = report["files"] - len(report["skipped"])
    n_places = len({(s["file"], s["line"]) for a in report["apis"] for s in a["sites"]})
    return (f"Scanned {n_files} file{'s' * (n_files != 1)} ({', '.join(report['paths'])}): "
            f"{len(report['apis'])} autograd API{'s' * (len(report['apis']) != 1)} at {n_places} place"
            f"{'s' * (n_places != 1)}.")


def render_text(report: dict[str, Any]) -> str:
    lines = [header(report)]
    if not report["apis"]:
        lines.append("No autograd API found: no claim touches this code.")
    for section, claims in _sections(report["claims"]).items():
        lines += ["", section]
        for c in claims:
            lines.append(f"  {c['id']:<10} {short(c['statement'])}" + ("  [general]" if c["match"] == "general" else ""))
            shown = places(c["sites"])
            lines += [f"      {where}  {', '.join(names)}" for where, names in shown[:PLACES]]
            if len(shown) > PLACES:
                lines.append(f"      ... and {len(shown) - PLACES} more places")
    if report["uncovered"]:
        lines += ["", "Used, but no claim covers it yet:"]
        for u in report["uncovered"]:
            shown = [where for where, _ in places(u["sites"])]
            more = f" ... and {len(shown) - PLACES} more" if len(shown) > PLACES else ""
            lines.append(f"  {u['api']}  {', '.join(shown[:PLACES])}{more}")
    lines += ["", summary(report)]
    return "\n".join(lines) + "\n"


def _md_places(sites: list[dict[str, Any]]) -> str:
    from spec.render import md_code

    shown = places(sites)
    cells = [f"{md_code(where)} {', '.join(md_code(n) for n in names)}" for where, names in shown[:PLACES]]
    if len(shown) > PLACES:
        cells.append(f"… and {len(shown) - PLACES} more")
    return "<br>".join(cells)


def render_markdown(report: dict[str, Any]) -> str:
    from spec.render import md_text

    lines = ["## autograd-spec scan: the claims that touch your code", "", header(report), ""]
    if not report["apis"]:
        lines += ["No autograd API found: no claim touches this code.", ""]
    for section, claims in _sections(report["claims"]).items():
        lines += [f"### {section}", "", "| claim | statement | your code |", "|---|---|---|"]
        for c in claims:
            tag = " (general)" if c["match"] == "general" else ""
            lines.append(f"| {c['id']}{tag} | {md_text(short(c['statement']))} | {_md_places(c['sites'])} |")
        lines.append("")
    if report["uncovered"]:
        lines += ["### Used, but no claim covers it yet", "", "| API | your code |", "|---|---|"]
        lines += [f"| {md_text(u['api'])} | {_md_places(u['sites'])} |" for u in report["uncovered"]]
        lines.append("")
    lines.append(f"**{summary(report)}**")
    return "\n".join(lines) + "\n"


def render_vocabulary(fmt: str) -> str:
    if fmt == "json":
        rows = [{"api": n, "role": vocab.role(n), "group": vocab.BY_NAME[vocab.base(n)].group,
                 "what": vocab.BY_NAME[vocab.base(n)].what} for n in vocab.all_names()]
        return json.dumps(rows, indent=1) + "\n"
    lines: list[str] = []
    group = None
    for api in vocab.VOCABULARY:
        if api.group != group:
            lines += [""] * bool(lines) + [api.group]
            group = api.group
        keywords = f"  keywords: {', '.join(api.defaults)}" if api.keywords else ""
        lines.append(f"  {api.name:<48} {api.role:<11} {api.what}{keywords}")
    return "\n".join(lines) + "\n"


def report_skipped(report: dict[str, Any], command: str = "scan") -> None:
    """One line on stderr per file that could not be read or parsed."""
    from spec.__main__ import _prog

    for s in report["skipped"]:
        print(f"{_prog()} {command}: {Skipped(**s)}", file=sys.stderr)


def run(args) -> int:
    if args.vocabulary:
        sys.stdout.write(render_vocabulary(args.format))
        return 0
    if not args.paths:
        raise CommandError("give at least one PATH: a file, a folder or an installed package's name")
    report = scan(args.paths, general=args.general)
    report_skipped(report)
    emit(report, args.format, render_text, render_markdown)
    return 1 if report["skipped"] else 0
