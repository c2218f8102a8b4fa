"""Chapter 3, ".grad lifecycle and layouts": how .grad is cleared, accumulated, replaced and laid out in memory.

Sources: the ``zero_grad`` docstrings (torch/optim/optimizer.py, torch/nn/modules/module.py) and
docs/source/autograd.rst, "Default gradient layouts".
"""

import inspect

import pytest
import torch

from spec import by_version, claim, isolated
from spec.check import tolerating
from spec.suite import pinn

#: torch 2.0 made set_to_none=True the default of Optimizer.zero_grad and Module.zero_grad (1.7 .. 1.13: False).
ZERO_GRAD_DEFAULT = by_version(
    "LIFE-001/.grad after zero_grad()",
    {"<2.0": ["zeros"], ">=2.0": ["None"]},
    ref="https://github.com/pytorch/pytorch/pull/92731",
    note="set_to_none arrived in torch 1.7 (https://github.com/pytorch/pytorch/pull/42754) with the default False",
)
ZERO_GRAD_SIGNATURE_DEFAULT = by_version(
    "LIFE-001/zero_grad signature default of set_to_none",
    {"<2.0": False, ">=2.0": True},
    ref="https://github.com/pytorch/pytorch/pull/92731",
)

LAYOUT_WARNING = (
    r"^grad and param do not obey the gradient layout contract\. This is not an error, but may impair performance\."
)
REFERENCE_CYCLE = "reference cycle"


def trained_net(device, dtype, clear):
    """A PINN-sized tanh MLP after one backward of a residual-style loss; ``clear`` is 'optimizer' or 'module'."""
    net = pinn.MLP(dtype=dtype, device=device)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = pinn.points(6, 1, dtype=dtype, device=device)
    (net(x) ** 2).mean().backward()
    return net, (opt.zero_grad if clear == "optimizer" else net.zero_grad)


def grad_state(p):
    if p.grad is None:
        return "None"
    return "zeros" if bool((p.grad == 0).all()) else "nonzero"


@claim(
    "LIFE-001",
    "optimizer.zero_grad() and net.zero_grad() set every .grad to None by default (set_to_none=True since torch 2.0; "
    "before, the default was False and zeroed .grad).",
    section=".grad lifecycle and layouts",
)
@pytest.mark.parametrize("clear", ["optimizer", "module"])
def test_zero_grad_sets_none_by_default(clear, device, dtype, check):
    net, zero_grad = trained_net(device, dtype, clear)
    check.equal("grads before zero_grad()", sorted({grad_state(p) for p in net.parameters()}), ["nonzero"])
    owner = torch.optim.Optimizer if clear == "optimizer" else torch.nn.Module
    default = inspect.signature(owner.zero_grad).parameters["set_to_none"].default
    check.equal(f"{owner.__name__}.zero_grad: default of set_to_none", default, ZERO_GRAD_SIGNATURE_DEFAULT)
    zero_grad()
    check.equal(f"{clear}.zero_grad(): every .grad", sorted({grad_state(p) for p in net.parameters()}), ZERO_GRAD_DEFAULT)


@claim(
    "LIFE-002",
    "zero_grad(set_to_none=False) zeroes each existing .grad in place (the same tensor, the same storage) and leaves "
    "a .grad that is None as None, for optimizer.zero_grad and net.zero_grad.",
    section=".grad lifecycle and layouts",
    apis=("zero_grad:set_to_none",),  # zero_grad is called through a variable, which the scan cannot follow
)
@pytest.mark.parametrize("clear", ["optimizer", "module"])
def test_zero_grad_set_to_none_false(clear, device, dtype, check):
    net, zero_grad = trained_net(device, dtype, clear)
    unused = net.ps[0]
    unused.grad = None  # a parameter that got no gradient
    before = {i: (id(p.grad), p.grad.data_ptr()) for i, p in enumerate(net.parameters()) if p.grad is not None}
    zero_grad(set_to_none=False)
    check.none(".grad that was None", unused.grad)
    params = list(net.parameters())
    check.equal("the other .grads", sorted({grad_state(params[i]) for i in before}), ["zeros"])
    check.true("each .grad is the same tensor object", all(id(params[i].grad) == before[i][0] for i in before))
    check.true("each .grad keeps its storage", all(params[i].grad.data_ptr() == before[i][1] for i in before))


@claim(
    "LIFE-003",
    "A second backward accumulates into .grad in place when create_graph=False (x.grad is the same tensor, same "
    "storage: [2, 4] + [2, 4] = [4, 8] for sum(x * x) at x = [1, 2]) but replaces .grad by a new tensor that "
    "requires grad when create_graph=True ([6, 12], the old tensor keeps [4, 8]).",
    section=".grad lifecycle and layouts",
)
def test_accumulation_in_place_or_replaced(device, dtype, check):
    x = torch.tensor([1.0, 2.0], dtype=dtype, device=device, requires_grad=True)
    (x * x).sum().backward()
    g, ptr = x.grad, x.grad.data_ptr()
    (x * x).sum().backward()
    check.true("create_graph=False: x.grad is the same tensor", x.grad is g)
    check.true("create_graph=False: x.grad keeps its storage", x.grad.data_ptr() == ptr)
    check.tensor("create_graph=False: x.grad", x.grad, [4.0, 8.0], dtype=dtype, device=device)
    with tolerating(UserWarning, REFERENCE_CYCLE):
        (x * x).sum().backward(create_graph=True)
    check.false("create_graph=True: x.grad is the same tensor", x.grad is g)
    check.flags("create_graph=True: x.grad", x.grad, requires_grad=True, grad_fn=True)
    check.tensor("create_graph=True: x.grad", x.grad, [6.0, 12.0], dtype=dtype, device=device)
    check.tensor("create_graph=True: the old .grad tensor", g, [4.0, 8.0], dtype=dtype, device=device)
    x.grad = None  # break the reference cycle create_graph=True made


@claim(
    "LIFE-004",
    "A new .grad follows the gradient layout contract: for a dense non-overlapping parameter it has the parameter's "
    "strides (a permuted (3, 5, 4) parameter with strides (5, 1, 15) gets a .grad with strides (5, 1, 15)), for a "
    "parameter that is not dense (every other column) it is contiguous; the values are 2 for sum(2 * p).",
    section=".grad lifecycle and layouts",
)
@pytest.mark.parametrize("param", ["permuted", "strided"])
def test_new_grad_layout(param, device, dtype, check):
    if param == "permuted":
        p = torch.rand(4, 3, 5, dtype=dtype, device=device).permute(1, 2, 0).detach().requires_grad_()
        expected = (5, 1, 15)
    else:
        p = torch.rand(3, 8, dtype=dtype, device=device)[:, ::2].detach().requires_grad_()
        expected = (4, 1)
    check.equal(f"{param} parameter: contiguous", p.is_contiguous(), False)
    (2 * p).sum().backward()
    check.equal(f"{param} parameter: .grad strides", tuple(p.grad.stride()), expected)
    check.tensor(f"{param} parameter: .grad", p.grad, 2.0, dtype=dtype, device=device, shape=tuple(p.shape))


@claim(
    "LIFE-005",
    "A .grad assigned by hand with other strides than its parameter keeps them when backward accumulates into it "
    "(grad = zeros(4, 3).t() for a contiguous (3, 4) parameter stays (1, 3)), and the accumulation warns "
    "UserWarning 'grad and param do not obey the gradient layout contract. This is not an error, but may impair "
    "performance.': once per process, or at every accumulation with torch.set_warn_always(True).",
    section=".grad lifecycle and layouts",
)
def test_assigned_grad_keeps_its_layout(device, dtype, check, warn_always):
    p = torch.rand(3, 4, dtype=dtype, device=device, requires_grad=True)
    p.grad = torch.zeros(4, 3, dtype=dtype, device=device).t()
    with check.warns("two accumulations with set_warn_always(True)", UserWarning, LAYOUT_WARNING, count=2):
        (2 * p).sum().backward()
        (2 * p).sum().backward()
    check.equal(".grad strides after accumulating", tuple(p.grad.stride()), (1, 3))
    check.tensor(".grad after two accumulations", p.grad, 4.0, dtype=dtype, device=device, shape=(3, 4))


def layout_snippet(device, dtype, **_):
    """The fresh interpreter's code: a manually assigned, transposed .grad, then three backward() calls."""
    return f"""
        import warnings, torch
        p = torch.rand(3, 4, dtype=torch.{dtype}, device={str(device)!r}, requires_grad=True)
        p.grad = torch.zeros(4, 3, dtype=torch.{dtype}, device={str(device)!r}).t()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                (2 * p).sum().backward()
        report({{"warnings": [str(w.message).splitlines()[0] for w in caught if w.category is UserWarning],
                 "strides": list(p.grad.stride())}})
        """


@claim("LIFE-005")
@isolated.prefetch(layout_snippet)
def test_layout_warning_once_per_process(device, dtype, check):
    observed = isolated.run(layout_snippet(device, str(dtype).removeprefix("torch.")))
    messages = observed["warnings"]
    check.equal("layout warnings in a fresh process, three accumulations", len(messages), 1)
    check.matches("the warning", messages[0] if messages else "", LAYOUT_WARNING)
    check.equal(".grad strides after three accumulations", observed["strides"], [1, 3])
