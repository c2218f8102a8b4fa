"""Tests of the framework's helpers: versions, devices, dtypes, the registry and the check helpers."""

from __future__ import annotations

import re

import pytest

from spec import by_version
from spec.check import Check, ClaimCheckFailed
from spec.claims import ClaimError, build_registry, registry, resolve_ids
from spec.devices import DeviceError, DeviceInfo, parse_selection, require_present
from spec.precision import DtypeError
from spec.precision import parse_selection as parse_dtypes
from spec.versions import RECORDED_VERSIONS, VersionGateError, build_tag, is_recorded, release


class TestVersions:
    def test_release_strips_local_and_dev_parts(self):
        assert str(release("2.15.0+cu128")) == "2.15.0"
        assert str(release("2.16.0.dev20261101+cpu")) == "2.16.0"
        assert build_tag("2.13.0+cpu") == "cpu" and build_tag("2.15.0") == ""

    def test_recorded_versions(self):
        assert is_recorded("2.15.0+cu128") and is_recorded("2.0.1")
        assert not is_recorded("2.16.0.dev20261101") and not is_recorded("2.14.0")
        assert RECORDED_VERSIONS[0] == "2.0.1" and RECORDED_VERSIONS[-1] == "2.15.0" and len(RECORDED_VERSIONS) == 16

    def test_by_version_picks_the_branch_and_names_the_change(self):
        v = by_version("DEMO-001/message", {"<2.4": "old", ">=2.4": "new"}, ref="https://example.org/pr/1")
        assert v.for_version("2.3.1") == "old" and v.for_version("2.4.1+cpu") == "new"
        assert v.for_version("2.16.0.dev20261101") == "new"  # unrecorded: newest expectations
        assert v.changed_in == ["2.4.1"]
        assert v.describe("2.0.1")["branch"] == "<2.4"

    def test_by_version_rejects_gaps_and_overlaps(self):
        with pytest.raises(VersionGateError, match="matches 0 branches"):
            by_version("DEMO-001/x", {"<2.4": 1, ">=2.5": 2}, ref="r")
        with pytest.raises(VersionGateError, match="matches 2 branches"):
            by_version("DEMO-001/x", {"<2.5": 1, ">=2.4": 2}, ref="r")
        with pytest.raises(ValueError, match="CLAIM-ID/observable"):
            by_version("nokey", {">=2.0": 1}, ref="r")


class TestSelections:
    def test_devices(self):
        assert parse_selection(None) is None
        assert parse_selection("cuda, cpu,cuda") == ["cuda", "cpu"]
        with pytest.raises(DeviceError, match="unknown device 'tpu'"):
            parse_selection("cpu,tpu")
        infos = {"cpu": DeviceInfo("cpu", True, "x"), "cuda": DeviceInfo("cuda", False, "cuda absent: no GPU")}
        require_present(["cpu"], infos)
        with pytest.raises(DeviceError, match="--device cuda was asked for, but cuda absent: no GPU"):
            require_present(["cpu", "cuda"], infos)

    def test_dtypes(self):
        assert parse_dtypes("float64,bfloat16") == ["float64", "bfloat16"]
        with pytest.raises(DtypeError, match="unknown dtype 'float8'"):
            parse_dtypes("float8")

    def test_claim_ids_name_the_nearest(self):
        known = list(registry())
        assert resolve_ids(["leaf-001", "AG-002"], known) == ["LEAF-001", "AG-002"]
        with pytest.raises(ClaimError, match=r"unknown claim ID 'LEAF-01'; nearest: .*LEAF-001"):
            resolve_ids(["LEAF-01"], known)


class TestRegistry:
    def test_every_part1_claim_is_registered(self):
        ids = set(registry())
        part1 = {"LEAF-001", "LEAF-002", "LEAF-003", "LEAF-004", "LEAF-005", "INHERIT-001", "RET-001", "RET-002",
                 "RET-003", "GRAD-001", "BWD-001", "BWD-002", "BWD-003", "CG-001", "CG-002", "CG-003", "CG-004",
                 "AG-001", "AG-002", "AG-003", "AG-004", "AG-005"}
        assert part1 <= ids
        assert all(c.part == "Part 1" for c in registry().values() if c.id in part1)

    def test_statements_are_single_sentences_with_tests(self):
        for c in registry().values():
            assert c.statement.endswith("."), c.id
            assert c.tests, c.id
            unquoted = re.sub(r"'[^']*'|`[^`]*`|\"[^\"]*\"", "''", c.statement)
            assert not re.search(r"[.!?] +[A-Z]", unquoted), f"{c.id}: one sentence, please"

    def test_the_registry_holds_every_recorded_change_with_its_note(self):
        """One concept: the registry reads every by_version(...) beside the claims, note included, as the Versioned
        that by_version returns; the aggregation uses those objects (no second class, no second reading)."""
        from spec import aggregate, claims
        from spec.claims import recorded_change
        from spec.versions import Versioned

        changes = [ch for c in registry().values() for ch in c.changes]
        assert changes and all(type(ch) is Versioned and ch.error is None for ch in changes)
        sources = [p.read_text(encoding="utf-8") for p in sorted(claims.claims_dir().rglob("test_*.py"))]
        assert len(changes) == sum(len(re.findall(r"\bby_version\(", text)) for text in sources)
        noted = [ch for ch in changes if ch.note]
        assert len(noted) == sum(len(re.findall(r"^\s+note=", text, re.M)) for text in sources) >= 28
        comp013 = recorded_change("COMP-013/torch._dynamo.config.trace_autograd_ops exists")
        assert comp013.note.startswith("confirmed by observation") and comp013.changed_in == ["2.11.0"]
        assert registry()["COMP-013"].as_json()["changes"][0]["note"] == comp013.note
        assert aggregate.Aggregate([], registry()).changes["COMP-013"][0] is comp013
        assert not hasattr(claims, "Change") and not hasattr(aggregate, "Change")
        with pytest.raises(ClaimError, match="no recorded behaviour change"):
            recorded_change("COMP-013/nothing")

    def test_declaration_errors(self, tmp_path):
        (tmp_path / "test_x.py").write_text(
            "from spec import claim\n"
            "@claim('AAA-001', 'One.', section='Leaf tensors')\ndef test_a(): pass\n"
            "@claim('AAA-001', 'Two.', section='Leaf tensors')\ndef test_b(): pass\n"
            "@claim('BBB-001')\ndef test_c(): pass\n"
        )
        with pytest.raises(ClaimError) as info:
            build_registry(tmp_path)
        assert "AAA-001 is stated twice" in str(info.value)
        assert "names BBB-001, which no test states" in str(info.value)

    def test_bad_ids_and_sections(self):
        from spec import claim

        with pytest.raises(ClaimError, match="must look like"):
            claim("leaf1")
        with pytest.raises(ClaimError, match="unknown section"):
            claim("ZZZ-001", "X.", section="Nowhere")


class TestCheck:
    def make(self):
        props: list = []
        return Check(["DEMO-001"], {"device": "cpu"}, props), props

    def test_equal_is_type_strict_and_explains_itself(self):
        check, props = self.make()
        check.equal("flag", True, True)
        with pytest.raises(ClaimCheckFailed, match=r"(?s)flag: expected True, observed 1.*DEMO-001; torch .*device=cpu"):
            check.equal("flag", 1, True)
        assert props and props[0][0] == "spec.observations"

    def test_tensor_exact_and_close(self):
        import torch

        check, _ = self.make()
        check.tensor("x", torch.tensor([6.0]), 6.0)
        with pytest.raises(ClaimCheckFailed, match="exactly"):
            check.tensor("x", torch.tensor([6.0 + 1e-6], dtype=torch.float64), 6.0)
        check.close("y", torch.tensor([6.0 + 1e-7]), 6.0)
        with pytest.raises(ClaimCheckFailed, match="dtype"):
            check.tensor("x", torch.tensor([6.0]), 6.0, dtype=torch.float64)
        with pytest.raises(ClaimCheckFailed, match="expected a tensor"):
            check.tensor("x", None, 6.0)

    def test_raises_and_warns(self):
        import warnings

        check, _ = self.make()
        with check.raises("e", RuntimeError, "boom"):
            raise RuntimeError("a boom here")
        with pytest.raises(ClaimCheckFailed, match="nothing was raised"):
            with check.raises("e", RuntimeError, "boom"):
                pass
        with pytest.raises(ClaimCheckFailed, match="observed ValueError"):
            with check.raises("e", RuntimeError, "boom"):
                raise ValueError("boom")
        with check.warns("w", UserWarning, "careful", count=2):
            warnings.warn("careful 1", UserWarning, stacklevel=2)
            warnings.warn("careful 2", UserWarning, stacklevel=2)
        with pytest.raises(ClaimCheckFailed, match="expected 1 UserWarning"):
            with check.warns("w", UserWarning, "careful"):
                pass
        with pytest.raises(ClaimCheckFailed, match="expected no UserWarning"):
            with check.no_warning("w", UserWarning):
                warnings.warn("oops", UserWarning, stacklevel=2)

    def test_a_failed_check_shows_one_traceback(self):
        """A check that fails while an exception is handled (a call that raised, a ``raises`` block that caught
        the wrong exception) raises ClaimCheckFailed without chaining: pytest shows one traceback, not two."""
        import traceback

        check, _ = self.make()

        def boom():
            raise ValueError("boom")

        failures = []
        with pytest.raises(ClaimCheckFailed) as info:
            check.works("f()", boom)
        failures.append(info.value)
        with pytest.raises(ClaimCheckFailed) as info:
            with check.raises("e", RuntimeError, "boom"):
                boom()
        failures.append(info.value)
        for exc in failures:
            assert exc.__cause__ is None and exc.__suppress_context__
            text = "".join(traceback.format_exception(exc))
            assert "During handling of the above exception" not in text and text.count("Traceback") == 1

    def test_call_records_a_structured_outcome(self):
        """check.call: what a call did, as {"outcome": ...}, checked against an Outcome (or a by_version of one)."""
        from spec.check import Outcome

        check, _ = self.make()
        assert check.call("f()", lambda: 18, Outcome.returned(18)) == 18
        assert check.call("g()", lambda: 1 / 0, Outcome.raised(r"^ZeroDivisionError: division")) is None
        gate = by_version("DEMO-001/g()", {"<2.0": {"outcome": "returned"}, ">=2.0": {"outcome": "raised", "matches": "zero"}},
                          ref="https://example.org/1")
        check.call("g() again", lambda: 1 / 0, gate)
        assert [ob["observed"] for ob in check.observations] == [
            {"outcome": "returned"},
            {"outcome": "raised", "type": "ZeroDivisionError", "message": "division by zero"},
            {"outcome": "raised", "type": "ZeroDivisionError", "message": "division by zero"},
        ]
        assert [ob["expected"] for ob in check.observations] == [
            {"outcome": "returned"},
            {"outcome": "raised", "matches": r"^ZeroDivisionError: division"},
            {"outcome": "raised", "matches": "zero"},
        ]
        assert check.expectations[0]["key"] == "DEMO-001/g()"
        with pytest.raises(ClaimCheckFailed, match="h: expected the call to return, observed ZeroDivisionError: division"):
            check.call("h", lambda: 1 / 0, Outcome.returned())
        with pytest.raises(ClaimCheckFailed, match="k: expected an exception matching 'zero', observed returned"):
            check.call("k", lambda: 1, {"outcome": "raised", "matches": "zero"})
        with pytest.raises(ClaimCheckFailed, match=r"expected an exception matching '\^ValueError'"):
            check.call("m", lambda: 1 / 0, Outcome.raised("^ValueError"))
        assert [ob["ok"] for ob in check.observations] == [True, True, True, False, False, False]
        with pytest.raises(TypeError, match="not an outcome"):
            check.call("n", lambda: 1, "returned")  # the strings are gone: an outcome is structured

    def test_versioned_expectation_is_recorded(self):
        check, _ = self.make()
        v = by_version("DEMO-001/message", {"<2.0": "never", ">=2.0": "boom"}, ref="https://example.org/1")
        with check.raises("e", RuntimeError, v):
            raise RuntimeError("boom")
        assert check.expectations[0]["key"] == "DEMO-001/message"
        assert check.expectations[0]["branch"] == ">=2.0"


class TestClaimReport:
    """The report at the end of a run renders the one aggregation's statuses (n/a and fixed included)."""

    def rows(self):
        from tests.meta.conftest import make_row

        return [
            make_row("LEAF-001"),
            make_row("LEAF-002", "n/a", reason="no such feature before torch 2.1"),
            make_row("LEAF-003", "fixed", message="hazard fixed in torch 2.15.0: x is now 1.0\n  [context]"),
            make_row("LEAF-004", "failed", message="\n a.is_leaf: expected True, observed False\n  [context]"),
            make_row("LEAF-005", "skipped", reason="needs numpy"),
        ]

    def test_statuses_words_and_first_lines(self):
        from spec.report import claim_report_lines

        lines = claim_report_lines(self.rows(), registry())
        text = "\n".join(lines)
        assert "PASS LEAF-001 " in text and "N/A LEAF-002 " in text and "FIXED LEAF-003" in text
        assert "FAIL LEAF-004 " in text and "SKIP LEAF-005 " in text
        assert "n/a: no such feature before torch 2.1" in text
        assert ": a.is_leaf: expected True, observed False" in text and "[context]" not in text
        assert ": hazard fixed in torch 2.15.0: x is now 1.0" in text
        assert lines[-1] == "claims: 1 hold, 1 fail, 1 hazard(s) fixed, 1 n/a everywhere, 1 skipped everywhere (5 claims, 5 tests)"

    def test_the_report_renders_the_runs_aggregate(self):
        """The report's statuses and counts are those of the Aggregate of the run (the one status definition)."""
        from spec.aggregate import STATUSES, status_of
        from spec.report import claim_report_lines, run_aggregate

        rows = self.rows()
        agg = run_aggregate(rows, registry())
        lines = claim_report_lines(rows, registry())
        for row in rows:
            status = agg.status(row["claim"])
            assert status == status_of([row["outcome"]])
            assert any(line.startswith(f"{STATUSES[status].word} {row['claim']} ") for line in lines)
        assert agg.status("LEAF-002") == "n/a"  # never "pass"
        assert agg.counts(agg.rows_of) == {"pass": 1, "fail": 1, "fixed": 1, "n/a": 1, "skip": 1, "not run": 0}


def test_mode_all_is_recognised_however_it_is_spaced():
    """The plugin skips unavailable modes for ``--mode all`` and refuses them when named; both read one parser."""
    from spec import modes

    for text in ("all", " all ", "all,", " all , "):
        assert modes.selects_all(text) and modes.parse_selection(text) == list(modes.MODE_NAMES)
    for text in (None, "eager", "all,eager"):
        assert not modes.selects_all(text)
