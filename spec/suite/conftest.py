"""Fixtures shared by the claims."""

import pytest
import torch

from spec.suite.hypothesis_profiles import load_profile

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
