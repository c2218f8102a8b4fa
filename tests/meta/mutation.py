"""Machinery for the sensitivity proof: mutants of torch behaviour, applied to a whole process tree.

A *mutant* is a function that patches torch (``torch.Tensor``, ``torch.autograd``,
``torch.func`` ...) so that one documented behaviour changes.  It declares the
claims it must kill.  ``tests/meta/test_sensitivity.py`` runs those claims in a
fresh ``pytest`` process with the mutant applied from ``sitecustomize`` (so child
interpreters that a claim starts, such as the once-per-process warning check, are
mutated too) and demands that every declared claim fails.

Mutants are registered in the ``mutants_*.py`` modules of this folder with::

    @mutant("backward-ignores-create-graph", kills=["CG-001"])
    def _(torch):
        ...patch...

Each runs in a throwaway process, so it never has to undo its patch.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil
from collections.abc import Callable
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    kills: tuple[str, ...]
    apply: Callable
    doc: str


MUTANTS: dict[str, Mutant] = {}
ENV = "SPEC_MUTANT"


def mutant(name: str, *, kills: list[str]) -> Callable:
    def register(fn: Callable) -> Callable:
        if name in MUTANTS:
            raise ValueError(f"mutant {name!r} registered twice")
        if not kills:
            raise ValueError(f"mutant {name!r} must name the claims it kills")
        MUTANTS[name] = Mutant(name, tuple(kills), fn, (fn.__doc__ or "").strip())
        return fn

    return register


def load_all() -> dict[str, Mutant]:
    here = Path(__file__).parent
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("mutants_"):
            importlib.import_module(f"tests.meta.{info.name}")
    return MUTANTS


def apply_from_env() -> None:
    """Called from the generated ``sitecustomize``: apply the mutant named in ``$SPEC_MUTANT``."""
    name = os.environ.get(ENV)
    if not name:
        return
    import torch

    mutants = load_all()
    mutants[name].apply(torch)


SITECUSTOMIZE = """
import os, sys
sys.path.insert(0, {root!r})
if os.environ.get({env!r}):
    from tests.meta.mutation import apply_from_env
    apply_from_env()
"""


# ---------------------------------------------------------------- helpers for mutants


def leaves_of(tensor) -> list:
    """The leaf tensors that a backward() from ``tensor`` accumulates into."""
    seen, leaves, stack = set(), [], [tensor.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        var = getattr(fn, "variable", None)
        if var is not None:
            leaves.append(var)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return leaves


def wrap_property(torch, name: str, getter: Callable, doc: str | None = None) -> None:
    """Replace ``torch.Tensor.<name>`` with a property whose getter is ``getter(self, original_value)``."""
    base = torch._C.TensorBase.__dict__[name]

    def fget(self):
        return getter(self, base.__get__(self))

    def fset(self, value):
        base.__set__(self, value)

    setattr(torch.Tensor, name, property(fget, fset if hasattr(base, "__set__") else None, doc=doc or base.__doc__))


def rewrite_backward(torch, rewrite: Callable, *, quiet: bool = False) -> None:
    """Replace ``torch.Tensor.backward`` with one whose arguments pass through ``rewrite``.

    ``rewrite(gradient, retain_graph, create_graph, inputs)`` returns the four arguments the
    real ``backward`` gets.  ``quiet=True`` silences the warnings the rewritten call emits.
    """
    import warnings

    original = torch.Tensor.backward

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        args = rewrite(gradient, retain_graph, create_graph, inputs)
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            return original(self, *args)

    torch.Tensor.backward = backward


def rewrite_grad(torch, rewrite: Callable) -> None:
    """Replace ``torch.autograd.grad`` with one whose keyword arguments pass through ``rewrite``.

    ``rewrite(kwargs)`` gets ``grad_outputs``, ``retain_graph``, ``create_graph`` and any others
    as a dict and returns the keywords the real ``grad`` gets.
    """
    original = torch.autograd.grad

    def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, **kwargs):
        kwargs.update(grad_outputs=grad_outputs, retain_graph=retain_graph, create_graph=create_graph)
        return original(outputs, inputs, **rewrite(kwargs))

    torch.autograd.grad = grad


def torch_release(torch) -> tuple[int, int]:
    """(major, minor) of the running torch, for mutants that must flip a behaviour that changed."""
    from packaging.version import Version

    return Version(Version(torch.__version__).base_version).release[:2]


def once_differentiable(torch, fn: Callable, error: Callable[[], BaseException]) -> Callable:
    """``fn(x, *rest)`` with a correct first derivative in ``x`` (with a graph) whose second derivative raises.

    Only ``x`` gets a gradient; the other arguments are treated as constants.
    """

    class Second(torch.autograd.Function):
        @staticmethod
        def forward(ctx, g, x, *rest):
            with torch.enable_grad():
                a = x.detach().requires_grad_()
                (gx,) = torch.autograd.grad(fn(a, *rest), a, g)
            return gx

        @staticmethod
        def backward(ctx, *grads):
            raise error()

    class First(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *rest):
            ctx.save_for_backward(x)
            ctx.rest = rest
            return fn(x, *rest)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return (Second.apply(g, x, *ctx.rest),) + (None,) * len(ctx.rest)

    return First.apply


def wrap_function(owner, name: str, make: Callable) -> None:
    """Replace ``owner.<name>`` with ``make(original)``."""
    original = getattr(owner, name)
    setattr(owner, name, make(original))
