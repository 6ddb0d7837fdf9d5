"""Pyomo models solved on the embedded server through SolverFactory("solvent"), against HiGHS run locally."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import pyomo.environ as pyo
import pytest
from pyomo.opt import SolverStatus, TerminationCondition

import solvent_client.pyomo  # noqa: F401 - registers the "solvent" solver with Pyomo
from tests.client.conftest import Server

FIXED = {"north": 10.0, "south": 12.0, "east": 9.0}
CUSTOMERS = [1, 2, 3, 4, 5]
COST = {
    ("north", 1): 2, ("north", 2): 4, ("north", 3): 5, ("north", 4): 7, ("north", 5): 3,
    ("south", 1): 3, ("south", 2): 1, ("south", 3): 2, ("south", 4): 4, ("south", 5): 6,
    ("east", 1): 6, ("east", 2): 5, ("east", 3): 1, ("east", 4): 2, ("east", 5): 4,
}  # fmt: skip
CAPACITY = 3


def facility_location() -> pyo.ConcreteModel:
    """Capacitated facility location: open facilities (y), assign every customer (x), least total cost."""
    m = pyo.ConcreteModel(name="facility")
    m.y = pyo.Var(list(FIXED), within=pyo.Binary)
    m.x = pyo.Var(list(COST), within=pyo.Binary)
    m.cost = pyo.Objective(expr=sum(FIXED[f] * m.y[f] for f in FIXED) + sum(COST[k] * m.x[k] for k in COST))
    m.served = pyo.Constraint(CUSTOMERS, rule=lambda m, c: sum(m.x[f, c] for f in FIXED) == 1)
    m.capacity = pyo.Constraint(list(FIXED), rule=lambda m, f: sum(m.x[f, c] for c in CUSTOMERS) <= CAPACITY * m.y[f])
    return m


def production_mix() -> pyo.ConcreteModel:
    """A small maximisation with an integer and a continuous variable and a constant in the objective."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(within=pyo.NonNegativeIntegers, bounds=(0, 10))
    m.y = pyo.Var(within=pyo.NonNegativeReals)
    m.profit = pyo.Objective(expr=5 * m.x + 4 * m.y + 2, sense=pyo.maximize)
    m.capacity = pyo.Constraint(expr=6 * m.x + 4 * m.y <= 24)
    m.mix = pyo.Constraint(expr=m.x + 2 * m.y <= 6)
    return m


def values(model: pyo.ConcreteModel) -> dict[str, float]:
    return {v.name: pyo.value(v) for v in model.component_data_objects(pyo.Var)}


def _solve_with_appsi_highs(build: Callable[[], pyo.ConcreteModel]) -> tuple[bool, float, dict[str, float]]:
    model = build()
    optimal = pyo.check_optimal_termination(pyo.SolverFactory("appsi_highs").solve(model))
    objective = next(model.component_data_objects(pyo.Objective, active=True))
    return optimal, float(pyo.value(objective)), values(model)


def solve_locally(build: Callable[[], pyo.ConcreteModel]) -> tuple[bool, float, dict[str, float]]:
    """Optimality, objective and values from HiGHS through Pyomo, run in a fresh process.

    Pyomo's appsi_highs leaves highspy in a state in which later HiGHS models built in the same process
    come back without a solution, so the local reference runs apart from the test process.
    """
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_solve_with_appsi_highs, build).result(timeout=120)


def test_facility_location_solved_remotely_matches_highs_solved_locally(server: Server) -> None:
    local_optimal, local_cost, local_values = solve_locally(facility_location)
    assert local_optimal
    remote = facility_location()
    opt = pyo.SolverFactory("solvent", url=server.url, key=server.key, solver="highs")
    results = opt.solve(remote, timelimit=60)
    assert pyo.check_optimal_termination(results)
    assert results.solver.termination_condition == TerminationCondition.optimal
    assert pyo.value(remote.cost) == pytest.approx(local_cost, abs=1e-9)
    assert results.problem.upper_bound == pytest.approx(local_cost, abs=1e-9)
    assert values(remote) == local_values  # integral values, the same optimum (it is unique here)
    assert opt.last_job is not None and opt.last_job.status == "succeeded"


def test_a_maximisation_with_continuous_variables_on_another_solver(server: Server) -> None:
    local_optimal, local_profit, _ = solve_locally(production_mix)
    assert local_optimal
    remote = production_mix()
    results = pyo.SolverFactory("solvent", url=server.url, key=server.key, solver="scip").solve(remote)
    assert pyo.check_optimal_termination(results)
    assert pyo.value(remote.profit) == pytest.approx(local_profit, abs=1e-6)
    assert results.problem.lower_bound == pytest.approx(local_profit, abs=1e-6)


def test_an_infeasible_model_maps_to_pyomo_infeasible_and_loads_nothing(server: Server) -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(within=pyo.Binary)
    m.y = pyo.Var(within=pyo.Binary)
    m.obj = pyo.Objective(expr=m.x + m.y)
    m.both = pyo.Constraint(expr=m.x + m.y >= 3)
    results = pyo.SolverFactory("solvent", url=server.url, key=server.key).solve(m)
    assert results.solver.termination_condition == TerminationCondition.infeasible
    assert results.solver.status == SolverStatus.warning
    assert not pyo.check_optimal_termination(results)
    assert m.x.value is None and m.y.value is None
