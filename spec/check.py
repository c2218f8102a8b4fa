"""Assertion helpers that record what they observed.

Every check records its observable (name, observed value, expected value) so the
results file shows what torch actually did, and every failure message explains
itself: the claim, the observable, expected versus observed, and the torch
version, device and dtype it ran on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from spec.results import RAISED, RETURNED, call_outcome_text
from spec.versions import Versioned, torch_version

PROPERTY = "spec.observations"

#: C++ warnings and errors end with "(Triggered internally at FILE:LINE.)": a build path and a
#: line number that move with every release.  Recorded messages leave it out.
_ADDRESS = re.compile(r" (?:object )?at 0x[0-9a-fA-F]+")
_TRIGGERED = re.compile(r"\s*\(Triggered internally at [^)]*\)\s*$")


def message_text(exc_or_warning: Any) -> str:
    """The message of an exception or warning, without the build path and line suffix."""
    return _TRIGGERED.sub("", str(exc_or_warning))


def to_json(value: Any) -> Any:
    """A JSON-able rendering of an observed value (tensors become nested lists)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach()
        if t.is_complex():
            t = torch.view_as_real(t)
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        data = t.cpu().tolist()
        return {"tensor": data, "dtype": str(value.dtype).removeprefix("torch."), "shape": list(value.shape)}
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return repr(value)
        return value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, type):
        return value.__qualname__
    # Objects (a grad_fn node, say) are recorded by their repr without the memory address,
    # which differs in every process.
    return _ADDRESS.sub("", repr(value))


class ClaimCheckFailed(AssertionError):
    """A claim's observable did not match its expectation (a *recorded* check failed)."""

    def __init__(self, message: str, observable: str | None = None):
        super().__init__(message)
        self.observable = observable


class HazardFixed(ClaimCheckFailed):
    """A hazard's wrong value is gone: torch now gives the true value (or the documented error)."""


def _pytest_skip_exception() -> type[BaseException]:
    import pytest

    return pytest.skip.Exception


class NotApplicable(_pytest_skip_exception()):  # type: ignore[misc]
    """The claim's feature does not exist in this torch: the test's outcome is "n/a", never "pass"."""


def not_applicable(reason: str) -> None:
    """End the test with the outcome "n/a" and the reason (a feature absent in this torch)."""
    __tracebackhide__ = True
    raise NotApplicable(msg=reason, allow_module_level=False)


def _same(observed: Any, expected: Any, exact: bool) -> bool:
    """Whether an observed value is the expected one: tensors/numbers by value (NaN equals NaN),
    strings as a regex that must match, lists element-wise."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if isinstance(expected, str):
        return isinstance(observed, str) and re.search(expected, observed) is not None
    if torch is not None and (isinstance(observed, torch.Tensor) or isinstance(expected, torch.Tensor)):
        if not isinstance(observed, torch.Tensor):
            return False
        from spec.precision import TOLERANCES, dtype_name

        try:
            want = torch.as_tensor(expected, dtype=observed.dtype, device=observed.device).expand_as(observed)
        except (RuntimeError, TypeError, ValueError):
            return False
        tol = {"rtol": 0.0, "atol": 0.0} if exact else vars(TOLERANCES.get(dtype_name(observed.dtype), TOLERANCES["float32"]))
        return bool(torch.allclose(observed.detach(), want, equal_nan=True, **tol))
    if isinstance(expected, float) and isinstance(observed, (int, float)) and not isinstance(observed, bool):
        if math.isnan(expected):
            return math.isnan(observed)
        return observed == expected if exact else math.isclose(observed, expected, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(expected, (list, tuple)) and isinstance(observed, (list, tuple)):
        return len(expected) == len(observed) and all(_same(o, e, exact) for o, e in zip(observed, expected))
    return type(observed) is type(expected) and observed == expected


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a call is expected to do (in an execution mode, on a torch release): return, or raise.

    ``Outcome.returned(18.0)``: the call returns; ``value``, when given, is the value the claim
    states, for the test's own check of it.  ``Outcome.raised(pattern)``: the call raises, and the
    regex ``pattern`` (or a :func:`spec.versions.by_version` of one) is found in the exception's
    text ``"Type: message"`` (a pattern that names no type finds the message alone, so the same
    outcome serves :meth:`Check.raises`, which checks the type by class).  Per-mode expectations
    are dicts of outcomes; a ``by_version`` value may be one as a literal dict
    (``{"outcome": "returned"}``, ``{"outcome": "raised", "matches": ...}``).
    :meth:`Check.call` records what the call did as ``{"outcome": "returned"}`` or ``{"outcome":
    "raised", "type": ..., "message": ...}`` and the expectation as ``{"outcome": "returned"}`` or
    ``{"outcome": "raised", "matches": pattern}``.
    """

    outcome: str  # RETURNED | RAISED
    value: Any = None  # returned: the value the claim states (checked by its own check, not recorded here)
    matches: Any = None  # raised: the regex "Type: message" must match (a by_version of one, too)

    def __post_init__(self) -> None:
        if self.outcome not in (RETURNED, RAISED):
            raise ValueError(f"an outcome is {RETURNED!r} or {RAISED!r}, not {self.outcome!r}")

    @classmethod
    def returned(cls, value: Any = None) -> Outcome:
        return cls(RETURNED, value=value)

    @classmethod
    def raised(cls, matches: Any = "") -> Outcome:
        return cls(RAISED, matches=matches)

    @classmethod
    def of(cls, expected: Any) -> Outcome:
        """An :class:`Outcome` from itself or its dict form (a ``by_version`` value)."""
        if isinstance(expected, Outcome):
            return expected
        if isinstance(expected, dict) and set(expected) <= {"outcome", "value", "matches"}:
            return cls(expected["outcome"], value=expected.get("value"), matches=expected.get("matches"))
        raise TypeError(f"not an outcome: {expected!r} (use Outcome.returned(...) or Outcome.raised(...))")

    @property
    def returns(self) -> bool:
        return self.outcome == RETURNED

    @property
    def raises(self) -> bool:
        return self.outcome == RAISED


class Check:
    """The ``check`` fixture: recording assertions for one test."""

    def __init__(self, claim_ids: list[str], params: dict[str, Any], user_properties: list | None = None):
        self.claim_ids = claim_ids
        self.params = params
        self.observations: list[dict[str, Any]] = []
        self.expectations: list[dict[str, Any]] = []
        self._user_properties = user_properties

    # ----------------------------------------------------------------- bookkeeping
    def _context(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"[{'/'.join(self.claim_ids) or 'no claim'}; torch {torch_version()}{'; ' + where if where else ''}]"

    def _resolve(self, expected: Any) -> Any:
        if isinstance(expected, Versioned):
            version = torch_version()
            self.expectations.append(expected.describe(version))
            return expected.for_version(version)
        return expected

    def _record(self, name: str, observed: Any, expected: Any, ok: bool, **extra: Any) -> None:
        entry = {"name": name, "observed": to_json(observed), "expected": to_json(expected), "ok": ok}
        entry.update({k: to_json(v) for k, v in extra.items()})
        self.observations.append(entry)
        self.flush()

    def flush(self) -> None:
        if self._user_properties is None:
            return
        payload = json.dumps({"observations": self.observations, "expectations": self.expectations})
        for i, (key, _) in enumerate(self._user_properties):
            if key == PROPERTY:
                self._user_properties[i] = (PROPERTY, payload)
                return
        self._user_properties.append((PROPERTY, payload))

    def fail(self, message: str, observable: str | None = None) -> None:
        __tracebackhide__ = True
        if observable is None and self.observations:
            observable = self.observations[-1]["name"]
        # ``from None``: raised while an exception is handled (the one a call raised, or the one a
        # ``raises`` block caught), the failure is the one traceback to show, not a second one.
        raise ClaimCheckFailed(f"{message}\n  {self._context()}", observable) from None

    # ----------------------------------------------------------------- what a call did
    def works(self, name: str, fn: Callable[[], Any]) -> Any:
        """Call ``fn``: it must return (the "it works" step of a claim); returns its value.

        The outcome is recorded, so a call that now raises fails this recorded check instead of
        ending the test with an uncaught exception.
        """
        __tracebackhide__ = True
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - the outcome is the observation
            observed = f"{type(exc).__name__}: {message_text(exc)}"
            self._record(name, observed, "returns", False)
            self.fail(f"{name}: expected the call to return, observed {observed}")
        self._record(name, "returned", "returns", True)
        return value

    def call(self, name: str, fn: Callable[[], Any], expected: Any) -> Any:
        """Call ``fn`` and check what it did against ``expected``, an :class:`Outcome` (or its dict
        form, or a ``by_version`` of one): it returned, or it raised an exception whose
        ``"Type: message"`` matches the outcome's pattern.  Returns the call's value (None after an
        exception).  What the call did is recorded as a structured outcome (see :class:`Outcome`).
        """
        __tracebackhide__ = True
        want = Outcome.of(self._resolve(expected))
        pattern = self._resolve(want.matches) if want.raises else None
        try:
            value, observed = fn(), {"outcome": RETURNED}
        except Exception as exc:  # noqa: BLE001 - the outcome is the observation
            value, observed = None, {"outcome": RAISED, "type": type(exc).__name__, "message": message_text(exc)}
        recorded = {"outcome": want.outcome} if want.returns else {"outcome": RAISED, "matches": pattern}
        if want.returns:
            ok = observed["outcome"] == RETURNED
        else:
            ok = observed["outcome"] == RAISED and re.search(pattern or "", call_outcome_text(observed)) is not None
        self._record(name, observed, recorded, ok)
        if not ok:
            wanted = "the call to return" if want.returns else f"an exception matching {pattern!r}"
            self.fail(f"{name}: expected {wanted}, observed {call_outcome_text(observed)}")
        return value

    def absent(self, name: str, fn: Callable[[], Any], exc_type: type[BaseException], fragment: Any, *, reason: str) -> None:
        """The feature is absent in this torch: ``fn`` must raise ``exc_type`` matching ``fragment``.

        The absence is recorded (so a torch that has the feature after all fails the check), then
        the test ends with the outcome "n/a" and ``reason`` -- never "pass".
        """
        __tracebackhide__ = True
        with self.raises(name, exc_type, fragment):
            fn()
        not_applicable(reason)

    # ----------------------------------------------------------------- hazards
    def hazard(
        self,
        name: str,
        observed: Any,
        *,
        wrong: Any,
        truth: Any,
        present: Any = True,
        fixed_by_error: str | None = None,
        exact: bool = False,
    ) -> None:
        """A hazard: torch gives ``wrong`` where the true value is ``truth``, without an error.

        ``observed`` is the value, or a zero-argument callable (its exception, if any, is observed
        as ``"Type: message"``).  ``present`` (a bool or a :func:`spec.versions.by_version` value)
        says whether the hazard is present in this torch.  While it is, the check passes when the
        wrong value comes back; when the true value (or an error matching ``fixed_by_error``, the
        error the documentation promises) comes back instead, it fails with
        :class:`HazardFixed`: "hazard fixed in torch X: ...".  Where it is recorded as absent, the
        true value is demanded.  Tensors compare within the dtype's tolerance (``exact=True`` for
        bit equality), NaN equal to NaN.
        """
        __tracebackhide__ = True
        present = self._resolve(present)
        wrong = self._resolve(wrong)  # the wrong value itself may differ between releases (by_version)
        if callable(observed):
            try:
                observed = observed()
            except Exception as exc:  # noqa: BLE001 - an error is an observation here
                observed = f"{type(exc).__name__}: {message_text(exc)}"
        is_wrong = _same(observed, wrong, exact)
        is_true = _same(observed, truth, exact) or (
            fixed_by_error is not None and isinstance(observed, str) and re.search(fixed_by_error, observed) is not None
        )
        expected = {"hazard": wrong, "truth": truth, "present": bool(present)}
        if fixed_by_error:
            expected["or_error"] = fixed_by_error
        if present:
            verdict = "present" if is_wrong else ("fixed" if is_true else "changed")
        else:
            verdict = "absent" if is_true else ("returned" if is_wrong else "changed")
        ok = verdict in ("present", "absent")
        self._record(name, observed, expected, ok, hazard=verdict)
        shown = to_json(observed)
        shown = shown["tensor"] if isinstance(shown, dict) and "tensor" in shown else shown
        if verdict == "fixed":
            raise HazardFixed(
                f"hazard fixed in torch {torch_version()}: {name} is now {shown!r}, the true value "
                f"(the hazard gave {to_json(wrong)!r}); record the fix with by_version\n  {self._context()}",
                name,
            )
        if verdict == "returned":
            self.fail(f"{name}: the hazard is back: observed the wrong {shown!r} where the truth is {to_json(truth)!r}")
        if verdict == "changed":
            self.fail(
                f"{name}: observed {shown!r}, neither the hazard's wrong {to_json(wrong)!r} nor the true {to_json(truth)!r}"
            )

    # ----------------------------------------------------------------- plain values
    def equal(self, name: str, observed: Any, expected: Any) -> None:
        """``observed == expected`` (for flags, use this: ``is_leaf`` must be the bool True)."""
        __tracebackhide__ = True
        expected = self._resolve(expected)
        ok = type(observed) is type(expected) and observed == expected
        self._record(name, observed, expected, ok)
        if not ok:
            self.fail(f"{name}: expected {expected!r}, observed {observed!r}")

    def true(self, name: str, observed: Any) -> None:
        __tracebackhide__ = True
        self.equal(name, observed, True)

    def false(self, name: str, observed: Any) -> None:
        __tracebackhide__ = True
        self.equal(name, observed, False)

    def none(self, name: str, observed: Any) -> None:
        __tracebackhide__ = True
        ok = observed is None
        self._record(name, observed, None, ok)
        if not ok:
            self.fail(f"{name}: expected None, observed {to_json(observed)!r}")

    def not_none(self, name: str, observed: Any) -> None:
        __tracebackhide__ = True
        ok = observed is not None
        self._record(name, observed, "not None", ok)
        if not ok:
            self.fail(f"{name}: expected a value, observed None")

    def matches(self, name: str, text: Any, pattern: Any) -> None:
        """``text`` is a string in which the regex ``pattern`` is found."""
        __tracebackhide__ = True
        pattern = self._resolve(pattern)
        ok = isinstance(text, str) and re.search(pattern, text) is not None
        self._record(name, text, {"matches": pattern}, ok)
        if not ok:
            self.fail(f"{name}: expected text matching {pattern!r}, observed {text!r}")

    def flags(self, name: str, tensor: Any, **expected: Any) -> None:
        """Check several attributes of one tensor: ``check.flags("b", b, requires_grad=True, is_leaf=False)``.

        ``grad_fn=None`` / ``grad_fn=True`` check that there is no / there is a ``grad_fn``.
        """
        __tracebackhide__ = True
        if tensor is None:
            self._record(name, None, "a tensor", False)
            self.fail(f"{name}: expected a tensor, observed None")
        for attr, want in expected.items():
            if attr == "grad_fn":
                got = tensor.grad_fn
                if want is None:
                    self.none(f"{name}.grad_fn", got)
                else:
                    self.not_none(f"{name}.grad_fn", got)
                continue
            self.equal(f"{name}.{attr}", getattr(tensor, attr), want)

    # ----------------------------------------------------------------- tensors
    def tensor(
        self,
        name: str,
        observed: Any,
        expected: Any,
        *,
        exact: bool = True,
        dtype: Any = None,
        device: Any = None,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        """Compare a tensor with the expected values.

        ``exact=True`` (the default) demands bit-equal values: use it where the
        arithmetic is exact in the dtype (3*3 = 9, 6a at 3 = 18).  ``exact=False``
        uses the stated per-dtype tolerance of :mod:`spec.precision`.  ``dtype``,
        ``device`` and ``shape``, when given, are checked too.
        """
        __tracebackhide__ = True
        import torch

        from spec.precision import TOLERANCES, dtype_name

        expected = self._resolve(expected)
        if not isinstance(observed, torch.Tensor):
            self._record(name, observed, expected, False)
            self.fail(f"{name}: expected a tensor equal to {to_json(expected)!r}, observed {to_json(observed)!r}")
        if dtype is not None and observed.dtype != dtype:
            self._record(name + ".dtype", dtype_name(observed.dtype), dtype_name(dtype), False)
            self.fail(f"{name}.dtype: expected {dtype}, observed {observed.dtype}")
        if device is not None and observed.device.type != torch.device(device).type:
            self._record(name + ".device", observed.device.type, str(device), False)
            self.fail(f"{name}.device: expected {device}, observed {observed.device}")
        want = torch.as_tensor(expected, dtype=observed.dtype, device=observed.device)
        if shape is not None and tuple(observed.shape) != tuple(shape):
            self._record(name + ".shape", list(observed.shape), list(shape), False)
            self.fail(f"{name}.shape: expected {tuple(shape)}, observed {tuple(observed.shape)}")
        if want.shape != observed.shape:
            try:
                want = want.expand_as(observed)
            except RuntimeError:
                self._record(name, observed, expected, False)
                self.fail(f"{name}: expected shape {tuple(want.shape)}, observed {tuple(observed.shape)}")
        tol = {"rtol": 0.0, "atol": 0.0} if exact else vars(TOLERANCES[dtype_name(observed.dtype)])
        try:
            torch.testing.assert_close(observed.detach(), want, **tol, equal_nan=False)
        except AssertionError as exc:
            self._record(name, observed, expected, False, tolerance="exact" if exact else tol)
            self.fail(f"{name}: expected {to_json(expected)!r} ({'exactly' if exact else tol}), observed "
                      f"{to_json(observed)['tensor']!r}\n  {exc}")
        self._record(name, observed, expected, True, tolerance="exact" if exact else tol)

    def close(self, name: str, observed: Any, expected: Any, **kwargs: Any) -> None:
        """Compare with the dtype's stated tolerance (see :data:`spec.precision.TOLERANCES`)."""
        __tracebackhide__ = True
        self.tensor(name, observed, expected, exact=False, **kwargs)

    # ----------------------------------------------------------------- errors and warnings
    @contextlib.contextmanager
    def raises(self, name: str, exc_type: type[BaseException], fragment: Any) -> Iterator[dict[str, Any]]:
        """The block must raise ``exc_type`` whose message contains ``fragment`` (a regex).

        The observed type and full message are recorded.  Yields a dict that holds
        ``exception`` after the block.
        """
        __tracebackhide__ = True
        fragment = self._resolve(fragment)
        box: dict[str, Any] = {}
        try:
            yield box
        except BaseException as exc:  # noqa: BLE001 - we classify below
            box["exception"] = exc
            text = message_text(exc)
            observed = {"type": type(exc).__qualname__, "message": text}
            ok = isinstance(exc, exc_type) and re.search(fragment, text) is not None
            self._record(name, observed, {"type": exc_type.__qualname__, "message": fragment}, ok)
            if not ok:
                self.fail(
                    f"{name}: expected {exc_type.__qualname__} matching {fragment!r}, "
                    f"observed {type(exc).__qualname__}: {text}"
                )
        else:
            self._record(name, "no exception", {"type": exc_type.__qualname__, "message": fragment}, False)
            self.fail(f"{name}: expected {exc_type.__qualname__} matching {fragment!r}, but nothing was raised")

    @contextlib.contextmanager
    def warns(
        self, name: str, category: type[Warning], fragment: Any, *, count: int | None = 1
    ) -> Iterator[list[warnings.WarningMessage]]:
        """The block must emit ``count`` warnings of ``category`` matching ``fragment``.

        ``count=None`` means at least one.  Every warning is recorded, whatever
        filters (``-W error``) are active outside the block.
        """
        __tracebackhide__ = True
        fragment = self._resolve(fragment)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
        # Only warnings of the category are recorded: unrelated ones (a lazy import's
        # DeprecationWarning) differ between releases and say nothing about the claim.
        relevant = [w for w in caught if issubclass(w.category, category)]
        seen = [{"category": w.category.__qualname__, "message": message_text(w.message)} for w in relevant]
        hits = [w for w in relevant if re.search(fragment, str(w.message))]
        ok = len(hits) >= 1 if count is None else len(hits) == count
        want = {"category": category.__qualname__, "message": fragment, "count": count if count is not None else ">=1"}
        self._record(name, seen, want, ok)
        if not ok:
            self.fail(
                f"{name}: expected {want['count']} {category.__qualname__} matching {fragment!r}, "
                f"observed {len(hits)} (all warnings: {seen})"
            )

    @contextlib.contextmanager
    def no_warning(self, name: str, category: type[Warning] = Warning, fragment: str = "") -> Iterator[None]:
        """The block must emit no warning of ``category`` matching ``fragment``."""
        __tracebackhide__ = True
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        hits = [w for w in caught if issubclass(w.category, category) and re.search(fragment, str(w.message))]
        seen = [{"category": w.category.__qualname__, "message": message_text(w.message)} for w in hits]
        self._record(name, seen, f"no {category.__qualname__} matching {fragment!r}", not hits)
        if hits:
            self.fail(f"{name}: expected no {category.__qualname__} matching {fragment!r}, observed {seen}")


@contextlib.contextmanager
def tolerating(category: type[Warning], fragment: str) -> Iterator[None]:
    """Silence one known warning that a block may or may not emit (e.g. a once-per-process one).

    Use it where a claim is not about that warning, so the suite passes under
    ``-W error`` whatever ran before in the same process.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f".*{fragment}", category=category)
        yield
