"""Fixtures shared by the claims; loads the claim plugin (options, parametrization, results).

From an installed package, without the repository's root ``conftest.py``, ``autograd-spec run`` loads the plugin
itself (``-p spec.plugin``), and so must ``pytest -p spec.plugin --pyargs spec.suite`` when it passes options of the
plugin (pytest reads the command line before any conftest); a plain ``pytest --pyargs spec.suite`` gets it here.
"""

import sys

import pytest

from spec.torch_import import import_torch

torch = import_torch()  # outside -W error: torch without numpy warns at import

from spec.providers.expectations import pytest_pyfunc_call  # noqa: E402, F401 - a provider's recorded disagreements
from spec.suite.hypothesis_profiles import load_profile  # noqa: E402

# Declared only where nothing loaded the plugin before (a plain ``pytest --pyargs spec.suite``).  In a checkout the
# root conftest.py has loaded it already, and must: pytest reads its first pass of the command line before any
# conftest below the root, so ``--claim LEAF-004`` (the value after a space) parses only when the root loads the
# options, and a conftest below the root that pytest meets only while collecting may not declare pytest_plugins.
if "spec.plugin" not in sys.modules:
    pytest_plugins = ("spec.plugin",)

load_profile()


@pytest.fixture(params=["0-dim", "1-element"])
def form(request):
    """The article builds its scalars as ``torch.tensor(3.)``; the English original as ``torch.tensor([3.])``."""
    return request.param


@pytest.fixture(autouse=True)
def _restore_torch_state():
    """Claims may flip global autograd state; every test starts and ends with the defaults."""
    warn_always = torch.is_warn_always_enabled()
    grad_enabled = torch.is_grad_enabled()
    default_dtype = torch.get_default_dtype()
    yield
    torch.set_warn_always(warn_always)
    torch.set_grad_enabled(grad_enabled)
    torch.set_default_dtype(default_dtype)


@pytest.fixture
def warn_always():
    """Make once-per-process warnings fire every time for the duration of a test."""
    torch.set_warn_always(True)
    yield
