"""Options of the ``task_allocation`` solvers (importable without native code)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from solvers.base import CommonOptions


class ExactOptions(CommonOptions):
    """Options of the ``exact`` solver."""

    backend: Literal["highs", "cpsat"] = Field(
        "highs",
        description="MILP back-end: 'highs' (HiGHS branch-and-cut, any data; measured the faster on the "
        "benchmark) or 'cpsat' (OR-Tools CP-SAT; refused unless the data scales exactly to integers).",
    )
    reductions: bool = Field(
        True,
        description="Drop tasks no coalition can cover or profit from, agents useless everywhere, "
        "and merge identical agents into counted classes.",
    )
    warm_start: bool = Field(True, description="Start from the greedy allocation.")


class GreedyOptions(CommonOptions):
    """Options of the ``greedy`` solver."""

    rules: list[Literal["profit", "ratio"]] = Field(
        ["profit", "ratio"],
        min_length=1,
        description="Task-selection rules to run (each is one greedy pass); the best allocation is kept.",
    )


class GeneticOptions(CommonOptions):
    """Options of the ``genetic`` solver."""

    population_size: int = Field(30, ge=4, le=1000, description="Individuals per generation.")
    elite: int = Field(2, ge=1, le=100, description="Best individuals copied unchanged into the next generation.")
    tournament_size: int = Field(3, ge=2, le=20, description="Individuals compared per parent selection.")
    crossover_rate: float = Field(0.9, ge=0, le=1, description="Probability a child mixes two parents.")
    mutation_rate: float = Field(0.3, ge=0, le=1, description="Probability a child is mutated.")
    max_generations: int | None = Field(
        None, ge=1, le=1_000_000, description="Stop after this many generations (null: only time or stall)."
    )
    stall_generations: int = Field(
        200, ge=1, le=1_000_000, description="Stop after this many generations without improvement."
    )
