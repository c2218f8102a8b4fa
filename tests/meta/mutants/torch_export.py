"""Mutants that kill the claims of the section "torch.export": each changes one behaviour a claim states."""

import functools

from tests.meta.mutants.common import map_tensors, when
from tests.meta.mutation import mutant, wrap_function

HAS_EXPORT = "EXPT-001/torch.export.export exists"
EXPORTS_GRAD = "EXPT-001/torch.export of a forward that calls autograd.grad"


def _exports(*claims):
    """The claims a plain export verifies: only where torch has torch.export (2.1 on)."""
    return when(HAS_EXPORT, lambda v: v is True, *claims)


def _exports_grad(*claims):
    """The claims that export a forward calling autograd.grad: only where torch exports it (2.8 on)."""
    return when(EXPORTS_GRAD, lambda v: v.get("outcome") == "returned", *claims)


def wrap_exported_module(torch, transform):
    """``torch.export.export(...).module()`` returns a module whose outputs are ``transform(output)`` (its parameters
    are the exported module's own)."""

    class Wrapped(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args, **kwargs):
            return map_tensors(torch, self.inner(*args, **kwargs), transform)

    def make(original):
        @functools.wraps(original)
        def export(*args, **kwargs):
            ep = original(*args, **kwargs)
            module = ep.module

            class Program:
                def __getattr__(self, name):
                    return getattr(ep, name)

                def module(self):
                    return Wrapped(module())

            return Program()

        return export

    wrap_function(torch.export, "export", make)


@mutant("exported-outputs-off-by-a-thousandth",
        kills=[*_exports_grad("EXPT-001", "EXPT-002", "EXPT-003"), *_exports("EXPT-004", "EXPT-005")])
def _(torch):
    """Every floating-point output of an exported program's module is 1.001 times the true one (differentiably)."""
    wrap_exported_module(torch, lambda t: t * 1.001 if t.is_floating_point() else t)


@mutant("exported-outputs-detached", kills=[*_exports_grad("EXPT-002"), *_exports("EXPT-004", "EXPT-005")])
def _(torch):
    """An exported program's module returns its outputs detached from autograd (no graph, no gradients)."""
    wrap_exported_module(torch, lambda t: t.detach())
