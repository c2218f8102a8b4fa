"""Mutants that kill the claims of the section "torch.func transforms": each changes one behaviour a claim states."""

import functools

from tests.meta.mutants.common import map_tensors
from tests.meta.mutation import mutant, wrap_function


@mutant("func-grad-doubled", kills=["TFUNC-001", "TFUNC-002", "TFUNC-003", "TFUNC-005", "TFUNC-006", "TFUNC-007",
                                    "TFUNC-008", "TFUNC-009", "COMP-013", "COMP-014", "COMP-015"])
def _(torch):
    """torch.func.grad returns twice the gradient (the auxiliary output of has_aux=True is unchanged).

    It also kills the eager rows of COMP-013..015, which check torch.autograd against torch.func (and the other
    way round) before the compiled rows check torch.compile against the same reference."""

    def make(original):
        @functools.wraps(original)
        def grad(func, argnums=0, has_aux=False, **kwargs):
            inner = original(func, argnums=argnums, has_aux=has_aux, **kwargs)

            def doubled(*args, **kw):
                out = inner(*args, **kw)
                if has_aux:
                    g, aux = out
                    return map_tensors(torch, g, lambda t: 2 * t), aux
                return map_tensors(torch, out, lambda t: 2 * t)

            return doubled

        return grad

    wrap_function(torch.func, "grad", make)
