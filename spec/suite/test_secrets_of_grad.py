"""Part 1, "Secrets of grad": what the .grad that backward() fills in is."""

import torch

from spec import claim, dtypes
from spec.suite.support import read_grad, scalar


@claim(
    "GRAD-001",
    "A gradient filled in by backward() is itself a leaf tensor that neither requires nor retains grad.",
    section="Secrets of grad",
)
@dtypes("float32", "float64", "float16", "bfloat16")
def test_grad_is_a_leaf_that_needs_no_grad(device, dtype, form, check):
    a = scalar(3.0, form, requires_grad=True, device=device, dtype=dtype)
    b = a * a
    b.retain_grad()
    b.backward()

    check.true("isinstance(a.grad, torch.Tensor)", isinstance(a.grad, torch.Tensor))
    check.flags("a.grad", a.grad, requires_grad=False, retains_grad=False, is_leaf=True, grad_fn=None)
    check.flags("b.grad", read_grad(check, "b.grad", b), requires_grad=False, retains_grad=False, is_leaf=True, grad_fn=None)
