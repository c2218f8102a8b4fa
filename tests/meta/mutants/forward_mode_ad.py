"""Mutants that kill the claims of the section "Forward-mode AD": each changes one behaviour a claim states."""

from tests.meta.mutation import mutant, wrap_function


@mutant("dual-levels-nest", kills=["FWD-001"])
def _(torch):
    """An inner dual_level() inside an active one reuses the outer level instead of raising."""
    depth = [0]

    def make(original):
        class dual_level:
            def __enter__(self):
                depth[0] += 1
                if depth[0] == 1:
                    self._inner = original()
                    return self._inner.__enter__()
                return None

            def __exit__(self, *exc):
                depth[0] -= 1
                if depth[0] == 0:
                    return self._inner.__exit__(*exc)
                return False

        return dual_level

    wrap_function(torch.autograd.forward_ad, "dual_level", make)


@mutant("dual-level-leaks", kills=["FWD-001"])
def _(torch):
    """Leaving a dual_level() does not close it, so the next one is refused as nested."""

    def make(original):
        class dual_level(original):
            def __exit__(self, *exc):
                return False

        return dual_level

    wrap_function(torch.autograd.forward_ad, "dual_level", make)


@mutant("make-dual-crops-the-tangent", kills=["FWD-002"])
def _(torch):
    """make_dual quietly crops a tangent of the wrong size to the primal's shape."""

    def make(original):
        def make_dual(tensor, tangent, *, level=None):
            if tangent.shape != tensor.shape:
                tangent = tangent.flatten()[: tensor.numel()].reshape(tensor.shape)
            return original(tensor, tangent, level=level)

        return make_dual

    wrap_function(torch.autograd.forward_ad, "make_dual", make)


@mutant("unpack-dual-returns-a-plain-tuple", kills=["FWD-003"])
def _(torch):
    """unpack_dual returns a plain tuple (primal, tangent) instead of the UnpackedDualTensor namedtuple."""
    wrap_function(torch.autograd.forward_ad, "unpack_dual",
                  lambda original: lambda tensor, *, level=None: tuple(original(tensor, level=level)))
