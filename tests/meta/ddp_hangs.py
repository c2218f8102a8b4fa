"""A scenario module whose rank 1 never finishes (tests/meta/test_distributed.py)."""

from tests.meta.ddp_scenarios import hang

SCENARIOS = {"hang": hang}
