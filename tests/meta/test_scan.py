"""``autograd-spec scan`` and ``diff --uses``: the claims that touch a user's code, found statically.

The example is docs/examples/pinn_train.py, a PINN training script that calls torch.autograd.grad(create_graph=True),
torch.compile, torch.utils.checkpoint.checkpoint, torch.autograd.functional.hessian and optimizer.zero_grad().
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spec import apis, diff, scan
from spec.claims import ClaimError, build_registry, claim, registry
from tests.meta.test_cli import one_line_error, spec

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "docs/examples/pinn_train.py"
SCRIPT_LINES = (ROOT / SCRIPT).read_text(encoding="utf-8").splitlines()
MATRIX = ROOT / "docs" / "matrix" / "results"
TOUCHED = ("The create_graph argument", "Higher-order derivatives", "torch.compile", "Hessians and Hessian-vector products",
           ".grad lifecycle and layouts")
UNTOUCHED = ("Hooks", "Complex autograd", "Forward-mode AD", "Forward-mode tangents", "Custom autograd.Function",
             "torch.func with torch.autograd")


@pytest.fixture(scope="module")
def report():
    return scan.scan([SCRIPT])


def line_of(site: dict) -> str:
    return SCRIPT_LINES[site["line"] - 1]


# --------------------------------------------------------------------------- the example


def test_the_pinn_script_touches_the_sections_it_calls_and_no_other(report):
    sections = {c["section"] for c in report["claims"]}
    assert set(TOUCHED) <= sections, sorted(set(TOUCHED) - sections)
    assert not sections & set(UNTOUCHED), sorted(sections & set(UNTOUCHED))
    assert all(c["match"] == "specific" for c in report["claims"])
    ids = {c["id"] for c in report["claims"]}
    assert {"CG-003", "HO-001", "HESS-001", "LIFE-001", "COMP-010", "HZ-042"} <= ids, sorted(ids)
    assert not ids & {"CG-001", "HOOK-001", "CPLX-001", "TAN-006", "FWD-001", "DBL-001"}, sorted(ids)


def test_each_claim_shows_the_script_lines_that_connect_it(report):
    by_id = {c["id"]: c for c in report["claims"]}
    spelled = {"torch.autograd.grad:create_graph": "create_graph=True", "torch.compile": "torch.compile(",
               "torch.autograd.functional.hessian": "functional.hessian(", "zero_grad": ".zero_grad()",
               "Tensor.backward": ".backward()", "torch.no_grad": "torch.no_grad()"}
    for c in report["claims"]:
        assert c["sites"], c["id"]
        for site in c["sites"]:
            assert site["file"] == SCRIPT
            if site["use"] in spelled:
                assert spelled[site["use"]] in line_of(site), (c["id"], site, line_of(site))
    assert {line_of(s).strip() for s in by_id["COMP-010"]["sites"]} >= {
        "predict = torch.compile(model, backend=\"aot_eager\")  # fast inference, no second derivative through it",
    }
    assert {s["use"] for s in by_id["LIFE-001"]["sites"]} == {"zero_grad", "torch.optim"}


def test_checkpoint_is_covered_by_the_checkpointing_claims(report):
    """The example's activation checkpoint was the one API no claim covered until Chapter 4's checkpointing claims."""
    assert report["uncovered"] == []
    ckpt = [c for c in report["claims"] if c["id"].startswith("CKPT-")]
    assert ckpt, "no Activation checkpointing claim touches the example's checkpoint call"
    assert any("checkpoint(self.block" in line_of(s) for c in ckpt for s in c["sites"])
    text = scan.render_text(report)
    assert "Used, but no claim covers it yet:" not in text


def test_general_claims_are_counted_and_listed_on_request(report):
    assert "UNUSED-001" in report["general"] and "LEAF-001" in report["general"]
    assert "--general lists them" in scan.summary(report)
    full = scan.scan([SCRIPT], general=True)
    general = [c for c in full["claims"] if c["match"] == "general"]
    assert {c["id"] for c in general} == set(report["general"])
    assert "[general]" in scan.render_text(full)


def test_the_example_script_runs():
    proc = subprocess.run([sys.executable, SCRIPT, "--steps", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("loss ")


# --------------------------------------------------------------------------- the command line


def test_text_json_and_markdown_from_the_command_line(report):
    text = spec("scan", SCRIPT)
    assert text.returncode == 0 and not text.stderr, text.stderr
    assert text.stdout.startswith(f"Scanned 1 file ({SCRIPT}):")
    assert re.search(r"^  CG-003 +create_graph=True implies", text.stdout, re.M)
    assert re.search(r"^      docs/examples/pinn_train\.py:\d+  torch\.autograd\.grad\(create_graph=\.\.\.\)$",
                     text.stdout, re.M)
    assert re.search(r"^\d+ claims in \d+ sections touch your code; \d+ general claims", text.stdout.splitlines()[-1])
    sections = [ln for ln in text.stdout.splitlines() if ln and not ln.startswith(" ")]
    assert sections.index("The create_graph argument") < sections.index("torch.compile")  # the book's order

    as_json = json.loads(spec("scan", "--format", "json", SCRIPT).stdout)
    assert as_json == json.loads(json.dumps(report))
    assert set(as_json) == {"paths", "files", "skipped", "apis", "claims", "general", "uncovered"}

    md = spec("scan", "--format", "markdown", SCRIPT).stdout
    assert md.startswith("## autograd-spec scan: the claims that touch your code")
    assert "### torch.compile\n\n| claim | statement | your code |\n|---|---|---|\n| COMP-" in md
    assert re.search(r"\| HZ-042 \| .* \| `docs/examples/pinn_train\.py:\d+` `torch\.autograd\.functional\.hessian`", md)
    assert "### Used, but no claim covers it yet" not in md  # checkpoint is covered since Chapter 4


def test_the_vocabulary_is_listed():
    proc = spec("scan", "--vocabulary")
    assert proc.returncode == 0
    for name in ("torch.autograd.grad", "torch.compile", "Tensor.grad=None", "complex", "in-place"):
        assert re.search(rf"^  {re.escape(name)} ", proc.stdout, re.M), name
    rows = json.loads(spec("scan", "--vocabulary", "--format", "json").stdout)
    assert "torch.autograd.grad:create_graph" in {r["api"] for r in rows}


@pytest.mark.parametrize(("args", "fragment"), [
    (["no/such/file.py"], "no/such/file.py: no such file or folder"),
    (["no_such_package_xyz"], "no_such_package_xyz: no such file or folder, and no installed package"),
    (["json.no_such_module"], "json.no_such_module: no such file or folder, and no installed package"),
    (["sys"], "sys: the installed module has no Python source"),
    ([], "give at least one PATH"),
])
def test_a_bad_path_is_one_line_and_exit_2(args, fragment):
    proc = spec("scan", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line_error(proc)
    assert line.startswith("python -m spec scan: error: ") and fragment in line, line
    assert proc.stdout == ""


def test_a_file_that_does_not_parse_is_one_line_and_the_others_are_scanned(tmp_path):
    (tmp_path / "broken.py").write_text("import torch\n\ndef f(:\n    pass\n")
    (tmp_path / "good.py").write_text("import torch\ny = torch.autograd.grad(u, x, create_graph=True)\n")
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: utf-8 -*-\nx = '\xff'\n")
    proc = spec("scan", tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr.splitlines()
    assert len(err) == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert err[0] == f"python -m spec scan: {tmp_path / 'broken.py'}:3: does not parse: invalid syntax (skipped)"
    assert str(tmp_path / "latin.py") in err[1] and err[1].endswith("(skipped)")
    assert f"{tmp_path / 'good.py'}:2  torch.autograd.grad(create_graph=...)" in proc.stdout
    assert "2 file(s) skipped" in proc.stdout


def test_nothing_found_says_so_and_exits_0(tmp_path):
    (tmp_path / "plain.py").write_text("import numpy as np\nprint(np.sqrt(2))\n")
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "plain.py", tmp_path / "empty"):
        proc = spec("scan", target)
        assert proc.returncode == 0 and not proc.stderr, proc.stderr
        assert "No autograd API found: no claim touches this code." in proc.stdout
        assert "0 claims in 0 sections touch your code" in proc.stdout


def test_folders_skip_hidden_folders_caches_and_virtual_environments(tmp_path):
    code = "import torch\ntorch.compile(f)\n"
    for rel in ("pkg/a.py", "pkg/sub/b.py", ".hidden/c.py", "pkg/__pycache__/d.py", "venv/lib/e.py", "pkg/notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(code)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    assert [p.relative_to(tmp_path).as_posix() for p in scan.files_of(str(tmp_path))] == ["pkg/a.py", "pkg/sub/b.py"]


# --------------------------------------------------------------------------- never importing the user's code


def test_a_file_that_raises_on_import_is_scanned(tmp_path):
    path = tmp_path / "explodes.py"
    path.write_text("import torch\nraise SystemExit('imported!')\nloss.backward(create_graph=True)\n")
    proc = spec("scan", path, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {(a["api"], a["sites"][0]["line"]) for a in doc["apis"]} == {
        ("Tensor.backward", 3), ("Tensor.backward:create_graph", 3)}
    assert "CG-003" in {c["id"] for c in doc["claims"]}
    assert "imported!" not in proc.stdout + proc.stderr


def test_an_installed_package_is_found_by_name_without_importing_it(tmp_path):
    site = tmp_path / "site"
    pkg = site / "boomlib"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise SystemExit('boomlib was imported')\n")
    (pkg / "sub" / "__init__.py").write_text("raise SystemExit('boomlib.sub was imported')\n")
    (pkg / "sub" / "train.py").write_text("import torch as th\nwith th.no_grad():\n    pass\n")
    (pkg / "model.py").write_text("from torch.func import vmap, jacrev\nvmap(jacrev(f))(x)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(site)]))
    for target, files in (("boomlib", {"model.py", "train.py"}), ("boomlib.sub", {"train.py"}),
                          ("boomlib.model", {"model.py"})):
        proc = subprocess.run([sys.executable, "-m", "spec", "scan", target, "--format", "json"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert {Path(s["file"]).name for a in doc["apis"] for s in a["sites"]} == files, target
        assert all(Path(s["file"]).is_absolute() for a in doc["apis"] for s in a["sites"])
    assert not list(site.rglob("__pycache__")), "the package was imported"


# --------------------------------------------------------------------------- the recogniser


def names(source: str) -> set[tuple[int, str]]:
    return {(u.line, u.api) for u in apis.apis_of_source(source)}


def test_aliases_resolve_to_canonical_names():
    found = names(
        "import torch as th\n"                                      # 1
        "from torch.autograd import grad as G\n"                    # 2
        "from torch import autograd\n"                              # 3
        "import torch.autograd.forward_ad as fwAD\n"                # 4
        "from torch.func import *\n"                                # 5
        "from torch.utils.checkpoint import checkpoint as ckpt\n"   # 6
        "F = th.nn.functional\n"                                    # 7
        "class Sine(th.autograd.Function):\n"                       # 8
        "    pass\n"                                                # 9
        "G(u, x, create_graph=True)\n"                              # 10
        "autograd.grad(u, x, v, True)\n"                            # 11
        "with fwAD.dual_level():\n"                                 # 12
        "    vmap(jacrev(f))(x)\n"                                  # 13
        "ckpt(block, h, use_reentrant=False)\n"                     # 14
        "Sine.apply(x)\n"                                           # 15
        "F.relu(x)\n"                                               # 16
        "th.compile(m, fullgraph=True)\n"                           # 17
    )
    assert {
        (10, "torch.autograd.grad"), (10, "torch.autograd.grad:create_graph"),
        (11, "torch.autograd.grad:grad_outputs"), (11, "torch.autograd.grad:retain_graph"),
        (12, "torch.autograd.forward_ad.dual_level"), (12, "torch.autograd.forward_ad"),
        (13, "torch.func.vmap"), (13, "torch.func.jacrev"),
        (14, "torch.utils.checkpoint.checkpoint:use_reentrant"), (8, "torch.autograd.Function"),
        (15, "torch.autograd.Function"), (16, "torch.relu"), (17, "torch.compile:fullgraph"),
    } <= found, sorted(found)
    assert (11, "torch.autograd.grad:create_graph") not in found  # the 4th positional argument is retain_graph


def test_methods_writes_keywords_and_patterns():
    found = names(
        "opt.zero_grad()\n"                    # 1
        "opt.zero_grad(set_to_none=False)\n"   # 2
        "loss.backward(create_graph=False)\n"  # 3
        "x.grad = None\n"                      # 4
        "p.grad = g\n"                         # 5
        "p.grad.zero_()\n"                     # 6
        "w.add_(1)\n"                          # 7
        "z = 1 + 2j\n"                         # 8
        "y.register_hook(fn)\n"                # 9
        "t = torch.ones(2, requires_grad=True)\n"  # 10
        "ctx.save_for_backward(x)\n"           # 11
        "x.requires_grad_()\n"                 # 12
    )
    assert (1, "zero_grad") in found and (1, "zero_grad:set_to_none") not in found
    assert (2, "zero_grad:set_to_none") in found  # set_to_none=True is the default, False is a use
    assert (3, "Tensor.backward") in found and (3, "Tensor.backward:create_graph") not in found
    assert {(4, "Tensor.grad=None"), (5, "Tensor.grad="), (6, "Tensor.grad=None"), (7, "in-place"), (8, "complex"),
            (9, "Tensor.register_hook"), (10, "requires_grad"), (11, "ctx.save_for_backward"),
            (12, "requires_grad")} <= found, sorted(found)
    assert (6, "in-place") not in found and (12, "in-place") not in found
    assert apis.closure(["zero_grad"]) == {"zero_grad", "Tensor.grad=None"}
    assert apis.closure(["ctx.mark_dirty"]) == {"ctx.mark_dirty", "torch.autograd.Function"}


@pytest.mark.parametrize(("source", "expected"), [
    ("import torch\nwith torch.cuda.amp.autocast():\n    pass\n", "torch.autocast"),
    ("from torch.cuda.amp import GradScaler\nscaler = GradScaler()\n", "torch.amp.GradScaler"),
    ("from torch.nn.parallel import DistributedDataParallel as DDP\nnet = DDP(net)\n",
     "torch.nn.parallel.DistributedDataParallel"),
    ("import torch\ntorch.autograd.set_detect_anomaly(True)\n", "torch.autograd.detect_anomaly"),
    ("net.register_full_backward_hook(h)\n", "Module.register_full_backward_hook"),
    ("p.register_post_accumulate_grad_hook(h)\n", "Tensor.register_post_accumulate_grad_hook"),
    ("import torch\nwith torch.autograd.graph.saved_tensors_hooks(pack, unpack):\n    pass\n",
     "torch.autograd.graph.saved_tensors_hooks"),
    ("import torch\nr = torch.view_as_real(z)\n", "complex"),
    ("import torch\nz = torch.zeros(2, dtype=torch.cfloat)\n", "complex"),
    ("import functorch\nfunctorch.vmap(f)(x)\n", "torch.func.vmap"),
    ("import torch\ntorch.vmap(f)(x)\n", "torch.func.vmap"),
    ("from torch.autograd.function import once_differentiable\n@once_differentiable\ndef backward(ctx, g):\n"
     "    return g\n", "torch.autograd.Function"),
    ("p.data.copy_(w)\n", "Tensor.data"),
    ("from torch.func import functional_call\nfunctional_call(net, params, (x,))\n", "torch.func.functional_call"),
    ("import torch\nwith torch.inference_mode():\n    pass\n", "torch.inference_mode"),
    ("import torch as th\nth.set_grad_enabled(False)\n", "torch.set_grad_enabled"),
    ("import torch.nn.functional as F\ny = F.leaky_relu(x)\n", "torch.nn.functional.leaky_relu"),
    ("y = x.clamp(min=0)\n", "torch.clamp"),
    ("import torch\ny = torch.utils.checkpoint.checkpoint_sequential(fs, 2, x)\n",
     "torch.utils.checkpoint.checkpoint_sequential"),
])
def test_spellings_of_the_vocabulary(source, expected):
    assert expected in apis.closure(n for _, n in names(source)), sorted(names(source))


def test_the_vocabulary_is_one_consistent_table():
    assert len(apis.BY_NAME) == len(apis.VOCABULARY)
    assert all(a.role in apis.ROLES for a in apis.VOCABULARY)
    assert all(apis.known(n) for n in apis.all_names())
    assert all(apis.known(i) for a in apis.VOCABULARY for i in a.implies)
    assert all(p in a.defaults for a in apis.VOCABULARY for p in a.positional if p in a.defaults)
    assert not apis.known("torch.autograd.grad:nonsense") and not apis.known("torch.nope")


# --------------------------------------------------------------------------- the claims' side


def test_the_registry_derives_each_tests_apis_from_its_code():
    reg = registry()
    by_test = {t.name: t for c in reg.values() for t in c.tests}
    assert "torch.autograd.grad:create_graph" in by_test["test_create_graph_retains_graph_in_autograd_grad"].apis
    for c in reg.values():
        if c.section == "torch.compile":
            assert "torch.compile" in c.apis, c.id  # spelled spec.modes.compiled(fn, mode) in the suite
        if c.section == "Custom autograd.Function":
            assert "torch.autograd.Function" in c.apis, c.id  # Cube.apply of a module-level Function subclass
        if c.section == "Complex autograd":
            assert "complex" in c.apis, c.id
        if c.section == "Hooks":
            assert any(apis.BY_NAME[a].group == "Hooks" for a in c.apis if ":" not in a), c.id
        if c.section in ("Forward-mode AD", "Forward-mode tangents"):
            assert {"torch.autograd.forward_ad", "torch.func.jvp"} & set(c.apis), c.id


def test_the_apis_keyword_overrides_the_derivation(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_demo.py").write_text(
        "import torch\n"
        "from spec import claim\n\n"
        "@claim('DEMO-001', 'A hook claim that is really about create_graph.', section='Hooks',\n"
        "       apis=('torch.autograd.grad:create_graph',))\n"
        "def test_declared(check):\n"
        "    x.register_hook(lambda g: g)\n\n"
        "@claim('DEMO-002', 'A hook claim.', section='Hooks')\n"
        "def test_derived(check):\n"
        "    x.register_hook(lambda g: g)\n"
        "    torch.autograd.grad(y, x, create_graph=True)\n"
    )
    reg = build_registry(suite)
    assert reg["DEMO-001"].tests[0].apis == ("torch.autograd.grad:create_graph",)
    assert reg["DEMO-001"].tests[0].apis_declared and not reg["DEMO-002"].tests[0].apis_declared
    assert {"Tensor.register_hook", "torch.autograd.grad:create_graph"} <= set(reg["DEMO-002"].apis)
    user = tmp_path / "user.py"
    user.write_text("import torch\ng, = torch.autograd.grad(u, x, create_graph=True)\n")
    found = scan.scan([str(user)], registry=reg)
    assert [c["id"] for c in found["claims"]] == ["DEMO-001"]
    assert found["claims"][0]["sites"] == [  # the keyword implies its API, a way to differentiate
        {"file": str(user), "line": 2, "api": "torch.autograd.grad", "use": "torch.autograd.grad"},
        {"file": str(user), "line": 2, "api": "torch.autograd.grad:create_graph", "use": "torch.autograd.grad:create_graph"}]
    assert scan.places(found["claims"][0]["sites"]) == [(f"{user}:2", ["torch.autograd.grad(create_graph=...)"])]

    (suite / "test_demo.py").write_text(
        "from spec import claim\n\n@claim('DEMO-001', 'S.', section='Hooks', apis=('torch.autograd.grad:nope',))\n"
        "def test_a(check):\n    pass\n")
    with pytest.raises(ClaimError, match=r"DEMO-001: unknown API 'torch.autograd.grad:nope' in apis="):
        build_registry(suite)
    with pytest.raises(ClaimError, match="unknown API 'torch.nope'"):
        claim("DEMO-001", "S.", section="Hooks", apis=("torch.nope",))
    with pytest.raises(ClaimError, match="takes a tuple of API names"):
        claim("DEMO-001", "S.", section="Hooks", apis="torch.compile")


def test_the_claims_declare_only_literal_apis():
    """apis= is read with ast like the other keywords: a literal tuple of known names wherever it is given."""
    for path in sorted((ROOT / "spec" / "suite").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "apis":
                value = ast.literal_eval(node.value)
                assert all(apis.known(v) for v in value), (path.name, value)


# --------------------------------------------------------------------------- diff --uses


def test_diff_uses_shows_only_the_changes_of_the_claims_that_touch_the_code(report):
    old, new = MATRIX / "py311-torch20.json", MATRIX / "py311-torch215.json"
    touching = {c["id"] for c in report["claims"]}
    full = json.loads(spec("diff", old, new, "--format", "json").stdout)
    changed = [c["claim"] for c in full["changed_claims"]]

    proc = spec("diff", old, new, "--uses", SCRIPT)
    assert proc.returncode == 0, proc.stderr
    shown = re.findall(r"^([A-Z]+(?:-[A-Z]+)*-\d{3}): ", proc.stdout, re.M)
    assert shown == [c for c in changed if c in touching] and shown, shown
    assert {"COMP-010", "HZ-042", "HZ-044"} <= set(shown)
    others = len(changed) - len(shown)
    assert f"\n{others} other claims changed; drop --uses to see them\n" in proc.stdout
    assert re.search(r"^  your code: docs/examples/pinn_train\.py:\d+  torch\.compile$", proc.stdout, re.M)
    assert "USES: docs/examples/pinn_train.py: " in proc.stdout
    assert proc.stdout.rstrip().endswith("GATE: PASS: no claim that touches your code and held in OLD fails in NEW")

    doc = json.loads(spec("diff", old, new, "--uses", SCRIPT, "--format", "json").stdout)
    assert [c["claim"] for c in doc["changed_claims"]] == shown
    assert all(c["uses"] and all(s["file"] == SCRIPT for s in c["uses"]) for c in doc["changed_claims"])
    assert len(doc["other_changes"]["claims"]) == others and doc["uses"]["paths"] == [SCRIPT]
    assert doc["uses"]["uncovered"] == []

    md = spec("diff", old, new, "--uses", SCRIPT, "--format", "markdown").stdout
    assert f"{others} other claims changed; drop --uses to see them" in md
    assert "| claim | old | new | per mode | what changed | your code |" in md
    assert re.search(r"^\| COMP-010 \|.*`docs/examples/pinn_train\.py:\d+` `torch\.compile` \|$", md, re.M)
    assert len(re.findall(r"^\| [A-Z]+(?:-[A-Z]+)*-\d{3} \|", md, re.M)) == len(shown)


def test_diff_uses_gates_only_the_claims_that_touch_the_code(write_results):
    from tests.meta.conftest import make_results, make_row

    rows = [make_row("HOOK-001"), make_row("CG-003")]
    old = write_results("old.json", make_results("2.14.1", tests=rows))
    failing = [make_row("HOOK-001", "failed", observed=False), make_row("CG-003", "failed", observed=False)]
    new = write_results("new.json", make_results("2.15.0", tests=failing))
    report = diff.compare(diff.load_side(str(old), "OLD"), diff.load_side(str(new), "NEW"))
    mine = diff.restrict(report, scan.scan([SCRIPT]))
    assert mine["regressions"] == ["CG-003"] and mine["other_changes"]["regressions"] == ["HOOK-001"]
    text = diff.render_text(mine)
    assert "1 other claim changed (1 of them regressions: HOOK-001); drop --uses to see them" in text
    assert "GATE: FAIL: 1 claim(s) that touch your code held in OLD and fail in NEW: CG-003" in text
    proc = spec("diff", old, new, "--uses", SCRIPT)
    assert proc.returncode == 1
    hooks_only = old.parent / "hooks.py"
    hooks_only.write_text("opt.zero_grad()\nx.register_hook(print)\nloss.backward()\n")
    assert spec("diff", old, new, "--uses", hooks_only).returncode == 1  # HOOK-001 touches it
    plain = old.parent / "plain.py"
    plain.write_text("print('no autograd here')\n")
    proc = spec("diff", old, new, "--uses", plain)
    assert proc.returncode == 0 and "no claim that touches your code changed" in proc.stdout


def test_diff_uses_with_a_bad_path_is_one_line(write_results):
    from tests.meta.conftest import make_results

    a = write_results("a.json", make_results("2.14.1"))
    proc = spec("diff", a, a, "--uses", "no/such/dir")
    assert proc.returncode == 2
    assert one_line_error(proc) == "python -m spec diff: error: no/such/dir: no such file or folder"


def test_the_gate_workflow_passes_uses_to_the_diff():
    gate = (ROOT / ".github" / "workflows" / "gate.yml").read_text(encoding="utf-8")
    inputs = gate.split("    outputs:", 1)[0]
    assert re.search(r"^      uses:\n        description: .+\n        type: string\n        default: \"\"$", inputs, re.M)
    assert "USES: ${{ inputs.uses }}" in gate and 'diff_args+=(--uses "$path")' in gate
    assert gate.count('"${diff_args[@]}"') == 2  # the summary and the gate (with the waivers, when given)


def test_diff_uses_over_no_python_file_is_refused_not_passed(tmp_path, write_results):
    """A gate restricted to code it could not read would pass having judged nothing."""
    from tests.meta.conftest import make_results

    a = write_results("a.json", make_results("2.14.1"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("no code here\n")
    (tmp_path / "broken.py").write_text("def f(:\n")
    for target, found in ((tmp_path / "docs", "0 found, 0 skipped"), (tmp_path / "broken.py", "1 found, 1 skipped")):
        proc = spec("diff", a, a, "--uses", target)
        assert proc.returncode == 2, proc.stdout
        assert f"no Python file read ({found}): nothing to restrict the diff to" in proc.stderr.strip().splitlines()[-1]
