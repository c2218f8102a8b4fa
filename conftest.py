"""Root conftest: loads the claim plugin for every test of the repository.

The options (``--device``, ``--dtype``, ``--mode``, ``--claim``, ``--results`` ...; see
``pytest --help``, group "autograd-spec") are declared by :mod:`spec.plugin`, so they are the
same in a checkout, in ``autograd-spec run`` and with ``pytest -p spec.plugin``.
"""

import pytest

pytest.register_assert_rewrite("spec")

pytest_plugins = ("spec.plugin",)
