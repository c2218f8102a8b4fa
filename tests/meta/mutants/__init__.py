"""Mutants of torch behaviour, one module per section of the spec, named by the section's slug
(``leaf_tensors`` for "Leaf tensors"); a mutant lives with the section of the first claim it kills.  Helpers that
mutants of several sections use live in :mod:`tests.meta.mutants.common`.  See :mod:`tests.meta.mutation`."""
