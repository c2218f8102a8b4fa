"""Dtypes the claims run with, and the tolerance each is compared with (precision per dtype)."""

from __future__ import annotations

import dataclasses

DTYPE_NAMES: tuple[str, ...] = ("float32", "float64", "float16", "bfloat16")

#: The dtypes a value claim runs with unless it says otherwise.
DEFAULT_DTYPES: tuple[str, ...] = ("float32", "float64")
#: Every floating dtype a claim may opt into.
ALL_FLOATING: tuple[str, ...] = DTYPE_NAMES


class DtypeError(ValueError):
    """An unknown dtype name."""


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Tolerances for values that are not exact in floating point (``torch.testing.assert_close``)."""

    rtol: float
    atol: float


#: Stated tolerances per dtype, for results that involve rounding (transcendental
#: functions, reductions, matrix products).  Values whose arithmetic is exact in the
#: dtype (3*3*3 = 27) are compared exactly instead.
TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(rtol=1e-12, atol=1e-12),
    "float32": Tolerance(rtol=1e-5, atol=1e-6),
    "float16": Tolerance(rtol=1e-2, atol=1e-3),
    "bfloat16": Tolerance(rtol=2e-2, atol=1e-2),
}


def torch_dtype(name: str):
    import torch

    if name not in DTYPE_NAMES:
        raise DtypeError(f"unknown dtype {name!r}; known dtypes: {', '.join(DTYPE_NAMES)}")
    return getattr(torch, name)


def dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def parse_selection(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise DtypeError("--dtype needs at least one dtype name")
    unknown = [n for n in names if n not in DTYPE_NAMES]
    if unknown:
        raise DtypeError(f"unknown dtype {', '.join(map(repr, unknown))}; known dtypes: {', '.join(DTYPE_NAMES)}")
    return list(dict.fromkeys(names))
