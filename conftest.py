"""Root conftest: owns the suite's command-line options and loads the claim plugin.

Options (see ``pytest --help``, group "autograd-spec"):
  --device cpu,cuda   restrict devices (an absent device asked for is a usage error)
  --dtype float64     restrict dtypes (an unknown dtype is a usage error)
  --claim LEAF-001    run only these claims (an unknown ID is a usage error naming the nearest IDs)
  --results PATH      write the machine-readable results JSON
"""

import pytest

pytest.register_assert_rewrite("spec")

from spec import plugin  # noqa: E402

pytest_plugins = ("spec.plugin",)


def pytest_addoption(parser):
    plugin.add_options(parser)
