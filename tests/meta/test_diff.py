"""``spec diff``: one torch version per side, versions ordered as versions, values shown around their
first difference, per-mode statuses, and hazards that torch fixed listed as fixes (not regressions)."""

from __future__ import annotations

import json

from spec import claims as claims_module
from spec import diff
from spec.claims import Claim
from spec.versions import Versioned
from tests.meta.conftest import make_results, make_row
from tests.meta.test_cli import one_line_error, spec


def demo_registry() -> dict[str, Claim]:
    test = claims_module.TestRef("spec/suite/test_demo.py", "test_demo", 3, "def test_demo(check):\n    pass")
    return {
        "LEAF-001": Claim("LEAF-001", "A demo claim whose message changed in torch 2.10.", "Leaf tensors", tests=[test],
                          changes=[Versioned("LEAF-001/message", {"<2.10": "old text", ">=2.10": "new text"}, "https://x/pr/10")]),
    }


def test_a_folder_of_two_torch_versions_is_a_one_line_error(tmp_path, write_results):
    write_results("old/a.json", make_results("2.10.0"))
    write_results("old/b.json", make_results("2.9.1"))
    new = write_results("new.json", make_results("2.15.0"))
    proc = spec("diff", tmp_path / "old", new)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line_error(proc)
    assert "OLD" in line and "holds results of 2 torch versions (2.9.1, 2.10.0)" in line, line
    assert proc.stdout == ""


def test_a_folder_of_one_version_is_one_side(tmp_path, write_results):
    """The CPU and the GPU runs of one release make one side (a test keeps its worst outcome)."""
    gpu = make_results("2.15.0", python="3.12.3")
    gpu["devices"]["cuda"] = {"present": True, "detail": "GPU"}
    gpu["tests"].append(make_row(device="cuda"))
    write_results("new/cpu.json", make_results("2.15.0"))
    write_results("new/gpu.json", gpu)
    proc = spec("diff", write_results("old.json", make_results("2.14.1")), tmp_path / "new")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(torch 2.15.0+cpu)" in proc.stdout and "GATE: PASS" in proc.stdout


def test_recorded_changes_between_versions_ordered_as_versions(write_results):
    registry = demo_registry()
    sides = {v: diff.load_side(str(write_results(f"{v}.json", make_results(v))), v) for v in ("2.9.1", "2.10.0", "2.15.0")}
    report = diff.compare(sides["2.9.1"], sides["2.10.0"], registry)
    [entry] = report["changed_claims"]
    assert entry["expectations"] == [
        {"key": "LEAF-001/message", "changed_in": ["2.10.0"], "old": "old text", "new": "new text", "ref": "https://x/pr/10"}
    ]
    text = diff.render_text(report)
    assert "recorded change LEAF-001/message (changed in torch 2.10.0, https://x/pr/10):" in text
    # 2.10.0 -> 2.15.0 is after the change: nothing to list (as strings, "2.10.0" < "2.15.0" < "2.9.1" would say otherwise).
    assert diff.compare(sides["2.10.0"], sides["2.15.0"], registry)["changed_claims"] == []


def test_a_long_value_is_shown_around_its_first_difference(write_results):
    prefix = "element 0 of tensors does not require grad and does not have a grad_fn; " * 20
    old, new = make_results("2.0.1"), make_results("2.15.0")
    old["tests"][0]["observations"][0].update(observed=prefix + "see the docs for more informations.")
    new["tests"][0]["observations"][0].update(observed=prefix + "see the docs for more information.")
    a, b = write_results("a.json", old), write_results("b.json", new)
    proc = spec("diff", a, b)
    assert proc.returncode == 0, proc.stderr
    old_line = next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith("old:"))
    new_line = next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith("new:"))
    assert old_line.rstrip().endswith("for more informations.") and "for more information." in new_line
    assert old_line.strip().startswith("old: …") and len(old_line) < 300  # cut before, around the difference
    assert "first difference at character" in new_line
    md = spec("diff", "--format", "markdown", a, b).stdout
    assert "informations." in md and "information.`" in md
    full = json.loads(spec("diff", "--format", "json", a, b).stdout)
    [value] = full["changed_claims"][0]["tests"][0]["values"]
    assert value["old"].endswith("informations.") and value["old"].startswith("element 0")  # JSON: the whole value


def test_around_never_cuts_before_the_difference():
    a, b = "x" * 1000 + "A" + "y" * 1000, "x" * 1000 + "B" + "y" * 1000
    sa, sb, i = diff.around(a, b, width=80)
    assert i == 1000 and "A" in sa and "B" in sb and len(sa) <= 82
    assert diff.around("same", "same") == ("same", "same", None)
    short = diff.around("ab", "ac")
    assert short == ("ab", "ac", 1)


def test_a_hazard_that_torch_fixed_is_a_fix_not_a_regression(write_results):
    old = make_results("2.14.1", tests=[make_row("HZ-001", kind="hazard", expected={"hazard": 2.0, "truth": 1.0, "present": True},
                                                 observed=2.0, hazard="present")])
    new = make_results("2.15.0", tests=[make_row(
        "HZ-001", "fixed", kind="hazard", observed=1.0, expected={"hazard": 2.0, "truth": 1.0, "present": True}, hazard="fixed",
        message="hazard fixed in torch 2.15.0: x is now 1.0, the true value", failure={"kind": "hazard-fixed", "check": "x"})])
    a, b = write_results("a.json", old), write_results("b.json", new)
    proc = spec("diff", a, b)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "HZ-001: pass -> fixed" in proc.stdout
    assert "FIX cpu eager: pass -> fixed" in proc.stdout and "REGRESSION" not in proc.stdout
    assert "FIXES: hazards whose wrong value is gone in NEW" in proc.stdout and "GATE: PASS" in proc.stdout
    report = json.loads(spec("diff", "--format", "json", a, b).stdout)
    assert report["fixes"] == ["HZ-001"] and report["regressions"] == []
    assert "**Fixes**" in spec("diff", "--format", "markdown", a, b).stdout


def test_statuses_per_mode(write_results):
    def doc(version, func_outcome):
        return make_results(version, tests=[make_row(), make_row(mode="func", outcome=func_outcome, message="func broke")])

    a, b = write_results("a.json", doc("2.14.1", "passed")), write_results("b.json", doc("2.15.0", "failed"))
    proc = spec("diff", a, b)
    assert proc.returncode == 1
    assert "per mode: eager: pass -> pass; func: pass -> fail" in proc.stdout
    assert "REGRESSION cpu func: pass -> fail" in proc.stdout
    md = spec("diff", "--format", "markdown", a, b).stdout
    assert "func: ✅ → ❌" in md and "**regression** cpu func" in md


def test_n_a_is_not_a_pass(write_results):
    """A feature that does not exist in OLD (n/a) and fails in NEW did not hold: listed, no regression."""
    old = make_results("2.0.1", tests=[make_row(outcome="n/a", reason="no materialize_grads in torch 2.0")])
    new = make_results("2.15.0", tests=[make_row(outcome="failed", message="boom")])
    proc = spec("diff", write_results("a.json", old), write_results("b.json", new))
    assert "LEAF-001: n/a -> fail" in proc.stdout and proc.returncode == 0


def test_a_claim_without_a_device_is_any_device(write_results):
    old = make_results("2.14.1", tests=[make_row(device=None)])
    new = make_results("2.15.0", tests=[make_row(device=None, outcome="failed", message="boom")])
    proc = spec("diff", write_results("a.json", old), write_results("b.json", new))
    assert proc.returncode == 1 and "REGRESSION any device eager: pass -> fail" in proc.stdout
    assert "cpu eager" not in proc.stdout


def test_an_old_string_outcome_and_its_structured_form_are_no_change(write_results):
    """Results written before outcomes were structured ("returned", "Type: message") and today's structured
    outcomes of the same calls: the diff reports nothing (the reader normalizes the old strings)."""
    name = "y.backward() a second time"
    message = "Trying to backward through the graph a second time (or directly access saved tensors ...)"

    def rows(returned, raised, expected_returned, expected_raised):
        return [make_row("COMP-005", name=name, observed=returned, expected=expected_returned,
                         nodeid="spec/suite/test_modes_compile.py::test_saved_nothing[cpu-float64-eager]"),
                make_row("COMP-005", name=name, mode="aot_eager", observed=raised, expected=expected_raised,
                         nodeid="spec/suite/test_modes_compile.py::test_saved_nothing[cpu-float64-aot_eager]")]

    old = rows("returned", f"RuntimeError: {message}", "returned", {"matches": "(?s)Trying to backward"})
    new = rows({"outcome": "returned"}, {"outcome": "raised", "type": "RuntimeError", "message": message},
               {"outcome": "returned"}, {"outcome": "raised", "matches": "(?s)Trying to backward"})
    a = diff.load_side(str(write_results("old.json", make_results("2.13.0", tests=old))), "OLD")
    b = diff.load_side(str(write_results("new.json", make_results("2.14.1", tests=new))), "NEW")
    assert diff.compare(a, b, {})["changed_claims"] == []
    # a real change of outcome is still one, shown as the text it was
    changed = rows("returned", {"outcome": "returned"}, "returned", {"outcome": "raised", "matches": "x"})
    c = diff.load_side(str(write_results("changed.json", make_results("2.15.0", tests=changed))), "NEW")
    [entry] = diff.compare(a, c, {})["changed_claims"]
    [test] = entry["tests"]
    assert test["values"][0]["old"] == {"outcome": "raised", "type": "RuntimeError", "message": message}
    assert f"old: RuntimeError: {message}" in diff.render_text(diff.compare(a, c, {}))
