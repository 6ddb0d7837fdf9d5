"""The template's preload: the learned solvers' committed weights are read once, before any job is forked."""

from __future__ import annotations

from solvers.milp.learned import solver as milp_learned
from solvers.milp.learned.network import available_models
from solvers.task_allocation.learned import solver as task_allocation_learned
from workers.child import preload_kinds


def test_preload_reads_the_learned_solvers_weights() -> None:
    task_allocation_learned.committed_policy.cache_clear()
    milp_learned.load_model.cache_clear()
    preload_kinds()
    assert task_allocation_learned.committed_policy.cache_info().currsize == 1
    assert milp_learned.load_model.cache_info().currsize == len(available_models()) > 0
