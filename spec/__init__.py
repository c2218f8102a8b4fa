"""autograd-spec: an executable specification of PyTorch autograd semantics.

The package is the framework (claim registry, devices, dtypes, version gates,
assertion helpers, results, reports and the command line).  The claims
themselves live in ``spec/suite`` and import from here, never the reverse.
"""

from spec.claims import claim, dtypes
from spec.versions import by_version

__all__ = ["by_version", "claim", "dtypes"]
__version__ = "0.1.0"
