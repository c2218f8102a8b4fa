"""Waivers (``--waivers FILE``, spec/waivers.py) for the claim run and the diff, and the pre-release path.

The file's validation runs in this process; the claim runs are real runs of the suite in a child
interpreter, where a mutant of torch (``tests/meta/mutants``, applied through the generated
``sitecustomize`` of ``tests/meta/mutation.py``) makes LEAF-003 and LEAF-004 fail.  The last part
checks what a torch pre-release meets: the claims and the diff on an unrecorded version (torch's
version string set to a nightly's in the child), and the ``nightly`` tox env's install options.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spec import waivers as waivers_mod
from spec.waivers import WaiverError, parse
from tests.meta import mutation
from tests.meta.conftest import make_results, make_row

ROOT = Path(__file__).resolve().parents[2]
NIGHTLY = "2.16.0.dev20261201+cpu"


def waiver(claim: str = "LEAF-004", until: str = "99", **fields) -> str:
    """One ``[[waiver]]`` table; ``None`` leaves a field out."""
    values = {"claim": claim, "reason": "known upstream bug", "link": "https://github.com/pytorch/pytorch/issues/1",
              "until": until, **fields}
    return "[[waiver]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items() if v is not None) + "\n"


# --------------------------------------------------------------------------- the file


def test_a_valid_file_parses_with_every_axis():
    text = waiver(device="cpu", dtype=["float16", "bfloat16"], mode="eager", provider="triton") + waiver("LEAF-003", until="2.16")
    first, second = parse(text)
    assert (first.number, first.claim, second.claim, second.until) == (1, "LEAF-004", "LEAF-003", "2.16")
    assert first.axes == {"device": ("cpu",), "dtype": ("float16", "bfloat16"), "mode": ("eager",), "provider": ("triton",)}
    assert first.describe() == "LEAF-004 device=cpu dtype=float16,bfloat16 mode=eager provider=triton"
    assert parse("") == [] and parse("# no waivers left\n") == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[waiver]\nclaim = 1", "not valid TOML"),
        ('title = "x"\n' + waiver(), "unknown top-level key 'title'"),
        ("waiver = 1\n", "must be an array of tables"),
        (waiver(reson="typo"), "waiver 1 (LEAF-004): unknown key 'reson'"),
        (waiver(reason=None), "reason is missing"),
        (waiver(link=None), "link is missing"),
        (waiver(until=None), "until is missing"),
        (waiver(claim=None), "claim is missing"),
        (waiver(reason=" "), "reason must not be empty"),
        (waiver(link="see the issue"), "link must be an http(s) URL"),
        (waiver(until="soon"), "until 'soon' is not a version"),
        (waiver(until="2.16.0rc1"), "must be a release like"),
        (waiver() .replace('until = "99"', "until = 2.16"), "until must be a quoted string, not 2.16"),
        (waiver("LEAF-04"), "unknown claim ID 'LEAF-04'; nearest: LEAF-004"),
        (waiver(device="tpu"), "unknown device 'tpu'; known: cpu, cuda, mps"),
        (waiver(mode="jit"), "unknown mode 'jit'"),
        (waiver(dtype="float8"), "unknown dtype 'float8'"),
        (waiver(device=[]), "device must be a name or a non-empty list"),
        (waiver() + waiver(reason="again"), "waiver 2 (LEAF-004) repeats waiver 1"),
    ],
)
def test_every_problem_is_one_line(text, fragment):
    with pytest.raises(WaiverError) as exc:
        parse(text, "--waivers w.toml")
    message = str(exc.value)
    assert fragment in message and message.startswith("--waivers w.toml: ") and "\n" not in message, message


# --------------------------------------------------------------------------- matching a run's rows


def rows_of(*specs) -> list[dict]:
    return [make_row(claim, outcome, device=device, nodeid=f"t.py::{claim}[{device}-{outcome}-{i}]")
            for i, (claim, outcome, device) in enumerate(specs)]


def test_statuses_against_a_run():
    rows = rows_of(("LEAF-004", "failed", "cpu"), ("LEAF-004", "passed", "cpu"), ("LEAF-003", "passed", "cpu"),
                   ("LEAF-001", "skipped", "cpu"))
    file = waivers_mod.WaiverFile("w.toml", tuple(parse(
        waiver("LEAF-004") + waiver("LEAF-003") + waiver("LEAF-001") + waiver("LEAF-002") + waiver("LEAF-005", until="2.15")
        + waiver("LEAF-004", device="cuda")
    )))
    applied = waivers_mod.apply(rows, file, "2.15.0+cpu")
    assert [applied.statuses[n] for n in range(1, 7)] == ["applied", "stale", "unverified", "unmatched", "expired", "unmatched"]
    assert [r.get("waiver") for r in rows] == [0, None, None, None]
    assert waivers_mod.held_outcomes(rows) == ["passed", "passed", "passed", "skipped"]
    doc = applied.as_json()
    assert doc["entries"][0]["waived"] == [rows[0]["nodeid"]] and len(doc["entries"][0]["tests"]) == 2
    lines = "\n".join(waivers_mod.report_lines(doc))
    for word in ("WAIVED", "STALE", "UNVERIFIED", "UNMATCHED", "EXPIRED"):
        assert word in lines
    assert "expired waiver(s) for torch 2.15.0+cpu: waiver 5 (LEAF-005, until 2.15)" in waivers_mod.expired_line(doc)


def test_an_expired_waiver_waives_nothing_and_a_nightly_is_its_coming_release():
    file = waivers_mod.WaiverFile("w.toml", tuple(parse(waiver(until="2.16"))))
    for version, status in (("2.15.0", "applied"), (NIGHTLY, "expired"), ("2.16.0rc1", "expired"), ("2.16.1", "expired")):
        rows = rows_of(("LEAF-004", "failed", "cpu"))
        applied = waivers_mod.apply(rows, file, version)
        assert applied.statuses[1] == status, version
        assert (rows[0].get("waiver") is None) == (status == "expired")


def test_axes_match_only_rows_that_record_them():
    rows = rows_of(("LEAF-004", "failed", "cpu"), ("LEAF-004", "failed", None))
    for fields, waived in (({"device": "cpu"}, [0, None]), ({"mode": ["func", "eager"]}, [0, 0]),
                           ({"dtype": "float64"}, [None, None]), ({"provider": "triton"}, [None, None])):
        for r in rows:
            r.pop("waiver", None)
        file = waivers_mod.WaiverFile("w.toml", tuple(parse(waiver(**fields))))
        waivers_mod.apply(rows, file, "2.15.0")
        assert [r.get("waiver") for r in rows] == waived, fields
    rows[0]["params"]["provider"] = "triton"
    rows[0].pop("waiver", None)
    waivers_mod.apply(rows, waivers_mod.WaiverFile("w.toml", tuple(parse(waiver(provider="triton")))), "2.15.0")
    assert rows[0].get("waiver") == 0


# --------------------------------------------------------------------------- the claim run


def run_claims(tmp_path: Path, *args: str, mutant: str | None = None, version: str | None = None) -> subprocess.CompletedProcess:
    """The suite in a child interpreter: with ``mutant`` applied to torch, or torch's version string set to ``version``."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    text = mutation.sitecustomize(ROOT)
    if version:
        text += textwrap.dedent(f"""
            import torch, torch.version
            torch.__version__ = torch.version.__version__ = type(torch.__version__)({version!r})
            """)
    (site / "sitecustomize.py").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SPEC_MUTANT"))}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    if mutant:
        env.update({mutation.ENV: mutant, mutation.ENV_MODULE: "leaf_tensors"})
    cmd = [sys.executable, "-m", "pytest", "spec/suite", "-p", "no:randomly", "-p", "no:cacheprovider", "-q",
           "-W", "ignore::pytest.PytestAssertRewriteWarning", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def write(tmp_path: Path, text: str, name: str = "waivers.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_waived_failure_does_not_fail_the_run_and_is_recorded(tmp_path):
    from spec.results import load

    args = ["--claim", "LEAF-004", "--device", "cpu"]
    proc = run_claims(tmp_path, *args, mutant="constants-are-not-leaves")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]  # the mutant fails the claim
    path = write(tmp_path, waiver("LEAF-004", until="99", reason="is_leaf is wrong for constants"))
    results = tmp_path / "r.json"
    proc = run_claims(tmp_path, *args, "--waivers", str(path), "--results", str(results), mutant="constants-are-not-leaves")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "FAIL LEAF-004" in out  # the claim report still says what happened
    assert re.search(r"WAIVED +LEAF-004 \(waiver 1, until torch 99\): \d+ failing test\(s\) waived: is_leaf is wrong", out), out[-3000:]
    assert "failing test(s) waived (LEAF-004): exit 0, as if they held" in out
    doc = load(results)  # valid against the schema
    assert doc["exitstatus"] == 0
    entry = doc["waivers"]["entries"][0]
    assert entry["status"] == "applied" and entry["claim"] == "LEAF-004" and entry["until"] == "99"
    failed = [r for r in doc["tests"] if r["outcome"] == "failed"]
    assert failed and all(r["waiver"] == 0 for r in failed)
    assert sorted(entry["waived"]) == sorted(r["nodeid"] for r in failed)


def test_waivers_apply_on_the_xdist_controller(tmp_path):
    path = write(tmp_path, waiver("LEAF-004"))
    proc = run_claims(tmp_path, "--claim", "LEAF-004", "--device", "cpu", "-n", "1", "--waivers", str(path),
                      mutant="constants-are-not-leaves")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "WAIVED     LEAF-004" in proc.stdout


def test_expired_stale_and_unmatched_waivers(tmp_path):
    """On unpatched torch LEAF-004 holds: its waiver is stale; an expired waiver (of any claim) fails the run."""
    path = write(tmp_path, waiver("LEAF-004") + waiver("LEAF-003", until="2.0") + waiver("LEAF-004", provider="triton"))
    proc = run_claims(tmp_path, "--claim", "LEAF-004", "--waivers", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-4000:]
    assert re.search(r"STALE +LEAF-004 \(waiver 1, until torch 99\): every test it matches holds .*: remove the waiver", out)
    assert re.search(r"EXPIRED +LEAF-003 \(waiver 2, until torch 2.0\): torch \S+ is not older than 2.0", out)
    assert re.search(r"UNMATCHED +LEAF-004 provider=triton \(waiver 3, until torch 99\): no test of this run matches it", out)
    lines = [ln for ln in out.splitlines() if ln.startswith("autograd-spec: 1 expired waiver(s)")]
    assert len(lines) == 1 and lines[0].endswith("the run fails (exit 1)"), out[-3000:]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "no such file"), (waiver("LEAF-04"), "unknown claim ID 'LEAF-04'")],
)
def test_a_bad_waivers_file_is_a_usage_error_before_the_run(tmp_path, content, fragment):
    path = tmp_path / "w.toml"
    if content is not None:
        path.write_text(content)
    proc = run_claims(tmp_path, "--claim", "LEAF-004", "--waivers", str(path))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith(f"ERROR: --waivers {path}: ") and fragment in err[0], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and "claim report" not in proc.stdout


# --------------------------------------------------------------------------- the diff


def spec_main(*args, capsys) -> tuple[int, str, str]:
    from spec.__main__ import main

    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def regression(write_results, new_version: str = "2.15.0"):
    old = write_results("old.json", make_results("2.14.1", [make_row("LEAF-004"), make_row("LEAF-001")]))
    new_doc = make_results("2.15.0", [make_row("LEAF-004", "failed", observed=False), make_row("LEAF-001")])
    new_doc["torch"].update(version=new_version, release=new_version.split(".dev")[0].split("+")[0],
                            recorded=new_version.startswith("2.15"))
    return old, write_results("new.json", new_doc)


def test_diff_lists_waived_regressions_and_passes(write_results, tmp_path, capsys):
    old, new = regression(write_results)
    code, out, _ = spec_main("diff", old, new, capsys=capsys)
    assert code == 1 and "GATE: FAIL" in out
    path = write(tmp_path, waiver("LEAF-004", device="cpu", until="2.16") + waiver("LEAF-001"))
    code, out, err = spec_main("diff", old, new, "--waivers", path, capsys=capsys)
    assert code == 0, out + err
    assert "  WAIVED cpu eager: pass -> fail" in out
    assert "WAIVED: regressions that waivers cover (listed, not failing the gate): LEAF-004" in out
    assert re.search(r"STALE +LEAF-001 \(waiver 2", out)
    assert "GATE: PASS: no claim that held in OLD fails in NEW except waived ones (LEAF-004)" in out
    code, out, _ = spec_main("diff", old, new, "--waivers", path, "--format", "json", capsys=capsys)
    report = json.loads(out)
    assert code == 0 and report["regressions"] == [] and report["waived"] == ["LEAF-004"]
    assert [e["status"] for e in report["waivers"]["entries"]] == ["applied", "stale"]
    code, out, _ = spec_main("diff", old, new, "--waivers", path, "--format", "markdown", capsys=capsys)
    assert code == 0 and "**Gate: PASS**: no claim that held fails except waived ones." in out
    assert "**Waived**" in out and "| 1: `LEAF-004 device=cpu` | waived | 1 waived | 2.16 |" in out


def test_diff_a_waiver_of_another_cell_does_not_waive(write_results, tmp_path, capsys):
    old, new = regression(write_results)
    path = write(tmp_path, waiver("LEAF-004", device="cuda"))
    code, out, _ = spec_main("diff", old, new, "--waivers", path, capsys=capsys)
    assert code == 1 and "GATE: FAIL: 1 claim(s) held in OLD and fail in NEW: LEAF-004" in out
    assert re.search(r"UNMATCHED +LEAF-004 device=cuda", out)


def test_diff_an_expired_waiver_fails_the_gate_for_a_nightly(write_results, tmp_path, capsys):
    """NEW is an unrecorded pre-release: it is judged as 2.16.0, so a waiver until 2.16 has expired."""
    old, new = regression(write_results, NIGHTLY)
    code, out, _ = spec_main("diff", old, new, "--waivers", write(tmp_path, waiver(until="2.17")), capsys=capsys)
    assert code == 0 and f"(torch {NIGHTLY})  [unrecorded version]" in out
    code, out, _ = spec_main("diff", old, new, "--waivers", write(tmp_path, waiver(until="2.16")), capsys=capsys)
    assert code == 1 and "GATE: FAIL: 1 claim(s) held in OLD and fail in NEW: LEAF-004; 1 expired waiver(s) for torch 2.16.0" in out
    # no regression at all: the expired waiver alone fails the gate
    same = write_results("same.json", json.loads(Path(new).read_text()))
    code, out, _ = spec_main("diff", new, same, "--waivers", write(tmp_path, waiver("LEAF-001", until="2.16")), capsys=capsys)
    assert code == 1 and out.rstrip().splitlines()[-1].startswith("GATE: FAIL: 1 expired waiver(s) for torch 2.16.0: waiver 1")
    code, out, _ = spec_main("diff", new, same, "--waivers", tmp_path / "waivers.toml", "--format", "markdown", capsys=capsys)
    assert code == 1 and "**Gate: FAIL**: 1 expired waiver(s)" in out


@pytest.mark.parametrize(("content", "fragment"), [(None, "no such file"), ("[[waiver]]\nclaim = 'LEAF-004'\n", "reason is missing")])
def test_diff_a_bad_waivers_file_is_one_line_exit_4(write_results, tmp_path, capsys, content, fragment):
    old, new = regression(write_results)
    path = tmp_path / "w.toml"
    if content is not None:
        path.write_text(content)
    code, out, err = spec_main("diff", old, new, "--waivers", path, capsys=capsys)
    lines = err.strip().splitlines()
    assert code == 4 and not out and len(lines) == 1, err
    assert lines[0].startswith(f"python -m spec diff: error: --waivers {path}") and fragment in lines[0]


# --------------------------------------------------------------------------- pre-releases


def test_the_claims_on_an_unrecorded_pre_release_and_its_diff(tmp_path, capsys):
    """The claims run against a torch whose version is a nightly's (the rest of torch is this one): the newest
    recorded expectations apply, the results say so, and the diff against the committed newest release reads it."""
    results = tmp_path / "nightly.json"
    proc = run_claims(tmp_path, "--claim", "LEAF-004,HOOK-006", "--device", "cpu", "--results", str(results), "-v",
                     version=NIGHTLY)  # -v cancels -q: the header shows
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"autograd-spec: torch {NIGHTLY} (unrecorded version: checked against the newest recorded expectations)" in out
    doc = json.loads(results.read_text())
    assert doc["torch"]["version"] == NIGHTLY and doc["torch"]["release"] == "2.16.0" and doc["torch"]["recorded"] is False
    gated = [e for r in doc["tests"] for e in r["expectations"] if e["key"].endswith("/Tensor.register_post_accumulate_grad_hook exists")]
    assert gated and {e["branch"] for e in gated} == {">=2.1"} and all(e["expected"] is True for e in gated)
    recorded = json.loads((ROOT / "docs" / "matrix" / "results" / "py311-torch215.json").read_text())
    keep = {"LEAF-004", "HOOK-006"}
    recorded.update(tests=[r for r in recorded["tests"] if r["claim"] in keep],
                    claims={k: v for k, v in recorded["claims"].items() if k in keep})
    base = tmp_path / "torch215.json"
    base.write_text(json.dumps(recorded))
    code, out, err = spec_main("diff", base, results, capsys=capsys)
    assert code == 0, out + err
    assert f"(torch {NIGHTLY})  [unrecorded version]" in out and "GATE: PASS" in out


def nightly_env() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini", encoding="utf-8")
    return parser["testenv:nightly"]


def test_the_nightly_tox_env_takes_torch_from_the_index_variable_and_runs_every_mode():
    env = nightly_env()
    deps = [ln.strip() for ln in env["deps"].splitlines() if ln.strip()]
    assert "--extra-index-url {env:SPEC_NIGHTLY_INDEX:https://download.pytorch.org/whl/nightly/cpu}" in deps
    assert "{env:SPEC_NIGHTLY_TORCH:torch>=0.0.dev0}" in deps
    assert not [d for d in deps if re.match(r"torch\b", d)], "a pinned torch besides the nightly one"
    commands = [ln.strip() for ln in env["commands"].splitlines() if ln.strip()]
    assert commands[0].startswith("- python -m pytest spec/suite") and "--mode all" in commands[0]
    assert "--results {tox_root}{/}results{/}nightly.json" in commands[0]
    assert commands[1] == ("python -m spec diff {tox_root}{/}docs{/}matrix{/}results{/}py311-torch215.json "
                           "{tox_root}{/}results{/}nightly.json")
    newest = __import__("spec.versions", fromlist=["RECORDED_VERSIONS"]).RECORDED_VERSIONS[-1]
    assert newest == "2.15.0", "the nightly env and workflow diff against py311-torch215.json: move them on"
    workflow = (ROOT / ".github" / "workflows" / "nightly.yml").read_text(encoding="utf-8")
    assert "docs/matrix/results/py311-torch215.json" in workflow and "--mode all" in workflow
    assert "https://download.pytorch.org/whl/nightly/cpu" in workflow and "schedule:" in workflow


def fake_torch_index(where: Path, version: str) -> str:
    """A PEP 503 index (file://) that serves one tiny wheel named torch ``version`` (no torch inside)."""
    import base64
    import hashlib
    import zipfile

    name = f"torch-{version}-py3-none-any.whl"
    info = f"torch-{version}.dist-info"
    files = {"torch/__init__.py": f"__version__ = {version!r}\n".encode(),
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n".encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: autograd-spec-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    (where / "wheels").mkdir(parents=True)
    record = []
    with zipfile.ZipFile(where / "wheels" / name, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        z.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    (where / "simple" / "torch").mkdir(parents=True)
    (where / "simple" / "torch" / "index.html").write_text(f'<a href="../../wheels/{name}">{name}</a>\n')
    return (where / "simple").as_uri()


def test_the_nightly_env_installs_the_pre_release_its_index_serves(tmp_path):
    """tox resolves the env with SPEC_NIGHTLY_INDEX set to a local index; uv, given the env's index option and torch
    requirement, picks the pre-release from there (a dry run, offline: a 1 KB stand-in wheel, not torch)."""
    uv = shutil.which("uv", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if uv is None or shutil.which("tox", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("needs tox and uv beside this Python (they are in the development environment, not in tox's)")
    index = fake_torch_index(tmp_path / "index", "2.16.0.dev20261201")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SPEC_", "UV_", "PIP_"))}
    env["SPEC_NIGHTLY_INDEX"] = index
    proc = subprocess.run([str(Path(sys.executable).parent / "tox"), "config", "-e", "nightly", "-k", "deps"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    deps = [ln.strip() for ln in proc.stdout.splitlines()[2:] if ln.strip()]
    assert f"--extra-index-url {index}" in deps and "torch>=0.0.dev0" in deps, proc.stdout
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, env=env, timeout=120)
    args = [part for d in deps if d.startswith("--extra-index-url") or d.startswith("torch") for part in d.split()]
    proc = subprocess.run([uv, "pip", "install", "--dry-run", "--offline", "--python", str(venv / "bin" / "python"),
                           *args], env=dict(env, UV_CACHE_DIR=str(tmp_path / "uv-cache")), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "+ torch==2.16.0.dev20261201" in proc.stdout + proc.stderr
