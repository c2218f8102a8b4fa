"""The house's layout: one slug per section names every part of its claims, and the command line reaches them.

- every section has a test module, an explanations file, a mutants module and a book page named by its slug, and
  nothing else stands in their folders;
- a test module, an explanations file and a mutants module hold the claims (or mutants) of their own section only;
- test names are unique across the suite (the diff keys a test by name and parameters, not by module);
- each option of the claim plugin works in both spellings (``--claim LEAF-004`` and ``--claim=LEAF-004``) from the
  checkout root, with ``python -m pytest``;
- ``autograd-spec show ID`` prints every part of a claim.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from spec.book import load_explanations
from spec.claims import SECTION_NAMES, SectionFiles, project_root, registry
from tests.meta import mutation

ROOT = project_root()
FILES = {name: SectionFiles.of(name) for name in SECTION_NAMES}


def _stems(folder: str, pattern: str) -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob(pattern)}


def test_every_section_has_each_part_named_by_its_slug():
    missing = [f"{name}: {path}" for name, f in FILES.items()
               for path in (f.test_module, f.explanations, f.mutants, f.book_page) if not (ROOT / path).is_file()]
    assert not missing, "parts missing:\n  " + "\n  ".join(missing)


@pytest.mark.parametrize(("folder", "pattern", "part"), [
    ("spec/suite", "test_*.py", "test_module"),
    ("spec/explanations", "*.md", "explanations"),
    ("tests/meta/mutants", "*.py", "mutants"),
    ("docs/book/sections", "*.md", "book_page"),
])
def test_no_file_stands_beside_the_sections(folder, pattern, part):
    expected = {getattr(f, part) for f in FILES.values()}
    shared = {"tests/meta/mutants/__init__.py", "tests/meta/mutants/common.py"}
    stray = _stems(folder, pattern) - expected - shared
    assert not stray, f"{folder} holds files that name no section: {sorted(stray)}"


def test_each_test_module_holds_the_claims_of_its_own_section():
    wrong = [f"{t.module}::{t.name} checks {c.id} of {c.section!r}, whose module is {c.files.test_module}"
             for c in registry().values() for t in c.tests if t.module != c.files.test_module]
    assert not wrong, "\n".join(wrong)


def test_each_explanations_file_holds_the_claims_of_its_own_section():
    reg = registry()
    wrong = []
    for name, f in FILES.items():
        for cid in load_explanations(ROOT / f.explanations):
            if cid not in reg:
                wrong.append(f"{f.explanations} explains {cid}, which no test states")
            elif reg[cid].section != name:
                wrong.append(f"{f.explanations} explains {cid} of {reg[cid].section!r}")
    assert not wrong, "\n".join(wrong)


def test_each_mutant_lives_with_the_section_of_the_first_claim_it_kills():
    reg = registry()
    wrong = [f"{m.name} ({m.module}) kills first {m.kills[0]} of {reg[m.kills[0]].section!r}"
             for m in mutation.load_all().values()
             if m.module != "tests.meta.mutants." + Path(reg[m.kills[0]].files.mutants).stem]
    assert not wrong, "\n".join(wrong)


def test_test_names_are_unique_across_the_suite():
    names = Counter()
    for path in (ROOT / "spec" / "suite").glob("test_*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names[node.name] += 1
    assert not [n for n, k in names.items() if k > 1]


# ------------------------------------------------------------------ the options from the checkout root

#: Every option of the claim plugin that takes a value, with a value that selects LEAF-004's float64 cpu eager rows.
VALUE_OPTIONS = {"--claim": "LEAF-004", "--device": "cpu", "--dtype": "float64", "--mode": "eager", "--provider": "autograd"}


def _plugin_options() -> set[str]:
    tree = ast.parse((ROOT / "spec" / "plugin.py").read_text(encoding="utf-8"))
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "addoption"}


def test_the_spellings_test_covers_every_option():
    flags = {"--results-overwrite", "--no-claim-report"}
    assert _plugin_options() == set(VALUE_OPTIONS) | {"--results", "--waivers"} | flags


@pytest.mark.parametrize("spelling", ["space", "equals"])
def test_every_option_in_both_spellings_from_the_checkout_root(spelling, tmp_path):
    results = tmp_path / "r.json"
    if spelling == "equals":
        results.write_text("{}")  # an existing file is fine after "=" (after a space, see below)
    waivers = tmp_path / "waivers.toml"
    waivers.write_text('[[waiver]]\nclaim = "LEAF-004"\nreason = "r"\nlink = "https://example.org"\nuntil = "99"\n')
    options = {**VALUE_OPTIONS, "--results": str(results)}
    args = ["--results-overwrite", "--no-claim-report"]
    for name, value in options.items():
        args += [name, value] if spelling == "space" else [f"{name}={value}"]
    # Always "=": before the root conftest loads the plugin, pytest takes the value of an option it does not know yet
    # for a test path, and an existing file outside the checkout then hides the root conftest (so would --results X
    # with an existing X). docs/waivers.md says so.
    args.append(f"--waivers={waivers}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SPEC_MUTANT"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:randomly", "-p", "no:cacheprovider", "-q"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads(results.read_text())
    assert {r["claim"] for r in doc["tests"]} == {"LEAF-004"}
    assert {(r["params"]["device"], r["params"]["dtype"], r["params"]["mode"]) for r in doc["tests"]} == {
        ("cpu", "float64", "eager")}
    assert len(doc["tests"]) == 2  # the two scalar forms
    assert doc["waivers"]["entries"][0]["status"] == "stale"  # LEAF-004 holds


# ------------------------------------------------------------------ show


def test_show_prints_every_part_of_a_claim(capsys):
    from spec.__main__ import main

    assert main(["show", "HZ-002", "--results", str(ROOT / "docs" / "matrix" / "results")]) == 0
    out = capsys.readouterr().out
    claim = registry()["HZ-002"]
    for part in (claim.statement, claim.section, claim.ref, claim.files.explanations, claim.files.book_page,
                 "clamp-flips-its-scalar-bound-subgradient", "tests/meta/mutants/non_smooth_and_undefined_points.py",
                 "HZ-002/clamp with scalar bounds gives 1 at a bound", "https://github.com/pytorch/pytorch/pull/191142",
                 "torch 2.15.0+cu132 (2.15.0): pass", "torch 2.13.0+cu130 (2.13.0): pass"):
        assert part in out, f"{part!r} not in:\n{out}"
    for t in claim.tests:
        assert f"{t.module}:{t.lineno}  {t.name}" in out
    assert load_explanations()["HZ-002"].split()[0] in out


def test_show_as_json_and_without_results(capsys, tmp_path, monkeypatch):
    from spec.__main__ import main

    monkeypatch.chdir(tmp_path)
    assert main(["show", "leaf-004", "--format", "json", "--results", str(ROOT / "docs" / "matrix" / "results" /
                                                                          "py311-torch20.json")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["id"] == "LEAF-004" and [s["status"] for s in info["status"]] == ["pass"]
    assert {m["name"] for m in info["mutants"]} == {"computed-constants-are-not-leaves", "constants-are-not-leaves"}


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["show", "LEAF-999"], 2, "unknown claim ID 'LEAF-999'; nearest: "),
    (["show", "LEAF-004", "--results", "no/such/file.json"], 4, "no results at no/such/file.json"),
])
def test_show_reports_bad_input_in_one_line(argv, code, message, capsys):
    from spec.__main__ import main

    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ the framework's shape

#: The framework's modules (the claims in spec/suite are data and tests, one module per section, and are not counted).
FRAMEWORK = sorted(p for p in (ROOT / "spec").rglob("*.py") if "suite" not in p.relative_to(ROOT / "spec").parts)


def _imports_of(path: Path, modules: set[str]) -> set[str]:
    """The spec modules that ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & modules


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_framework_module_is_longer_than_600_lines():
    long = {p.relative_to(ROOT).as_posix(): n for p in FRAMEWORK if (n := len(p.read_text().splitlines())) > 600}
    assert not long, f"split by concern: {long}"


def test_spec_has_no_import_cycle():
    paths = {_module_name(p): p for p in (ROOT / "spec").rglob("*.py")}
    graph = {m: _imports_of(p, set(paths)) - {m} for m, p in paths.items()}
    # A package imports nothing of its own through its parent: drop the edge from a module to the package it is in.
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
