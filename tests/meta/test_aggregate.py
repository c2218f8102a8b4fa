"""The one results model (schema v2, version 1 upgraded on load) and the one aggregation of it."""

from __future__ import annotations

import json

import pytest

from spec import aggregate as agg_mod
from spec import claims as claims_module
from spec.aggregate import ANY_DEVICE, STATUSES, Aggregate, first_line, runs_of, status_of, version_key
from spec.claims import Claim
from spec.results import ResultsError, load, load_many
from spec.versions import Versioned
from tests.meta.conftest import make_results, make_row


def demo_claim(cid: str = "LEAF-001", kind: str = "rule", changes=()) -> Claim:
    test = claims_module.TestRef("spec/suite/test_demo.py", "test_demo", 3, "def test_demo(check):\n    pass")
    return Claim(cid, f"Demo claim {cid}.", "Leaf tensors", kind=kind, ref="https://x/issue/1" if kind == "hazard" else None,
                 tests=[test], changes=list(changes))


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ([], "not run"),
        (["passed", "passed"], "pass"),
        (["passed", "failed"], "fail"),
        (["xpassed"], "fail"),
        (["passed", "fixed"], "fixed"),
        (["fixed", "error"], "fail"),
        (["n/a", "n/a"], "n/a"),
        (["n/a", "skipped"], "n/a"),
        (["skipped"], "skip"),
        (["passed", "n/a"], "pass"),
        (["xfailed"], "pass"),
    ],
)
def test_status_of(outcomes, status):
    assert status_of(outcomes) == status


def test_every_status_has_one_word_label_and_symbols():
    assert list(STATUSES) == ["pass", "fail", "fixed", "n/a", "skip", "not run"]
    assert len({s.mark for s in STATUSES.values()}) == len(STATUSES)
    assert len({s.sym for s in STATUSES.values()}) == len(STATUSES)
    from spec import book, diff, matrix, report

    for module in (book, matrix, report, diff):  # renderers use the one definition
        assert module.STATUSES is STATUSES


def test_the_outcome_vocabulary_is_defined_once():
    """Outcome names, their groups and the status order live in spec.outcomes; every other module imports them
    (no collection literal elsewhere spells two outcomes or statuses), and the schema's enum lists the same."""
    import ast
    from pathlib import Path

    from spec import aggregate, book, diff, matrix, outcomes, plugin, report, results
    from tests.meta import proof

    root = Path(outcomes.__file__).resolve().parents[1]
    names = set(outcomes.OUTCOMES) | set(outcomes.STATUSES)
    files = [p for p in sorted((root / "spec").rglob("*.py")) if p.name != "outcomes.py"] + [root / "tests/meta/proof.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                words = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)} & names
                assert len(words) < 2, f"{path.relative_to(root)}:{node.lineno} spells {sorted(words)}: use spec.outcomes"
    assert not hasattr(aggregate, "SEVERITY") and not hasattr(results, "claim_outcome")
    for module in (aggregate, diff, book, matrix, report):
        assert getattr(module, "STATUSES", outcomes.STATUSES) is outcomes.STATUSES
    assert proof.VERIFIED is outcomes.VERIFIED and proof.NOT_HELD is outcomes.NOT_HELD
    assert plugin.UNVERIFIED is results.UNVERIFIED is outcomes.UNVERIFIED
    schema = json.loads(results.SCHEMA_FILE.read_text(encoding="utf-8"))
    assert set(schema["$defs"]["row"]["properties"]["outcome"]["enum"]) == set(outcomes.OUTCOMES)
    groups = (outcomes.HELD, outcomes.BROKEN, outcomes.FIXED, outcomes.NOT_APPLICABLE, outcomes.SKIPPED)
    assert sorted(o for g in groups for o in g) == sorted(outcomes.OUTCOMES)  # every outcome in exactly one group
    assert [s.key for s in outcomes.BY_SEVERITY] == ["fail", "fixed", "pass", "n/a", "skip", "not run"]


def test_first_line_and_version_order():
    assert first_line("\n  boom \nmore") == "boom" and first_line(None) == ""
    assert sorted(["2.9.1", "2.10.0", "2.1.2", "nightly"], key=version_key) == ["2.1.2", "2.9.1", "2.10.0", "nightly"]


def test_a_cell_with_n_a_is_never_a_pass():
    na = agg_mod.make_cell([agg_mod.Row.from_json(make_row(outcome="n/a", reason="no materialize_grads in torch 2.0"))])
    assert na.status == "n/a" and na.text == "n/a" and "no materialize_grads in torch 2.0" in na.detail
    mixed = agg_mod.make_cell([agg_mod.Row.from_json(make_row()), agg_mod.Row.from_json(make_row(outcome="n/a"))])
    assert mixed.status == "pass" and mixed.text == "pass 1/1, 1 n/a"


# --------------------------------------------------------------------------- runs and cells


def test_runs_are_ordered_as_versions_and_keyed_by_release(write_results):
    docs = [load(write_results(f"{v}.json", make_results(v))) for v in ("2.10.0", "2.9.1", "2.1.2")]
    py312 = make_results("2.9.1", python="3.12.3")
    docs.append(load(write_results("2.9.1-py312.json", py312)))
    assert [r.key for r in runs_of(docs)] == ["2.1.2", "2.9.1/py3.11", "2.9.1/py3.12", "2.10.0"]


def test_two_files_of_the_same_run_are_an_error(write_results):
    docs = [load(write_results(f"{n}/r.json", make_results())) for n in ("a", "b")]
    with pytest.raises(ResultsError, match="two results files describe the same run"):
        runs_of(docs)


def test_a_claim_without_a_device_is_any_device_not_copied(write_results):
    doc = make_results(tests=[make_row(device=None), make_row("LEAF-002")])
    agg = Aggregate(runs_of([load(write_results("r.json", doc))]), {c: demo_claim(c) for c in ("LEAF-001", "LEAF-002")})
    assert agg.devices_of("LEAF-001") == [ANY_DEVICE] and agg.devices_of("LEAF-002") == ["cpu"]
    run = agg.runs[0]
    assert agg.cell("LEAF-001", run, ANY_DEVICE, "eager").status == "pass"
    assert agg.cell("LEAF-001", run, "cpu", "eager").status == "not run"


def test_an_absent_device_is_not_run_with_its_reason(write_results):
    agg = Aggregate(runs_of([load(write_results("r.json", make_results()))]), {"LEAF-001": demo_claim()})
    cell = agg.cell("LEAF-001", agg.runs[0], "cuda", "eager")
    assert cell.status == "not run" and cell.detail == "cuda absent" and not cell.rows


def test_changes_come_from_the_registry(write_results):
    change = Versioned("LEAF-001/message", {"<2.10": "old", ">=2.10": "new"}, "https://x/pr/10")
    registry = {"LEAF-001": demo_claim(changes=[change])}
    docs = [load(write_results(f"{v}.json", make_results(v))) for v in ("2.9.1", "2.10.0", "2.11.0")]
    agg = Aggregate(runs_of(docs), registry)
    [ch] = agg.changes["LEAF-001"]
    assert ch.changed_in == ["2.10.0"] and ch.between == ["2.9.1 and 2.10.0"]
    assert ch.changed_between("2.9.1", "2.10.0") and not ch.changed_between("2.10.0", "2.11.0")
    assert [agg.cell("LEAF-001", r, "cpu", "eager").changed for r in agg.runs] == [[], ["message"], []]


def test_an_invalid_gate_is_reported_not_hidden():
    bad = Versioned("LEAF-001/x", {"<2.4": 1, ">=2.5": 2}, "r")
    [ch] = Aggregate([], {"LEAF-001": demo_claim(changes=[bad])}).changes["LEAF-001"]
    assert ch.changed_in == [] and ch.error.startswith("invalid version gate: LEAF-001/x: torch 2.4.1 matches 0 branches")


def test_mutants_file(tmp_path):
    assert agg_mod.load_mutants(tmp_path / "none.json") is None
    path = tmp_path / "mutants.json"
    path.write_text(json.dumps({"mutants": [{"name": "b", "doc": "Second.\nMore.", "kills": ["LEAF-001"]},
                                            {"name": "a", "doc": "First.", "kills": ["LEAF-001", "LEAF-002"],
                                             "module": "tests/meta/mutants/leaf_tensors.py"}]}))
    a = {"name": "a", "doc": "First.", "module": "tests/meta/mutants/leaf_tensors.py"}
    assert agg_mod.load_mutants(path) == {
        "LEAF-001": [a, {"name": "b", "doc": "Second.", "module": ""}],  # an index written before modules were recorded
        "LEAF-002": [a],
    }
    path.write_text('{"nope": 1}')
    with pytest.raises(ResultsError, match="not a mutants file"):
        agg_mod.load_mutants(path)


# --------------------------------------------------------------------------- the schema


def v1_doc() -> dict:
    rows = [
        {"nodeid": "t.py::test_a[cpu]", "claim": "LEAF-001", "params": {"device": "cpu"}, "outcome": "passed",
         "observations": [], "expectations": []},
        {"nodeid": "t.py::test_a[cuda]", "claim": "LEAF-001", "params": {"device": "cuda"}, "outcome": "skipped",
         "reason": "cuda absent", "observations": [], "expectations": []},
    ]
    return {"schema": "autograd-spec/results", "schema_version": 1,
            "torch": {"version": "2.0.1+cpu", "release": "2.0.1"}, "python": "3.11.7", "platform": "Linux",
            "devices": {"cpu": {"present": True, "detail": "x"}, "cuda": {"present": False, "detail": "cuda absent"}},
            "selection": {"devices": None, "dtypes": None, "claims": None},
            "claims": {"LEAF-001": {"statement": "s", "section": "Leaf tensors"}}, "tests": rows}


def test_a_version_1_file_is_upgraded_on_load(write_results):
    doc = load(write_results("v1.json", v1_doc()))
    assert doc["schema_version"] == 2 and doc["_upgraded_from"] == 1
    [row] = doc["tests"]  # the absent device's row is gone: its absence is in the header
    assert row["params"] == {"device": "cpu", "mode": "eager"} and row["failure"] is None and row["kind"] == "rule"
    assert doc["modes"] == {"eager": {"available": True, "detail": "schema v1: every test ran eagerly"}}
    assert doc["selection"]["partial"] is False and doc["claims"]["LEAF-001"]["kind"] == "rule"


def test_the_committed_version_1_results_have_no_rows_of_absent_devices():
    from spec.claims import project_root

    folder = project_root() / "docs" / "matrix" / "results"
    files = sorted(folder.glob("*.json"))
    if not files:
        pytest.skip("no committed results")
    doc = load_many([files[0]])[0]
    absent = {n for n, i in doc["devices"].items() if not i["present"]}
    assert absent and not [r for r in doc["tests"] if r["params"].get("device") in absent]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tests"][0]["params"].pop("mode"), "at tests[0].params: 'mode' is a required property"),
        (lambda d: d["tests"][0].update(outcome="maybe"), "at tests[0].outcome: 'maybe' is not one of"),
        (lambda d: d["tests"][0].update(kind="wish"), "at tests[0].kind: 'wish' is not one of"),
        (lambda d: d.pop("modes"), "at the document: 'modes' is a required property"),
        (lambda d: d["tests"][0]["params"].update(device="cuda"), "runs on cuda, which the header says is absent"),
        (lambda d: d["tests"][0].update(outcome="n/a"), "is n/a without a reason"),
        (lambda d: d["torch"].update(release="2.x"), "at torch.release: '2.x' does not match"),
    ],
)
def test_an_invalid_v2_file_is_one_line(write_results, change, message):
    doc = make_results()
    change(doc)
    with pytest.raises(ResultsError) as info:
        load(write_results("bad.json", doc))
    text = str(info.value)
    assert "\n" not in text and message in text, text
    assert text.startswith(str(write_results("bad.json", doc)) + ": ")


def test_what_the_plugin_writes_is_valid():
    """results.build (what --results writes) produces a document the schema accepts."""
    from spec import results
    from spec.devices import DeviceInfo
    from spec.modes import ModeInfo

    rows = [make_row(), make_row(outcome="n/a", reason="absent feature"),
            make_row(outcome="fixed", message="hazard fixed", failure={"kind": "hazard-fixed", "check": "x"}),
            make_row(outcome="failed", message="boom", failure={"kind": "exception", "type": "ValueError", "when": "call"})]
    doc = results.build(
        rows=rows, registry={"LEAF-001": demo_claim()},
        devices={"cpu": DeviceInfo("cpu", True, "x86_64"), "cuda": DeviceInfo("cuda", False, "cuda absent")},
        selection={"devices": None, "dtypes": None, "modes": None, "claims": None, "partial": False, "args": []},
        exitstatus=1, wall=1.0, modes={"eager": ModeInfo("eager", True, "plain PyTorch")}, import_warnings=[],
    )
    assert results.validate(json.loads(json.dumps(doc)), "built") is not None


def test_rows_are_validated_by_their_skeletons_without_losing_an_error(write_results):
    """The schema check of many rows goes through their distinct skeletons: same verdicts, same places."""
    from spec import results

    doc = make_results(tests=[make_row(name=f"check {i}", observed=[i] * i) for i in range(50)])
    checked, first = results._skeleton_rows(doc)
    assert len(checked["tests"]) == 1 and first == [0]
    doc["tests"][37]["duration"] = "slow"
    doc["tests"][41]["observations"][0]["ok"] = "yes"
    with pytest.raises(ResultsError, match=r"at tests\[37\]\.duration: 'slow' is not of type 'number'"):
        load(write_results("bad.json", doc))
    doc["tests"][37]["duration"] = 1.5
    with pytest.raises(ResultsError, match=r"at tests\[41\]\.observations\[0\]\.ok: 'yes' is not of type 'boolean'"):
        load(write_results("bad2.json", doc))


# --------------------------------------------------------------------------- call outcomes


DOUBLE_BACKWARD = "torch.compile with aot_autograd does not currently support double backward"


def recorded_by_check_call(fn, expected):
    """The observation Check.call records today for ``fn`` (the reference the old strings must read as)."""
    from spec.check import Check, ClaimCheckFailed

    check = Check(["COMP-009"], {"device": "cpu"})
    try:
        check.call("d2y/dx2", fn, expected)
    except ClaimCheckFailed:
        pass
    [ob] = check.observations
    return ob


def test_old_string_outcomes_read_as_the_structured_ones(write_results):
    """Results written before outcomes were structured ("returned", "Type: message") read as what Check.call
    records today for the same call; other string observations stay strings, and the book shows both as before."""
    from spec.check import Outcome

    def boom():
        raise RuntimeError(DOUBLE_BACKWARD)

    old_raised = make_row("COMP-009", name="d2y/dx2", mode="aot_eager", observed=f"RuntimeError: {DOUBLE_BACKWARD}",
                          expected={"matches": r"^RuntimeError: torch\.compile"})
    old_returned = make_row("COMP-009", name="d2y/dx2", observed="returned", expected="returned",
                            nodeid="t.py::test_comp_009[cpu-float64-eager]")
    old_regex_returned = make_row("COMP-015", name="torch.func.grad_and_value(loss) compiled with fullgraph=True",
                                  mode="aot_eager", observed="returned", expected={"matches": "returned"})
    other = make_row("CPLX-003", name="f.backward() without a seed", observed="returned", expected={"matches": "^returned$"})
    doc = load(write_results("old.json", make_results("2.13.0", tests=[old_raised, old_returned, old_regex_returned, other])))
    rows = {r["nodeid"]: r["observations"][0] for r in doc["tests"]}
    raised, returned = rows[old_raised["nodeid"]], rows[old_returned["nodeid"]]
    new_raised = recorded_by_check_call(boom, Outcome.raised(r"^RuntimeError: torch\.compile"))
    assert raised["observed"] == new_raised["observed"] == {"outcome": "raised", "type": "RuntimeError", "message": DOUBLE_BACKWARD}
    assert raised["expected"] == new_raised["expected"] == {"outcome": "raised", "matches": r"^RuntimeError: torch\.compile"}
    new_returned = recorded_by_check_call(lambda: 18.0, Outcome.returned(18.0))
    assert returned["observed"] == new_returned["observed"] == {"outcome": "returned"}
    assert returned["expected"] == new_returned["expected"] == {"outcome": "returned"}
    assert rows[old_regex_returned["nodeid"]]["expected"] == {"outcome": "returned"}  # "returned" was a pattern
    assert rows[other["nodeid"]]["observed"] == "returned"  # not a call outcome of the table: as recorded
    # shown as the strings were
    assert agg_mod.format_value(raised["observed"]) == f"RuntimeError: {DOUBLE_BACKWARD}"
    assert agg_mod.format_value(raised["expected"], expected=True) == r"text matching ^RuntimeError: torch\.compile"
    assert agg_mod.format_value(returned["observed"]) == agg_mod.format_value(returned["expected"], expected=True) == "returned"
    assert agg_mod.as_text(raised["observed"]) == f"RuntimeError: {DOUBLE_BACKWARD}"


def test_the_committed_results_hold_no_string_outcome_after_loading():
    from pathlib import Path

    from spec.results import STRING_OUTCOMES, is_call_outcome

    folder = Path(__file__).resolve().parents[2] / "docs" / "matrix" / "results"
    if not sorted(folder.glob("*.json")):
        pytest.skip("docs/matrix/results is not committed")
    seen = 0
    for doc in load_many([folder]):
        for row in doc["tests"]:
            for ob in row["observations"]:
                if (row["claim"], ob["name"]) in STRING_OUTCOMES and not isinstance(ob["observed"], dict | list):
                    pytest.fail(f"{doc['_path']}: {row['nodeid']}: {ob['name']} is still {ob['observed']!r}")
                if (row["claim"], ob["name"]) in STRING_OUTCOMES and is_call_outcome(ob["observed"]):
                    seen += 1
                    assert is_call_outcome(ob["expected"]), (row["nodeid"], ob)
    assert seen > 100
