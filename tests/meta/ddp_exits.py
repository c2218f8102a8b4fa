"""A scenario module whose rank 1 exits without a report (tests/meta/test_distributed.py)."""

from tests.meta.ddp_scenarios import exit_rank

SCENARIOS = {"exit": exit_rank}
