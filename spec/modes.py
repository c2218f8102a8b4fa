"""Execution modes: the ways a claim's code can be run, and whether each is available here.

A mode is an axis like the device: a test that requests the ``mode`` fixture and declares
``@modes("eager", "aot_eager", "inductor")`` is instantiated once per mode
(``test_x[cpu-float32-aot_eager]``).  Tests that do not request it run eagerly.

- ``eager``: plain PyTorch.
- ``func``: the ``torch.func`` spelling of the same rule (``grad``, ``vmap``, ``jvp``).
- ``aot_eager``: ``torch.compile(..., backend="aot_eager")``: Dynamo and AOTAutograd, no code
  generation (needs no compiler).
- ``inductor``: ``torch.compile`` with the default backend (needs a C++ compiler on a CPU).

Compiled modes are opt-in (``--mode aot_eager,inductor`` or ``--mode all``): the default run,
eager and func, is the fast gate.  A mode that is not available here is skipped with the
reason; naming it in ``--mode`` is a usage error (``--mode all`` runs every mode that is available and
skips the others with the reason).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import warnings

MODE_NAMES: tuple[str, ...] = ("eager", "func", "aot_eager", "inductor")
#: What a run selects without ``--mode``.
DEFAULT_MODES: tuple[str, ...] = ("eager", "func")
COMPILED: tuple[str, ...] = ("aot_eager", "inductor")


class ModeError(ValueError):
    """An unknown mode name, or a mode that was asked for and is not available."""


@dataclasses.dataclass(frozen=True)
class ModeInfo:
    name: str
    available: bool
    detail: str

    def as_json(self) -> dict:
        return {"available": self.available, "detail": self.detail}


def _dynamo_problem() -> str | None:
    import torch

    if not hasattr(torch, "compile"):
        return "this torch has no torch.compile"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torch._dynamo  # noqa: F401
            from torch._dynamo import eval_frame
    except Exception as exc:  # noqa: BLE001 - any import failure means: not available
        return f"torch._dynamo cannot be imported ({type(exc).__name__}: {exc})"
    check = getattr(eval_frame, "check_if_dynamo_supported", None)
    if check is not None:
        try:
            check()
        except Exception as exc:  # noqa: BLE001
            return f"torch.compile is not supported here: {exc}"
    return None


def _cpp_extension_problem() -> str | None:
    """Why inductor's C++ build helpers cannot load here, or None.

    Several torch releases (2.9, 2.10 among them) need setuptools for them; with setuptools, the
    first import may warn that pkg_resources is deprecated.  Importing them once here, with that
    warning ignored, keeps an environment's import noise out of the claims' -W error runs.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torch.utils.cpp_extension  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return f"torch.utils.cpp_extension cannot be imported ({type(exc).__name__}: {exc})"
    return None


def cxx_compiler() -> str | None:
    """The C++ compiler inductor would use on a CPU, or None."""
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def probe(name: str) -> ModeInfo:
    if name == "eager":
        return ModeInfo(name, True, "plain PyTorch")
    if name == "func":
        try:
            import torch.func  # noqa: F401
        except ImportError as exc:
            return ModeInfo(name, False, f"func absent: torch.func cannot be imported ({exc})")
        return ModeInfo(name, True, "torch.func")
    if name in COMPILED:
        problem = _dynamo_problem()
        if problem:
            return ModeInfo(name, False, f"{name} unavailable: {problem}")
        if name == "inductor":
            cxx = cxx_compiler()
            if cxx is None:
                return ModeInfo(name, False, "inductor unavailable: no C++ compiler (g++, c++ or clang++) on PATH")
            problem = _cpp_extension_problem()
            if problem:
                return ModeInfo(name, False, f"inductor unavailable: {problem}")
            return ModeInfo(name, True, f"torch.compile, inductor backend ({cxx})")
        return ModeInfo(name, True, "torch.compile, aot_eager backend")
    raise ModeError(f"unknown mode {name!r}; known modes: {', '.join(MODE_NAMES)}")


#: ``probe_all()`` without an argument: probe every mode (the sensitivity proof plans its compiled mutants so).
EVERY_MODE = ("*",)


def probe_all(selected: list[str] | tuple[str, ...] | None = EVERY_MODE) -> dict[str, ModeInfo]:
    """Every mode's availability.

    ``selected`` is a run's ``--mode`` selection (``parse_selection``; None: the default modes): a compiled mode
    outside it is not probed (it costs imports) and reads "not selected".  Without an argument every mode is probed.
    """
    if selected == EVERY_MODE:
        return {name: probe(name) for name in MODE_NAMES}
    wanted = set(selected if selected is not None else DEFAULT_MODES)
    return {
        name: probe(name) if name in wanted or name not in COMPILED else ModeInfo(name, False, f"{name}: not selected")
        for name in MODE_NAMES
    }


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def selects_all(text: str | None) -> bool:
    """Whether ``--mode`` is ``all`` (every available mode; the others are skipped with the reason, not an error)."""
    return text is not None and _names(text) == ["all"]


def parse_selection(text: str | None) -> list[str] | None:
    """Parse ``--mode aot_eager,inductor``; ``all`` is every mode; ``None`` means the default modes."""
    if text is None:
        return None
    names = _names(text)
    if not names:
        raise ModeError("--mode needs at least one mode name")
    if selects_all(text):
        return list(MODE_NAMES)
    unknown = [n for n in names if n not in MODE_NAMES]
    if unknown:
        raise ModeError(f"unknown mode {', '.join(map(repr, unknown))}; known modes: {', '.join(MODE_NAMES)}, or all")
    return list(dict.fromkeys(names))


def require_available(names: list[str], infos: dict[str, ModeInfo]) -> None:
    missing = [infos[n] for n in names if not infos[n].available]
    if missing:
        raise ModeError("; ".join(f"--mode {i.name} was asked for, but {i.detail}" for i in missing))


def compiled(fn, mode: str, **kwargs):
    """``fn`` as the mode runs it: itself in eager/func mode, ``torch.compile``d in a compiled mode.

    Dynamo's caches are reset first, so a test does not depend on what an earlier test compiled.
    """
    if mode in ("eager", "func"):
        return fn
    import torch

    torch._dynamo.reset()
    backend = "aot_eager" if mode == "aot_eager" else "inductor"
    return torch.compile(fn, backend=backend, **kwargs)
