"""The installable spec: what ``pip install <checkout>`` ships works without the checkout.

The package is installed (not editable) into a temporary folder, and every command runs from
an empty working directory with only that folder and the running environment's torch on the
path: the claims travel inside the distribution (``spec/suite``), with their explanations,
templates and schemas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(target), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip install of the checkout failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    assert (target / "spec" / "suite" / "conftest.py").is_file(), "the claims are not in the distribution"
    return target


def run_installed(installed: Path, cwd: Path, *args: str, block_numpy: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SPEC_MUTANT"))}
    paths = [str(installed)]
    if block_numpy:
        blocker = cwd.parent / f"{cwd.name}-blocker"
        blocker.mkdir(exist_ok=True)
        (blocker / "sitecustomize.py").write_text(
            "import sys\n"
            "class _NoNumpy:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'numpy' or name.startswith('numpy.'):\n"
            "            raise ModuleNotFoundError(\"No module named 'numpy'\")\n"
            "sys.meta_path.insert(0, _NoNumpy())\n"
        )
        paths.insert(0, str(blocker))
    env["PYTHONPATH"] = os.pathsep.join(paths)  # the installed copy, never the checkout
    return subprocess.run(
        [sys.executable, "-m", "spec", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_list_from_the_installed_package(installed, tmp_path):
    from spec.claims import registry

    proc = run_installed(installed, tmp_path, "list", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert [c["id"] for c in listed] == list(registry()), "the installed package lists other claims than the checkout"
    assert {c["kind"] for c in listed} <= {"rule", "hazard"}
    assert all(c["tests"] and c["tests"][0].startswith("spec/suite/") for c in listed)


def test_run_one_claim_from_an_empty_directory(installed, tmp_path):
    proc = run_installed(installed, tmp_path, "run", "--claim", "LEAF-004", "--results", "out.json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "PASS LEAF-004" in proc.stdout
    doc = json.loads((tmp_path / "out.json").read_text())
    assert {r["claim"] for r in doc["tests"]} == {"LEAF-004"}
    assert all(r["nodeid"].startswith("spec/suite/test_leaf_tensors.py::") for r in doc["tests"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"], "the run left files in the user's directory"


def test_run_the_operator_claims_against_two_providers_from_an_empty_directory(installed, tmp_path):
    """issue 18: ``autograd-spec run --provider autograd,func`` passes every operator claim, one row per provider."""
    from spec.claims import registry

    oper = sorted(c for c in registry() if c.startswith("OPER-"))
    proc = run_installed(installed, tmp_path, "run", "--provider", "autograd,func", "--claim", ",".join(oper),
                         "--results", "out.json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "autograd-spec providers: autograd (graph: grad, partial" in proc.stdout
    rows = json.loads((tmp_path / "out.json").read_text())["tests"]
    assert {r["params"]["provider"] for r in rows} == {"autograd", "func"}
    # OPER-021 too: in eager mode it runs the provider's operators uncompiled
    assert {r["claim"] for r in rows if r["outcome"] == "passed"} == set(oper)
    assert not [r for r in rows if r["outcome"] not in ("passed", "n/a")]


def test_show_from_an_empty_directory(installed, tmp_path):
    """Every part of one claim in one hop, from the installed package, with results of the user's own run."""
    from spec.claims import registry

    run = run_installed(installed, tmp_path, "run", "--claim", "LEAF-004", "--results", "results/claims.json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    proc = run_installed(installed, tmp_path, "show", "LEAF-004")
    assert proc.returncode == 0, proc.stderr
    claim = registry()["LEAF-004"]
    for part in (claim.statement, "section: Leaf tensors (Part 1)", "spec/explanations/leaf-tensors.md",
                 "docs/book/sections/leaf-tensors.md#LEAF-004", "constants-are-not-leaves",
                 "tests/meta/mutants/leaf_tensors.py, in the autograd-spec repository", "recorded version changes (0)",
                 "results/claims.json", ": pass  (8 tests; cpu; eager)", "by convention"):
        assert part in proc.stdout, f"{part!r} not in:\n{proc.stdout}"
    for t in claim.tests:
        assert f"spec/suite/test_leaf_tensors.py:{t.lineno}  {t.name}" in proc.stdout
    assert f"files under {installed}" in proc.stdout


def test_scan_from_an_empty_directory(installed, tmp_path):
    """scan reads a user's script and a package found by name (never imported) against the installed claims."""
    (tmp_path / "train.py").write_text(
        "import torch\nfrom torch.autograd import grad as G\n\n"
        "def residual(model, x):\n    u = model(x)\n    (u_x,) = G(u, x, torch.ones_like(u), create_graph=True)\n"
        "    return u_x\n"
    )
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise SystemExit('userpkg was imported')\n")
    (pkg / "fit.py").write_text("import torch\nnet = torch.compile(net)\n")
    proc = run_installed(installed, tmp_path, "scan", "train.py", "userpkg.fit", "--format", "json")  # a file, a module
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    ids = {c["id"] for c in doc["claims"]}
    assert {"CG-003", "COMP-010"} <= ids, sorted(ids)
    sites = {(s["file"], s["line"]) for c in doc["claims"] if c["id"] == "COMP-010" for s in c["sites"]}
    assert sites == {("train.py", 6), (str(pkg / "fit.py"), 2)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py", "userpkg"], "the scan left files behind"
    assert sorted(p.name for p in pkg.iterdir()) == ["__init__.py", "fit.py"], "the package was imported"


def test_repro_from_an_empty_directory(installed, tmp_path):
    """The repro script comes from the installed claims, and runs with neither the package nor the checkout."""
    proc = run_installed(installed, tmp_path, "repro", "LEAF-004")
    assert proc.returncode == 0, proc.stderr
    assert "def test_computed_constant_is_leaf(device, dtype, form, check):" in proc.stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SPEC_MUTANT")) and k != "PYTHONPATH"}
    ran = subprocess.run([sys.executable, "-"], input=proc.stdout, cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert "LEAF-004 holds: 2 of 2 cases passed" in ran.stdout
    assert not list(tmp_path.iterdir()), "repro left files in the user's directory"


def test_run_without_numpy_skips_numpy_claims_with_the_reason(installed, tmp_path):
    """A bare environment: torch without numpy warns at import; under -W error the run still works."""
    proc = run_installed(installed, tmp_path, "run", "--claim", "LEAF-001,GRAPH-007", "--results", "out.json",
                         block_numpy=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert {r["outcome"] for r in doc["tests"]} == {"passed"}


def test_docs_from_the_installed_package(installed, tmp_path):
    results = ROOT / "docs" / "matrix" / "results"
    proc = run_installed(installed, tmp_path, "docs", str(results), "-o", "book")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "book" / "index.html").is_file()
    assert "LEAF-004" in (tmp_path / "book" / "index.html").read_text(encoding="utf-8")


def test_plain_pytest_does_not_pick_up_the_plugin(installed, tmp_path):
    """Installing autograd-spec registers no pytest plugin: a user's own pytest run is unchanged."""
    (tmp_path / "test_user.py").write_text("def test_ok():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(installed)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--claim", "X"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 4 and "unrecognized arguments: --claim" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "spec.plugin",
                           "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "--claim" in proc.stdout


def test_run_without_torch_is_one_line(installed, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\nclass _NoTorch:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'torch'\")\n"
        "sys.meta_path.insert(0, _NoTorch())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(installed)])
    work = tmp_path / "w"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-m", "spec", "run"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 4
    assert proc.stderr.count("\n") == 1 and "torch is not installed" in proc.stderr


def test_run_with_waivers_from_an_empty_directory(installed, tmp_path):
    """``autograd-spec run --waivers``: a failure that a waiver covers exits 0 and is recorded; a bad file is exit 4.

    The failure is real: the mutant constants-are-not-leaves (tests/meta/mutants) patches torch at interpreter
    start through the generated sitecustomize, with the checkout appended to the path, so that ``spec`` is the
    installed package and only the mutant comes from the checkout.
    """
    from tests.meta import mutation

    site = tmp_path.parent / f"{tmp_path.name}-site"
    site.mkdir()
    text = mutation.sitecustomize(ROOT)
    assert "sys.path.insert(0, " in text
    (site / "sitecustomize.py").write_text(text.replace("sys.path.insert(0, ", "sys.path.append("))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SPEC_MUTANT"))}
    env.update({"PYTHONPATH": os.pathsep.join([str(site), str(installed)]), mutation.ENV: "constants-are-not-leaves",
                mutation.ENV_MODULE: "leaf_tensors"})

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "spec", "run", "--claim", "LEAF-004", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=600)

    assert run("--results", "out.json").returncode == 1  # the mutant breaks the claim
    (tmp_path / "waivers.toml").write_text(
        '[[waiver]]\nclaim = "LEAF-004"\nreason = "constants are not leaves here"\n'
        'link = "https://github.com/pytorch/pytorch/issues/1"\nuntil = "99"\n'
    )
    proc = run("--waivers", "waivers.toml", "--results", "out.json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "WAIVED     LEAF-004 (waiver 1, until torch 99)" in proc.stdout
    doc = json.loads((tmp_path / "out.json").read_text())
    # The recorded arguments hold no path of this machine (spec.normalize); pytest's header names the suite it ran.
    assert doc["selection"]["args"][0] == "spec/suite"
    assert f"rootdir: {installed}" in proc.stdout, "the checkout's suite ran, not the installed one"
    assert doc["exitstatus"] == 0 and doc["waivers"]["entries"][0]["status"] == "applied"
    (tmp_path / "waivers.toml").write_text('[[waiver]]\nclaim = "LEAF-004"\nreason = "r"\nlink = "https://x.org"\nuntil = "soon"\n')
    proc = run("--waivers", "waivers.toml")
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 4 and len(err) == 1 and "until 'soon' is not a version" in err[0], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "waivers.toml"]
