"""The pytest plugin behind the suite: options, parametrization, selection, results and the claim report.

It is loaded by the claims' own ``conftest.py`` (``spec/suite``), by the repository's root
``conftest.py``, or explicitly with ``pytest -p spec.plugin``; installing autograd-spec does not
register it, so a plain ``pytest`` in a user's repository never sees its options.

Exit codes of a claim run (documented in the README):
  0  every selected claim held
  1  a claim failed (a rule broke, a hazard came back or changed, or a test crashed)
  2  interrupted;  3  internal error;  4  usage or environment error (unknown or absent device,
     mode or dtype, unknown claim ID, unwritable --results, a partial run over a full run's results)
  5  nothing was verified: no test ran, or every selected test was skipped or n/a
  6  nothing failed except hazards that torch has fixed (welcome: update the hazard's record)

``--waivers FILE`` (see :mod:`spec.waivers`): a failure that a waiver covers counts as held for the
exit code (and is listed after the claim report); a waiver that has expired for this torch is exit 1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from spec import claims as claims_mod
from spec import devices as devices_mod
from spec import modes as modes_mod
from spec import precision as dtypes_mod
from spec import providers as providers_mod
from spec import results as results_mod
from spec import waivers as waivers_mod
from spec.aggregate import Tally
from spec.check import PROPERTY, Check, ClaimCheckFailed, HazardFixed, NotApplicable
from spec.outcomes import BROKEN, UNVERIFIED

STATE = pytest.StashKey[dict]()
CLAIM_PROP = "spec.claim"
PARAMS_PROP = "spec.params"
KIND_PROP = "spec.kind"
FAILURE_PROP = "spec.failure"
NA_PROP = "spec.na"

#: Exit codes beyond pytest's own (see the module docstring).
EXIT_NOTHING_VERIFIED = 5
EXIT_ONLY_HAZARDS_FIXED = 6


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograd-spec")
    group.addoption(
        "--device",
        default=None,
        help="comma-separated devices to run on (cpu, cuda, mps); default: every present device. "
        "An absent device is not run and has no rows: the header and the results name it with the reason. "
        "Asking for an absent device is a usage error (exit 4).",
    )
    group.addoption(
        "--dtype",
        default=None,
        help="comma-separated dtypes to run with (float32, float64, float16, bfloat16); default: each test's own set",
    )
    group.addoption(
        "--claim",
        action="append",
        default=None,
        help="run only these claim IDs (comma-separated, repeatable), e.g. --claim LEAF-001",
    )
    group.addoption(
        "--mode",
        default=None,
        help="comma-separated execution modes (eager, func, aot_eager, inductor) or 'all'; default: eager,func. "
        "Asking for a mode that is not available here is a usage error.",
    )
    group.addoption("--provider", default=None, metavar="NAME|MODULE:OBJECT", help=providers_mod.OPTION_HELP)
    group.addoption("--results", default=None, metavar="PATH", help="write the machine-readable results JSON to PATH")
    group.addoption(
        "--results-overwrite",
        action="store_true",
        default=False,
        help="let a partial run (--claim, -k, a node ID ...) overwrite a full run's results file",
    )
    group.addoption(
        "--waivers",
        default=None,
        metavar="FILE",
        help="a TOML file of waivers: failures that do not fail the run until a torch release (docs/waivers.md); "
        "an expired waiver fails the run",
    )
    group.addoption(
        "--no-claim-report", action="store_true", default=False, help="do not print the claim report at the end"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{claims_mod.CLAIM_MARKER}(id): the claim this test checks")
    config.addinivalue_line("markers", f"{claims_mod.DTYPES_MARKER}(*names): the dtypes this test runs with")
    config.addinivalue_line("markers", f"{claims_mod.MODES_MARKER}(*names): the execution modes this test runs in")
    import_warnings = _import_torch()
    try:
        selected_devices = devices_mod.parse_selection(config.getoption("--device"))
        selected_dtypes = dtypes_mod.parse_selection(config.getoption("--dtype"))
        selected_modes = modes_mod.parse_selection(config.getoption("--mode"))
        selected_providers = providers_mod.configure(config.getoption("--provider"))
        infos = devices_mod.probe_all()
        mode_infos = modes_mod.probe_all(selected_modes)
        if selected_devices is not None:
            devices_mod.require_present(selected_devices, infos)
        if selected_modes is not None and not modes_mod.selects_all(config.getoption("--mode")):
            # Modes named one by one must be available; "all" runs what is here and skips the rest with the reason.
            modes_mod.require_available(selected_modes, mode_infos)
        raw_claims = config.getoption("--claim")
        registry = claims_mod.registry()
        selected_claims = None
        if raw_claims:
            ids = [part for chunk in raw_claims for part in chunk.split(",")]
            selected_claims = claims_mod.resolve_ids(ids, registry)
        present = [n for n, i in infos.items() if i.present]
        partial = _is_partial(config, selected_claims, selected_devices, present, selected_dtypes, selected_modes)
        partial = partial or providers_mod.is_partial(selected_providers)
        results_path = config.getoption("--results")
        if results_path and not hasattr(config, "workerinput"):
            _check_results_path(Path(results_path), partial, config.getoption("--results-overwrite"))
        waivers_path = config.getoption("--waivers")
        waivers = waivers_mod.load(waivers_path, registry) if waivers_path and not hasattr(config, "workerinput") else None
    except (
        devices_mod.DeviceError,
        dtypes_mod.DtypeError,
        modes_mod.ModeError,
        claims_mod.ClaimError,
        results_mod.ResultsError,
        waivers_mod.WaiverError,
        providers_mod.ProviderError,
    ) as exc:
        raise pytest.UsageError(str(exc).replace("\n", " ")) from None
    config.stash[STATE] = {
        "devices": infos,
        "modes": mode_infos,
        "selected_devices": selected_devices,
        "selected_dtypes": selected_dtypes,
        "selected_modes": selected_modes,
        "selected_claims": selected_claims,
        "selected_providers": selected_providers,
        "partial": partial,
        "import_warnings": import_warnings,
        "registry": registry,
        "waivers": waivers,
        "reports": {},
        "collected_claim_items": 0,
        "started": time.time(),
    }
    config.pluginmanager.register(ResultsCollector(config), "spec-results")


def _import_torch() -> list[str]:
    """Import torch outside the run's warning filters; what it warned goes into the results header."""
    from spec.torch_import import IMPORT_WARNINGS, import_torch

    import_torch()
    return list(IMPORT_WARNINGS)


def _is_partial(config, claims, devices, present, dtypes, modes) -> bool:
    """Whether this run selects less than the whole suite: --claim, --dtype, -k, -m, a file or node ID, a
    --device that leaves out a present device, or a --mode that leaves out a default mode (--mode aot_eager
    runs no eager test)."""
    opt = config.option
    if claims is not None or dtypes is not None or getattr(opt, "keyword", "") or getattr(opt, "markexpr", ""):
        return True
    if devices is not None and not set(present) <= set(devices):
        return True
    if modes is not None and not set(modes_mod.DEFAULT_MODES) <= set(modes):
        return True
    if getattr(opt, "lf", False) or getattr(opt, "deselect", None):
        return True
    suite = claims_mod.claims_dir().resolve()
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        text = str(arg)
        if "::" in text:
            return True
        path = (base / text).resolve()
        if path != suite and path.is_relative_to(suite):
            return True  # a file or a folder inside the suite
    return False


def _check_results_path(path: Path, partial: bool, overwrite: bool) -> None:
    """Refuse, before the run, a results path that cannot be written or that holds a full run."""
    import tempfile

    if path.is_dir():
        raise results_mod.ResultsError(f"--results {path}: is a folder, expected a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".spec-write-test-"):
            pass
        if path.exists():
            with open(path, "a", encoding="utf-8"):
                pass
    except OSError as exc:
        raise results_mod.ResultsError(f"--results {path}: cannot be written ({exc.strerror or exc})") from None
    if partial and path.exists() and not overwrite:
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(previous, dict) and previous.get("schema") == results_mod.SCHEMA and not results_mod.is_partial(previous):
            raise results_mod.ResultsError(
                f"--results {path} holds a full run; this run is partial (--claim, -k, a node ID ...): "
                "write elsewhere, or pass --results-overwrite"
            )


def _state(config: pytest.Config) -> dict:
    return config.stash[STATE]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from spec.versions import is_recorded, torch_version

    state = _state(config)
    version = torch_version()
    note = "" if is_recorded(version) else " (unrecorded version: checked against the newest recorded expectations)"
    present = [n for n, i in state["devices"].items() if i.present]
    absent = [f"{n} ({i.detail})" for n, i in state["devices"].items() if not i.present]
    lines = [f"autograd-spec: torch {version}{note}", f"autograd-spec devices: {', '.join(present)}"]
    if absent:
        lines.append(f"autograd-spec absent devices (not run): {'; '.join(absent)}")
    modes = _run_modes(state)
    unavailable = [f"{n} ({i.detail})" for n, i in state["modes"].items() if not i.available and n in modes]
    lines.append(f"autograd-spec modes: {', '.join(m for m in modes if state['modes'][m].available)}")
    if unavailable:
        lines.append(f"autograd-spec unavailable modes (skipped): {'; '.join(unavailable)}")
    lines += providers_mod.header_lines(state["selected_providers"])
    for w in state["import_warnings"]:
        lines.append(f"autograd-spec: importing torch warned: {w}")
    return lines


def _run_modes(state: dict) -> list[str]:
    return list(state["selected_modes"] or modes_mod.DEFAULT_MODES)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = _state(metafunc.config)
    if "device" in metafunc.fixturenames:
        # Absent devices are recorded once, in the run's header, not as a skipped row per test.
        names = state["selected_devices"] or [n for n, i in state["devices"].items() if i.present]
        metafunc.parametrize("device", [pytest.param(name, id=name) for name in names])
    if "dtype" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker(claims_mod.DTYPES_MARKER)
        wanted = list(marker.args) if marker else list(dtypes_mod.DEFAULT_DTYPES)
        chosen = state["selected_dtypes"]
        names = [n for n in wanted if chosen is None or n in chosen]
        if names:
            params = [pytest.param(dtypes_mod.torch_dtype(n), id=n) for n in names]
        else:
            reason = f"this test runs with {', '.join(wanted)}; --dtype selected {', '.join(chosen)}"
            params = [pytest.param(None, id="no-dtype", marks=pytest.mark.skip(reason=reason))]
        metafunc.parametrize("dtype", params)
    if "mode" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker(claims_mod.MODES_MARKER)
        wanted = list(marker.args) if marker else ["eager"]
        run = _run_modes(state)
        params = []
        for name in wanted:
            if name not in run:
                continue  # not selected: deselected below, like a test of another claim
            info = state["modes"][name]
            marks = () if info.available else (pytest.mark.skip(reason=info.detail),)
            params.append(pytest.param(name, id=name, marks=marks))
        if not params:
            reason = f"this test runs in {', '.join(wanted)}; the run selected {', '.join(run)}"
            params = [pytest.param(None, id="no-mode", marks=pytest.mark.skip(reason=reason))]
        metafunc.parametrize("mode", params)
    if "provider" in metafunc.fixturenames:
        metafunc.parametrize("provider", providers_mod.params(state["selected_providers"]))


def claim_ids_of(item: pytest.Item) -> list[str]:
    return [m.args[0] for m in item.iter_markers(claims_mod.CLAIM_MARKER)]


def params_of(item: pytest.Item) -> dict[str, Any]:
    """A test's parameters as JSON values; every claim test has a mode (eager unless it has the mode axis)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return {"mode": "eager"}
    out = {}
    for key, value in callspec.params.items():
        if key == "dtype" and value is not None:
            out[key] = dtypes_mod.dtype_name(value)
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        else:
            out[key] = callspec.id if len(callspec.params) == 1 else repr(value)
    out.setdefault("mode", "eager")
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = _state(config)
    wanted = state["selected_claims"]
    registry = state["registry"]
    keep, drop = [], []
    for item in items:
        ids = claim_ids_of(item)
        if wanted is not None and not set(ids) & set(wanted):
            drop.append(item)
            continue
        callspec = getattr(item, "callspec", None)
        if ids and (callspec is None or "mode" not in callspec.params) and "eager" not in _run_modes(state):
            drop.append(item)  # a test without the mode axis runs eagerly only
            continue
        if ids and callspec is not None and "mode" in callspec.params and callspec.params["mode"] is None:
            # Every mode of this test is outside the run's --mode selection: not a skip, a deselection.
            if state["selected_modes"] is not None or "no-mode" in callspec.id:
                drop.append(item)
                continue
        keep.append(item)
        if ids:
            state["collected_claim_items"] += 1
            item.user_properties.append((CLAIM_PROP, ids[0] if len(ids) == 1 else ",".join(ids)))
            item.user_properties.append((PARAMS_PROP, json.dumps(params_of(item))))
            claim = registry.get(ids[0])
            item.user_properties.append((KIND_PROP, claim.kind if claim else "rule"))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    _prefetch_isolated(keep)


def _prefetch_isolated(items: list[pytest.Item]) -> None:
    """Start the fresh processes that selected tests will need (see spec.isolated.prefetch)."""
    from spec import isolated

    for item in items:
        make_code = getattr(getattr(item, "function", None), isolated.PREFETCH_ATTR, None)
        if make_code is not None:
            isolated.start(make_code(**params_of(item)))


def pytest_unconfigure(config: pytest.Config) -> None:
    from spec import isolated

    isolated.discard_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Classify how a test ended: n/a, a recorded check that failed, a fixed hazard, or a crash."""
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if excinfo is None or not any(k == CLAIM_PROP for k, _ in item.user_properties):
        return
    exc = excinfo.value
    if isinstance(exc, NotApplicable):
        report.user_properties.append((NA_PROP, str(exc.msg if hasattr(exc, "msg") else exc)))
    elif isinstance(exc, HazardFixed):
        report.user_properties.append((FAILURE_PROP, json.dumps({"kind": "hazard-fixed", "check": exc.observable})))
    elif isinstance(exc, ClaimCheckFailed):
        report.user_properties.append((FAILURE_PROP, json.dumps({"kind": "check", "check": exc.observable})))
    elif report.failed:
        report.user_properties.append(
            (FAILURE_PROP, json.dumps({"kind": "exception", "type": type(exc).__qualname__, "when": call.when}))
        )


@pytest.fixture
def check(request: pytest.FixtureRequest) -> Check:
    """Recording assertions: every observable lands in the results file."""
    item = request.node
    return Check(claim_ids_of(item), params_of(item), item.user_properties)


class ResultsCollector:
    """Gathers test reports (also those that xdist workers send) into result rows."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: dict[str, dict[str, Any]] = {}
        self.other_failures = 0  # failed reports of tests that check no claim (no waiver covers them)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if CLAIM_PROP not in props:
            self.other_failures += report.failed
            return
        row = self.rows.setdefault(
            report.nodeid,
            {
                "nodeid": report.nodeid,
                "claim": props[CLAIM_PROP],
                "kind": props.get(KIND_PROP, "rule"),
                "params": json.loads(props.get(PARAMS_PROP, "{}")),
                "outcome": None,
                "reason": None,
                "duration": 0.0,
                "observations": [],
                "expectations": [],
                "message": None,
                "failure": None,
            },
        )
        row["duration"] += report.duration
        if PROPERTY in props:
            recorded = json.loads(props[PROPERTY])
            row["observations"] = recorded["observations"]
            row["expectations"] = recorded["expectations"]
        outcome = _phase_outcome(report)
        if outcome is None:
            return
        if NA_PROP in props and outcome == "skipped":
            outcome = "n/a"
        if FAILURE_PROP in props and outcome in BROKEN:
            row["failure"] = json.loads(props[FAILURE_PROP])
            if row["failure"]["kind"] == "hazard-fixed" and outcome == "failed":
                outcome = "fixed"
        if row["outcome"] in (None, "passed") or outcome == "error":
            row["outcome"] = outcome
        if outcome in UNVERIFIED:
            row["reason"] = props.get(NA_PROP) or _skip_reason(report)
        elif outcome != "passed":  # failed, error, xfailed, xpassed, fixed: say why
            row["message"] = _failure_text(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):
            return
        state = _state(self.config)
        rows = list(self.rows.values())
        applied = None
        if state["waivers"] is not None:
            from spec.versions import torch_version

            applied = waivers_mod.apply(rows, state["waivers"], torch_version())
        n = Tally.of(waivers_mod.held_outcomes(rows))  # a waived failure counts as held
        self.verdict_line = None
        self.waiver_lines = waivers_mod.report_lines(applied.as_json()) if applied else []
        if exitstatus in (0, 1) and rows:
            if not n.verified:
                session.exitstatus = EXIT_NOTHING_VERIFIED
                self.verdict_line = (
                    f"autograd-spec: nothing was verified: the {len(rows)} selected tests were all skipped"
                    + (f" or n/a ({n['n/a']} n/a)" if n["n/a"] else "")
                    + f" (exit {EXIT_NOTHING_VERIFIED})"
                )
            elif n.fixed and not n.broken:
                session.exitstatus = EXIT_ONLY_HAZARDS_FIXED
                self.verdict_line = (
                    f"autograd-spec: no rule failed; {n.fixed} hazard test(s) report the hazard fixed "
                    f"(exit {EXIT_ONLY_HAZARDS_FIXED}: update their records)"
                )
            elif applied and applied.waived and not n.broken and not self.other_failures:
                session.exitstatus = pytest.ExitCode.OK
                self.verdict_line = (
                    f"autograd-spec: {len(applied.waived)} failing test(s) waived ({', '.join(applied.waived_claims())}): "
                    "exit 0, as if they held"
                )
        elif exitstatus == 5 and state["collected_claim_items"] == 0 and (state["selected_claims"] or state["partial"]):
            self.verdict_line = "autograd-spec: the selection matched no claim test: nothing was verified (exit 5)"
        expired = waivers_mod.expired_line(applied.as_json()) if applied else None
        if expired and session.exitstatus in (0, 1, 5, 6):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            self.verdict_line = f"autograd-spec: {expired}: the run fails (exit 1)"
        path = self.config.getoption("--results")
        if path:
            doc = results_mod.build(
                rows=list(self.rows.values()),
                registry=state["registry"],
                devices=state["devices"],
                selection={
                    "devices": state["selected_devices"],
                    "dtypes": state["selected_dtypes"],
                    "modes": state["selected_modes"],
                    "claims": state["selected_claims"],
                    "providers": state["selected_providers"],
                    "partial": state["partial"],
                    "args": [str(a) for a in self.config.invocation_params.args],
                },
                modes=state["modes"],
                import_warnings=state["import_warnings"],
                exitstatus=int(session.exitstatus),
                wall=time.time() - state["started"],
            )
            results_mod.write(waivers_mod.annotate(doc, applied) if applied else doc, path)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config) -> None:
        line = getattr(self, "verdict_line", None)
        waiver_lines = getattr(self, "waiver_lines", [])
        if config.getoption("--no-claim-report") or not self.rows:
            for text in waiver_lines:
                terminalreporter.write_line(text)
            if line:
                terminalreporter.write_line(line)
            return
        from spec.report import claim_report_lines

        state = _state(config)
        terminalreporter.section("claim report")
        for text in claim_report_lines(list(self.rows.values()), state["registry"]) + waiver_lines:
            terminalreporter.write_line(text)
        path = config.getoption("--results")
        if path:
            terminalreporter.write_line(f"results written to {path}")
        if line:
            terminalreporter.write_line(line)


def _phase_outcome(report: pytest.TestReport) -> str | None:
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return "xfailed"
        if report.passed and report.when == "call":
            return "xpassed"
    if report.when == "call":
        return report.outcome
    if report.failed:
        return "error"
    if report.skipped:
        return "skipped"
    return None


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _failure_text(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    return str(report.longrepr)[-2000:]
