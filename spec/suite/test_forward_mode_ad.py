"""The weird side, "Forward-mode AD": one dual level at a time."""

import torch

from spec import claim

NESTED = r"Nested forward mode AD is not supported at the moment"


@claim(
    "FWD-001",
    "Forward-mode dual levels do not nest: entering torch.autograd.forward_ad.dual_level() inside another raises "
    "'Nested forward mode AD is not supported at the moment'; once the outer level is left, a new one can be entered.",
    section="Forward-mode AD",
)
def test_nested_dual_levels_are_refused(check):
    # No dual tensors here: the first forward-mode op of a process costs seconds (lazy imports).
    with torch.autograd.forward_ad.dual_level():
        with check.raises("a dual_level() inside a dual_level()", RuntimeError, NESTED):
            with torch.autograd.forward_ad.dual_level():
                pass

    later = torch.autograd.forward_ad.dual_level()  # the refusal left no level behind
    check.works("entering a dual_level() after the outer one is left", later.__enter__)
    try:
        with check.raises("a dual_level() inside a later dual_level()", RuntimeError, NESTED):
            with torch.autograd.forward_ad.dual_level():
                pass
    finally:
        later.__exit__(None, None, None)


NO_LEVEL = r"Trying to create a dual Tensor for forward AD but no level exists"
TANGENT_SIZE = r"Trying to set a forward gradient that has a different size than that of the original Tensor"


@claim(
    "FWD-002",
    "make_dual needs a dual level and a tangent of the primal's size: outside dual_level() it raises 'Trying to "
    "create a dual Tensor for forward AD but no level exists', and inside one a [3] tangent for a [2] primal raises "
    "'Trying to set a forward gradient that has a different size than that of the original Tensor'.",
    section="Forward-mode AD",
)
def test_make_dual_needs_a_level_and_a_matching_tangent(device, dtype, check):
    fwad = torch.autograd.forward_ad
    primal = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    with check.raises("make_dual outside dual_level()", RuntimeError, NO_LEVEL):
        fwad.make_dual(primal, torch.ones_like(primal))
    with fwad.dual_level():
        with check.raises("make_dual with a [3] tangent for a [2] primal", RuntimeError, TANGENT_SIZE):
            fwad.make_dual(primal, torch.ones(3, device=device, dtype=dtype))


@claim(
    "FWD-003",
    "unpack_dual returns the namedtuple UnpackedDualTensor with fields primal and tangent: for make_dual(p, t) the "
    "primal equals p and the tangent is t itself, and for a tensor that was never made dual the tangent is None.",
    section="Forward-mode AD",
)
def test_unpack_dual_is_a_namedtuple(device, dtype, check):
    fwad = torch.autograd.forward_ad
    p = torch.tensor([1.0, 2.0], device=device, dtype=dtype)
    t = torch.tensor([3.0, 4.0], device=device, dtype=dtype)
    with fwad.dual_level():
        unpacked = fwad.unpack_dual(fwad.make_dual(p, t))
        plain = fwad.unpack_dual(p)
    check.equal("type(unpack_dual(...)).__name__", type(unpacked).__name__, "UnpackedDualTensor")
    check.equal("its fields", tuple(getattr(unpacked, "_fields", ())), ("primal", "tangent"))
    check.tensor("unpacked.primal", unpacked.primal, [1.0, 2.0], dtype=dtype, device=device)
    check.true("unpacked.tangent is the tangent given to make_dual", unpacked.tangent is t)
    check.none("unpack_dual(plain tensor).tangent", plain.tangent)
