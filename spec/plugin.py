"""The pytest plugin behind the suite: parametrization, selection, results and the claim report.

``conftest.py`` declares the command-line options and loads this plugin.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from spec import claims as claims_mod
from spec import devices as devices_mod
from spec import precision as dtypes_mod
from spec import results as results_mod
from spec.check import PROPERTY, Check

STATE = pytest.StashKey[dict]()
CLAIM_PROP = "spec.claim"
PARAMS_PROP = "spec.params"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograd-spec")
    group.addoption(
        "--device",
        default=None,
        help="comma-separated devices to run on (cpu, cuda, mps); default: every known device, "
        "absent ones reported as skipped. Asking for an absent device is a usage error.",
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
    group.addoption("--results", default=None, metavar="PATH", help="write the machine-readable results JSON to PATH")
    group.addoption(
        "--no-claim-report", action="store_true", default=False, help="do not print the claim report at the end"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{claims_mod.CLAIM_MARKER}(id): the claim this test checks")
    config.addinivalue_line("markers", f"{claims_mod.DTYPES_MARKER}(*names): the dtypes this test runs with")
    try:
        selected_devices = devices_mod.parse_selection(config.getoption("--device"))
        selected_dtypes = dtypes_mod.parse_selection(config.getoption("--dtype"))
        infos = devices_mod.probe_all()
        if selected_devices is not None:
            devices_mod.require_present(selected_devices, infos)
        raw_claims = config.getoption("--claim")
        registry = claims_mod.registry()
        selected_claims = None
        if raw_claims:
            ids = [part for chunk in raw_claims for part in chunk.split(",")]
            selected_claims = claims_mod.resolve_ids(ids, registry)
    except (devices_mod.DeviceError, dtypes_mod.DtypeError, claims_mod.ClaimError) as exc:
        raise pytest.UsageError(str(exc).replace("\n", " ")) from None
    config.stash[STATE] = {
        "devices": infos,
        "selected_devices": selected_devices,
        "selected_dtypes": selected_dtypes,
        "selected_claims": selected_claims,
        "registry": registry,
        "reports": {},
        "started": time.time(),
    }
    config.pluginmanager.register(ResultsCollector(config), "spec-results")


def _state(config: pytest.Config) -> dict:
    return config.stash[STATE]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from spec.versions import is_recorded, torch_version

    state = _state(config)
    version = torch_version()
    note = "" if is_recorded(version) else " (unrecorded version: checked against the newest recorded expectations)"
    devs = ", ".join(f"{n} ({'present' if i.present else 'absent'})" for n, i in state["devices"].items())
    return [f"autograd-spec: torch {version}{note}", f"autograd-spec devices: {devs}"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = _state(metafunc.config)
    if "device" in metafunc.fixturenames:
        names = state["selected_devices"] or list(devices_mod.KNOWN_DEVICES)
        params = []
        for name in names:
            info = state["devices"][name]
            marks = () if info.present else (pytest.mark.skip(reason=info.detail),)
            params.append(pytest.param(name, marks=marks, id=name))
        metafunc.parametrize("device", params)
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


def claim_ids_of(item: pytest.Item) -> list[str]:
    return [m.args[0] for m in item.iter_markers(claims_mod.CLAIM_MARKER)]


def params_of(item: pytest.Item) -> dict[str, Any]:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return {}
    out = {}
    for key, value in callspec.params.items():
        if key == "dtype" and value is not None:
            out[key] = dtypes_mod.dtype_name(value)
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        else:
            out[key] = callspec.id if len(callspec.params) == 1 else repr(value)
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = _state(config)
    wanted = state["selected_claims"]
    keep, drop = [], []
    for item in items:
        ids = claim_ids_of(item)
        if wanted is not None and not set(ids) & set(wanted):
            drop.append(item)
            continue
        keep.append(item)
        if ids:
            item.user_properties.append((CLAIM_PROP, ids[0] if len(ids) == 1 else ",".join(ids)))
            item.user_properties.append((PARAMS_PROP, json.dumps(params_of(item))))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if CLAIM_PROP not in props:
            return
        row = self.rows.setdefault(
            report.nodeid,
            {
                "nodeid": report.nodeid,
                "claim": props[CLAIM_PROP],
                "params": json.loads(props.get(PARAMS_PROP, "{}")),
                "outcome": None,
                "reason": None,
                "duration": 0.0,
                "observations": [],
                "expectations": [],
                "message": None,
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
        if row["outcome"] in (None, "passed") or outcome == "error":
            row["outcome"] = outcome
        if outcome == "skipped":
            row["reason"] = _skip_reason(report)
        elif outcome in ("failed", "error", "xfailed", "xpassed"):
            row["message"] = _failure_text(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):
            return
        path = self.config.getoption("--results")
        if path:
            state = _state(self.config)
            doc = results_mod.build(
                rows=list(self.rows.values()),
                registry=state["registry"],
                devices=state["devices"],
                selection={
                    "devices": state["selected_devices"],
                    "dtypes": state["selected_dtypes"],
                    "claims": state["selected_claims"],
                },
                exitstatus=int(exitstatus),
                wall=time.time() - state["started"],
            )
            results_mod.write(doc, path)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config) -> None:
        if config.getoption("--no-claim-report") or not self.rows:
            return
        from spec.report import claim_report_lines

        state = _state(config)
        terminalreporter.section("claim report")
        for line in claim_report_lines(list(self.rows.values()), state["registry"]):
            terminalreporter.write_line(line)
        path = config.getoption("--results")
        if path:
            terminalreporter.write_line(f"results written to {path}")


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
