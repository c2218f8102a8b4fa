"""What a repro script brings along instead of spec.check and pytest: copied into the script, piece by piece.

``autograd-spec repro ID`` (:mod:`spec.repro`) copies from this module the top-level definitions that the claim's
tests need (and of :class:`Check`, the methods they call), so every statement here imports only the standard
library and torch.  The semantics are those of :mod:`spec.check`: exact comparison where it compares exactly, the
per-dtype tolerances of :mod:`spec.precision` (``TOLERANCES`` is written into each script as numbers), errors and
warnings matched by category and message regex, and a hazard passes while its recorded wrong value comes back.
Where spec.check records an observation, a script prints it: the check's name, expected, observed and ok.

``tests/meta/test_repro.py`` compares these checks with spec.check's on the same inputs.
"""

import contextlib
import inspect
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import traceback
import warnings

import torch

#: spec.precision's tolerances per dtype, ``(rtol, atol)``; a script gets them as numbers (see spec.repro).
TOLERANCES = {}
#: spec.outcomes' groups of a case's outcome: what holds and what does not; a script gets them written in.
HELD = frozenset()
NOT_HELD = frozenset()

_ADDRESS = re.compile(r" (?:object )?at 0x[0-9a-fA-F]+")
_TRIGGERED = re.compile(r"\s*\(Triggered internally at [^)]*\)\s*$")


def message_text(exc_or_warning):
    """The message of an exception or warning, without torch's "(Triggered internally at FILE:LINE.)"."""
    return _TRIGGERED.sub("", str(exc_or_warning))


def show(value):
    """A value as the report prints it: a tensor by its values, dtype (and device unless cpu)."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
        where = "" if t.device.type == "cpu" else f", device={t.device.type}"
        return f"tensor({t.cpu().tolist()!r}, dtype={str(t.dtype).removeprefix('torch.')}{where})"
    if isinstance(value, type):
        return value.__qualname__
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        inner = ", ".join(show(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return _ADDRESS.sub("", repr(value))


RETURNED = "returned"
RAISED = "raised"


def call_outcome_text(outcome):
    """A call's outcome as text: "returned", or "Type: message" (what an expected pattern is searched in)."""
    if outcome.get("outcome") == RAISED:
        return f"{outcome.get('type')}: {outcome.get('message')}"
    return str(outcome.get("outcome"))


class Outcome:
    """What a call is expected to do: return (``value``: what the claim states), or raise matching ``matches``."""

    def __init__(self, outcome, value=None, matches=None):
        if outcome not in (RETURNED, RAISED):
            raise ValueError(f"an outcome is {RETURNED!r} or {RAISED!r}, not {outcome!r}")
        self.outcome, self.value, self.matches = outcome, value, matches

    @classmethod
    def returned(cls, value=None):
        return cls(RETURNED, value=value)

    @classmethod
    def raised(cls, matches=""):
        return cls(RAISED, matches=matches)

    @classmethod
    def of(cls, expected):
        if isinstance(expected, Outcome):
            return expected
        if isinstance(expected, dict) and set(expected) <= {"outcome", "value", "matches"}:
            return cls(expected["outcome"], value=expected.get("value"), matches=expected.get("matches"))
        raise TypeError(f"not an outcome: {expected!r}")

    @property
    def returns(self):
        return self.outcome == RETURNED

    @property
    def raises(self):
        return self.outcome == RAISED


class CheckFailed(AssertionError):
    """A check did not hold: the case ends here, as the test does in the suite."""


class HazardFixed(CheckFailed):
    """A hazard's wrong value is gone: torch gives the true value now."""


class NotApplicable(BaseException):
    """The claim's feature does not exist in this torch (the suite's outcome "n/a")."""


class Skipped(BaseException):
    """The case cannot run here (the suite's "skipped")."""


def not_applicable(reason):
    raise NotApplicable(reason)


def skip(reason):
    raise Skipped(reason)


@contextlib.contextmanager
def tolerating(category, fragment):
    """Silence one known warning that the claim is not about."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f".*{fragment}", category=category)
        yield


def compiled(fn, mode, **kwargs):
    """``fn`` as the execution mode runs it: itself eagerly, ``torch.compile``d in a compiled mode."""
    if mode in ("eager", "func"):
        return fn
    torch._dynamo.reset()
    backend = "aot_eager" if mode == "aot_eager" else "inductor"
    return torch.compile(fn, backend=backend, **kwargs)


def has_numpy():
    """Whether torch can talk to numpy here."""
    try:
        torch.zeros(1).numpy()
    except Exception:  # noqa: BLE001 - any failure means: no numpy for torch
        return False
    return True


class isolated:  # noqa: N801 - spelled like the suite's spec.isolated module
    """Run a snippet in a fresh interpreter (for once-per-process behaviour); it calls report(value) once."""

    MARK = "@@repro-isolated@@"

    @staticmethod
    def run(code, *, timeout=120):
        prelude = (
            "import json as _json, warnings as _warnings\n_warnings.resetwarnings()\n"
            "_warnings.simplefilter('default')\n"
            f"def report(value):\n    print({isolated.MARK!r} + _json.dumps(value), flush=True)\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
        child = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                               env=env, timeout=timeout)
        lines = [ln for ln in child.stdout.splitlines() if ln.startswith(isolated.MARK)]
        if child.returncode != 0 or len(lines) != 1:
            raise RuntimeError(f"isolated snippet exited {child.returncode} with {len(lines)} reports\n{child.stderr[-3000:]}")
        return json.loads(lines[0][len(isolated.MARK):])


def _same(observed, expected, exact):
    """Whether an observed value is the expected one: tensors and numbers by value (NaN equals NaN), strings as a
    regex that must match, lists element-wise."""
    if isinstance(expected, str):
        return isinstance(observed, str) and re.search(expected, observed) is not None
    if isinstance(observed, torch.Tensor) or isinstance(expected, torch.Tensor):
        if not isinstance(observed, torch.Tensor):
            return False
        try:
            want = torch.as_tensor(expected, dtype=observed.dtype, device=observed.device).expand_as(observed)
        except (RuntimeError, TypeError, ValueError):
            return False
        name = str(observed.dtype).removeprefix("torch.")
        rtol, atol = (0.0, 0.0) if exact else TOLERANCES.get(name, TOLERANCES["float32"])
        return bool(torch.allclose(observed.detach(), want, equal_nan=True, rtol=rtol, atol=atol))
    if isinstance(expected, float) and isinstance(observed, (int, float)) and not isinstance(observed, bool):
        if math.isnan(expected):
            return math.isnan(observed)
        return observed == expected if exact else math.isclose(observed, expected, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(expected, (list, tuple)) and isinstance(observed, (list, tuple)):
        return len(expected) == len(observed) and all(_same(o, e, exact) for o, e in zip(observed, expected))
    return type(observed) is type(expected) and observed == expected


class Check:
    """The suite's ``check``: each check prints its name, expected, observed and ok; a check that fails ends the case."""

    def __init__(self):
        self.failed = None  # the name of the check that failed

    def _report(self, name, ok, expected, observed):
        print(f"  {'ok  ' if ok else 'FAIL'}  {name}")
        print(f"          expected: {expected}")
        print(f"          observed: {observed}", flush=True)
        if not ok:
            self.failed = name
            raise CheckFailed(name)

    # ------------------------------------------------------------------ what a call did
    def works(self, name, fn):
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - the outcome is the observation
            self._report(name, False, "the call returns", f"{type(exc).__name__}: {message_text(exc)}")
        self._report(name, True, "the call returns", "it returned")
        return value

    def call(self, name, fn, expected):
        want = Outcome.of(expected)
        try:
            value, observed = fn(), {"outcome": RETURNED}
        except Exception as exc:  # noqa: BLE001 - the outcome is the observation
            value, observed = None, {"outcome": RAISED, "type": type(exc).__name__, "message": message_text(exc)}
        if want.returns:
            ok, wanted = observed["outcome"] == RETURNED, "the call returns"
        else:
            ok = observed["outcome"] == RAISED and re.search(want.matches or "", call_outcome_text(observed)) is not None
            wanted = f"an exception matching {want.matches!r}"
        self._report(name, ok, wanted, call_outcome_text(observed))
        return value

    def absent(self, name, fn, exc_type, fragment, *, reason):
        with self.raises(name, exc_type, fragment):
            fn()
        not_applicable(reason)

    # ------------------------------------------------------------------ hazards
    def hazard(self, name, observed, *, wrong, truth, present=True, fixed_by_error=None, exact=False):
        if callable(observed):
            try:
                observed = observed()
            except Exception as exc:  # noqa: BLE001 - an error is an observation here
                observed = f"{type(exc).__name__}: {message_text(exc)}"
        is_wrong = _same(observed, wrong, exact)
        is_true = _same(observed, truth, exact) or (
            fixed_by_error is not None and isinstance(observed, str) and re.search(fixed_by_error, observed) is not None
        )
        or_error = f" or an error matching {fixed_by_error!r}" if fixed_by_error else ""
        how = "exactly" if exact else "within the dtype's tolerance"
        if present:
            verdict = "present" if is_wrong else ("fixed" if is_true else "changed")
            expected = (f"the hazard's wrong value {show(wrong)} ({how}; the hazard is recorded as present in this "
                        f"torch; the true value is {show(truth)}{or_error})")
        else:
            verdict = "absent" if is_true else ("returned" if is_wrong else "changed")
            expected = (f"the true value {show(truth)}{or_error} ({how}; the hazard is recorded as fixed in this "
                        f"torch; it gave {show(wrong)})")
        said = {"present": "the hazard is present, as recorded", "fixed": "HAZARD FIXED: this is the true value",
                "changed": "neither the wrong value nor the true one", "absent": "the true value, as recorded",
                "returned": "the hazard is back: the wrong value"}[verdict]
        try:
            self._report(name, verdict in ("present", "absent"), expected, f"{show(observed)}  ({said})")
        except CheckFailed:
            if verdict == "fixed":
                raise HazardFixed(name) from None
            raise

    # ------------------------------------------------------------------ plain values
    def equal(self, name, observed, expected):
        ok = type(observed) is type(expected) and observed == expected
        of_type = "" if type(observed) is type(expected) else f" (a {type(observed).__name__}, not a {type(expected).__name__})"
        self._report(name, ok, show(expected), show(observed) + of_type)

    def true(self, name, observed):
        self.equal(name, observed, True)

    def false(self, name, observed):
        self.equal(name, observed, False)

    def none(self, name, observed):
        self._report(name, observed is None, "None", show(observed))

    def not_none(self, name, observed):
        self._report(name, observed is not None, "a value (not None)", show(observed))

    def matches(self, name, text, pattern):
        ok = isinstance(text, str) and re.search(pattern, text) is not None
        self._report(name, ok, f"text matching {pattern!r}", show(text))

    def flags(self, name, tensor, **expected):
        if tensor is None:
            self._report(name, False, "a tensor", "None")
        for attr, want in expected.items():
            if attr == "grad_fn":
                if want is None:
                    self.none(f"{name}.grad_fn", tensor.grad_fn)
                else:
                    self.not_none(f"{name}.grad_fn", tensor.grad_fn)
                continue
            self.equal(f"{name}.{attr}", getattr(tensor, attr), want)

    # ------------------------------------------------------------------ tensors
    def tensor(self, name, observed, expected, *, exact=True, dtype=None, device=None, shape=None):
        if not isinstance(observed, torch.Tensor):
            self._report(name, False, f"a tensor equal to {show(expected)}", show(observed))
        if dtype is not None and observed.dtype != dtype:
            self._report(name + ".dtype", False, str(dtype), str(observed.dtype))
        if device is not None and observed.device.type != torch.device(device).type:
            self._report(name + ".device", False, str(device), str(observed.device))
        want = torch.as_tensor(expected, dtype=observed.dtype, device=observed.device)
        if shape is not None and tuple(observed.shape) != tuple(shape):
            self._report(name + ".shape", False, str(tuple(shape)), str(tuple(observed.shape)))
        if want.shape != observed.shape:
            try:
                want = want.expand_as(observed)
            except RuntimeError:
                self._report(name, False, f"{show(expected)} (shape {tuple(want.shape)})",
                             f"{show(observed)} (shape {tuple(observed.shape)})")
        if exact:
            rtol, atol, how = 0.0, 0.0, "exactly"
        else:
            rtol, atol = TOLERANCES[str(observed.dtype).removeprefix("torch.")]
            how = f"within rtol={rtol:g}, atol={atol:g}"
        try:
            torch.testing.assert_close(observed.detach(), want, rtol=rtol, atol=atol, equal_nan=False)
            ok = True
        except AssertionError:
            ok = False
        self._report(name, ok, f"{show(expected)} ({how})", show(observed))

    def close(self, name, observed, expected, **kwargs):
        self.tensor(name, observed, expected, exact=False, **kwargs)

    # ------------------------------------------------------------------ errors and warnings
    @contextlib.contextmanager
    def raises(self, name, exc_type, fragment):
        box = {}
        expected = f"{exc_type.__qualname__} matching {fragment!r}"
        try:
            yield box
        except BaseException as exc:  # noqa: BLE001 - classified below
            box["exception"] = exc
            text = message_text(exc)
            ok = isinstance(exc, exc_type) and re.search(fragment, text) is not None
            self._report(name, ok, expected, f"{type(exc).__qualname__}: {text}")
        else:
            self._report(name, False, expected, "nothing was raised")

    @contextlib.contextmanager
    def warns(self, name, category, fragment, *, count=1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
        relevant = [w for w in caught if issubclass(w.category, category)]
        seen = [f"{w.category.__qualname__}: {message_text(w.message)}" for w in relevant]
        hits = [w for w in relevant if re.search(fragment, str(w.message))]
        ok = len(hits) >= 1 if count is None else len(hits) == count
        want = "at least one" if count is None else str(count)
        self._report(name, ok, f"{want} {category.__qualname__} matching {fragment!r}",
                     f"{len(hits)} matching; every {category.__qualname__}: {seen}")

    @contextlib.contextmanager
    def no_warning(self, name, category=Warning, fragment=""):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        hits = [f"{w.category.__qualname__}: {message_text(w.message)}" for w in caught
                if issubclass(w.category, category) and re.search(fragment, str(w.message))]
        self._report(name, not hits, f"no {category.__qualname__} matching {fragment!r}", hits or "no such warning")


class Repro:
    """Runs each case of the claim's tests as the suite does and keeps the tally; ``finish()`` is the exit code."""

    def __init__(self, claim, kind, statement, resolved_for):
        self.claim, self.kind, self.resolved_for = claim, kind, resolved_for
        self.outcomes = []
        print(f"{claim} ({kind}): {statement}")
        note = "" if torch.__version__.split("+")[0] == resolved_for.split("+")[0] else (
            f" (the expectations were resolved for torch {resolved_for})")
        print(f"torch {torch.__version__}{note}; python {sys.version.split()[0]}", flush=True)

    def case(self, test, fixtures=(), **params):
        label = ", ".join(f"{k}={str(v).removeprefix('torch.') if isinstance(v, torch.dtype) else v}"
                          for k, v in params.items())
        print(f"\n{test.__name__}[{label}]", flush=True)
        check = Check()
        wanted = inspect.signature(test).parameters
        kwargs = dict(params, **({"check": check} if "check" in wanted else {}))
        state = (torch.is_warn_always_enabled(), torch.is_grad_enabled(), torch.get_default_dtype())
        if "warn_always" in wanted:
            torch.set_warn_always(True)
            kwargs["warn_always"] = None
        try:
            # The suite runs with -W error::UserWarning; the test's fixtures (tolerating a warning) go inside.
            with warnings.catch_warnings(), contextlib.ExitStack() as stack:
                warnings.filterwarnings("error", category=UserWarning)
                for fixture in fixtures:
                    stack.enter_context(fixture())
                test(**kwargs)
            outcome, why = "passed", ""
        except HazardFixed:
            outcome, why = "fixed", f"the hazard is fixed: {check.failed!r} gave the true value"
        except CheckFailed:
            outcome, why = "failed", f"check {check.failed!r} failed"
        except NotApplicable as exc:
            outcome, why = "n/a", str(exc)
        except Skipped as exc:
            outcome, why = "skipped", str(exc)
        except Exception:  # noqa: BLE001 - a crash is an outcome (the suite counts it as a failure)
            traceback.print_exc(file=sys.stdout)
            outcome, why = "error", "the test raised outside any check"
        finally:
            torch.set_warn_always(state[0])
            torch.set_grad_enabled(state[1])
            torch.set_default_dtype(state[2])
        print(f"  => {outcome}{': ' + why if why else ''}", flush=True)
        self.outcomes.append((f"{test.__name__}[{label}]", outcome, why))

    def finish(self):
        """Print the verdict; 0: the claim holds, 1: it does not, 5: nothing was verified (every case n/a or skipped)."""
        bad = [o for o in self.outcomes if o[1] in NOT_HELD]
        held = [o for o in self.outcomes if o[1] in HELD]
        print()
        if bad:
            print(f"{self.claim} DOES NOT HOLD: {len(bad)} of {len(self.outcomes)} cases failed")
            for case, outcome, why in bad:
                print(f"  {outcome}: {case}: {why}")
            code = 1
        elif held:
            other = len(self.outcomes) - len(held)
            what = "the hazard is present, as recorded" if self.kind == "hazard" else "holds"
            print(f"{self.claim} {what}: {len(held)} of {len(self.outcomes)} cases passed"
                  + (f" ({other} n/a or skipped)" if other else ""))
            code = 0
        else:
            print(f"{self.claim}: nothing was verified (every case was n/a or skipped)")
            code = 5
        print(f"exit {code}", flush=True)
        return code
