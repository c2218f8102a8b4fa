"""Recorded messages and tracebacks keep their meaning and lose the form of the machine that recorded them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spec.normalize import normalize, normalize_path, normalize_row, normalize_text

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "docs" / "matrix" / "results").glob("*.json"))

ANOMALY = '''Error detected in PowBackward0. Traceback of forward call that caused the error:
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "{venv}/lib/python3.11/site-packages/pytest/__main__.py", line 9, in <module>
    raise SystemExit(_console_main())
  File "{venv}/lib/python3.11/site-packages/pluggy/_callers.py", line 103, in _multicall
    res = hook_impl.function(*args)
  File "{checkout}/spec/suite/test_non_smooth_and_undefined_points.py", line {line}, in test_anomaly
    d = torch.sqrt(p[0] ** 2 + p[1] ** 2)
  File "{venv}/lib/python3.11/site-packages/torch/_tensor.py", line 40, in wrapped
    return f(*args, **kwargs)
'''

DYNAMO = '''Unsupported: Tensor.retain_grad() with AOTDispatcher
 For more details about this graph break, please visit: https://meta-pytorch.github.io/compile-graph-break-site/gb/gb0108.html

from user code:
   File "{checkout}/spec/suite/test_torch_compile.py", line 438, in f
    y.retain_grad(){carets}

Set TORCHDYNAMO_VERBOSE=1 for the internal stack trace'''


def test_two_machines_record_the_same_anomaly_traceback():
    a = normalize_text(ANOMALY.format(venv="/work/venvs/m214", checkout="/work/main", line=212))
    b = normalize_text(ANOMALY.format(venv="/home/ci/.tox/py311-torch215", checkout="/builds/me/autograd-spec", line=230))
    assert a == b
    assert a == (
        "Error detected in PowBackward0. Traceback of forward call that caused the error:\n"
        "  ...\n"
        '  File "spec/suite/test_non_smooth_and_undefined_points.py", in test_anomaly\n'
        "    d = torch.sqrt(p[0] ** 2 + p[1] ** 2)\n"
        "  ...\n"
    )


def test_python_decoration_under_a_frame_goes():
    plain = normalize_text(DYNAMO.format(checkout="/work/main", carets=""))
    decorated = normalize_text(DYNAMO.format(checkout="/work/main", carets="\n    ^^^^^^^^^^^^^"))
    assert plain == decorated
    assert "https://meta-pytorch.github.io/compile-graph-break-site/gb/gb0108.html" in plain  # URLs stay
    assert '   File "spec/suite/test_torch_compile.py", in f\n    y.retain_grad()\n' in plain


@pytest.mark.parametrize(("path", "expected"), [
    ("/work/venvs/t215/lib/python3.11/site-packages/torch/autograd/__init__.py", "<site-packages>/torch/autograd/__init__.py"),
    ("/usr/lib/python3/dist-packages/numpy/core.py", "<site-packages>/numpy/core.py"),
    ("/root/.pyenv/versions/3.11.7/lib/python3.11/contextlib.py", "<stdlib>/contextlib.py"),
    ("/home/u/autograd-spec/spec/suite/test_leaf_tensors.py", "spec/suite/test_leaf_tensors.py"),
    ("/home/u/project/my_operators.py", "<path>/my_operators.py"),
    ("<frozen runpy>", "<frozen runpy>"),
    (r"C:\Users\u\venv\Lib\site-packages\torch\x.py", "<site-packages>/torch/x.py"),
])
def test_paths(path, expected):
    assert normalize_path(path) == expected


def test_normalizing_twice_changes_nothing_and_values_keep_their_type():
    text = ANOMALY.format(venv="/v", checkout="/c", line=1)
    once = normalize_text(text)
    assert normalize_text(once) == once
    value = {"type": "RuntimeError", "message": "at 0x7f3a2b1c0d90 in /tmp/x/y.py", "n": 3, "flags": [True, None]}
    assert normalize(value) == {"type": "RuntimeError", "message": "at 0x… in <path>/y.py", "n": 3, "flags": [True, None]}
    row = {"message": "File \"/a/b/site-packages/torch/x.py\", line 3, in f\n  g()", "observations": [{"observed": "/a/b.py"}]}
    assert normalize_row(row) == {"message": "...", "observations": [{"observed": "<path>/b.py"}]}
    assert row["observations"][0]["observed"] == "/a/b.py"  # the input is not changed


#: A path of a machine: a home, a checkout or a virtual environment (URLs and <site-packages>/... are not).
MACHINE_PATH = re.compile(r'(?<![\w.:/<>-])/(?:work|home|root|tmp|builds|Users|opt|usr|var)/[\w.+@-]+')


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_results_hold_no_path_of_the_machine_that_wrote_them(path):
    text = path.read_text(encoding="utf-8")
    found = sorted(set(MACHINE_PATH.findall(text)))
    assert not found, f"{path.name} holds machine paths: {found[:5]}"
    doc = json.loads(text)
    assert all(normalize_row(r) == r for r in doc["tests"]), f"{path.name} is not in normalized form"


def test_the_upgrade_diff_of_the_committed_results_reports_no_change_of_form(capsys):
    from spec.__main__ import main

    results = ROOT / "docs" / "matrix" / "results"
    code = main(["diff", str(results / "py311-torch214.json"), str(results / "py311-torch215.json"), "--format", "json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    changed = {c["claim"] for c in report["changed_claims"] if any(t.get("values") for t in c["tests"])}
    assert not changed & {"KINK-008", "COMP-011", "COMP-012"}, changed


@pytest.mark.parametrize(("old", "new", "oks", "kind"), [
    ({"type": "RuntimeError", "message": "a"}, {"type": "TypeError", "message": "a"}, (True, True), "type"),
    ({"type": "RuntimeError", "message": "a"}, {"type": "RuntimeError", "message": "b"}, (True, True), "message"),
    ({"outcome": "returned"}, {"outcome": "raised", "type": "E", "message": "m"}, (True, True), "outcome"),
    (True, False, (True, True), "flag"),
    (None, "x", (True, True), "flag"),
    ("old text", "new text", (True, True), "message"),
    ({"tensor": [1.0], "dtype": "float32"}, {"tensor": [2.0], "dtype": "float32"}, (True, True), "value"),
    ({"tensor": [1.0], "dtype": "float32"}, {"tensor": [1.0], "dtype": "float64"}, (True, True), "type"),
    ([{"category": "UserWarning", "message": "a"}], [{"category": "UserWarning", "message": "b"}], (True, True), "message"),
    (1.0, 2.0, (True, False), "verdict"),
])
def test_the_diff_names_what_kind_of_change_it_sees(old, new, oks, kind):
    from spec.diff import change_kind

    assert change_kind(old, new, *oks) == kind
