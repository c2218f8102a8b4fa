"""Importing torch once, outside any run's warning filters, and remembering what it warned.

torch >= 2.4 warns at import when numpy is missing ("Failed to initialize NumPy"); under the
suite's ``-W error::UserWarning`` that would otherwise end the run before it starts.  The claims
that need numpy skip with the reason; the import warnings go into the results header.
"""

from __future__ import annotations

import sys
import warnings

#: First lines of the warnings the first import of torch emitted, in order, without repeats.
IMPORT_WARNINGS: list[str] = []


def import_torch():
    if "torch" in sys.modules:
        return sys.modules["torch"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import torch
    IMPORT_WARNINGS[:] = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
    return torch


def has_numpy() -> bool:
    """Whether torch can talk to numpy here (``Tensor.numpy()``, ``torch.from_numpy``)."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return not any("Failed to initialize NumPy" in w or "numpy" in w.lower() for w in IMPORT_WARNINGS)
