"""What every kind in the registry promises the service, checked the same way for each.

Importing a kind (what the API process does) loads none of its solvers' modules nor the third-party
packages they bring; its example parses; garbage instances give only ``InvalidInstance`` and garbage
solutions never make ``check`` raise; its schemas are JSON; a learned solver's trainer is declared in
the registry. Kinds a test run adds through ``SOLVENT_EXTRA_KINDS`` (the fake kind) are not covered.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.base import InvalidInstance, Kind
from solvers.registry import KIND_MODULES, get_kind, trainers

KINDS = [name for name, module in KIND_MODULES.items() if module.startswith("solvers.")]
PROJECT = {"app", "workers", "solvers", "solvent_client"}
#: Data libraries a kind's parser and check may use as well as its solvers.
SHARED = {"numpy", "scipy", "pydantic"}


def _module_of(target: str) -> str:
    return target.partition(":")[0]


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _imported_by(module: str) -> set[str]:
    """The modules that ``module``'s source imports, at its top or inside functions."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    found: set[str] = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module.split(".")[0] in PROJECT:  # ``from solvers.milp import outcome`` names a module
                found.update(f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}"))
    return found


def _solver_packages(target_module: str) -> set[str]:
    """Third-party top packages a solver module imports, itself or through the project modules it imports."""
    seen: set[str] = set()
    packages: set[str] = set()
    todo = [target_module]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _imported_by(module):
            top = name.split(".")[0]
            if top in PROJECT:
                todo.append(name)
            elif top not in sys.stdlib_module_names:
                packages.add(top)
    return packages - SHARED


@functools.cache
def _packages_of_every_solver() -> dict[str, str]:
    """Third-party package -> the first solver (or trainer) module of the registry that imports it."""
    found: dict[str, str] = {}
    for name in KINDS:
        for spec in get_kind(name).solvers.values():
            for module in [_module_of(spec.target), *([spec.trainer] if spec.trainer else [])]:
                for package in _solver_packages(module):
                    found.setdefault(package, module)
    return found


@pytest.mark.parametrize("name", KINDS)
def test_importing_a_kind_loads_none_of_its_solvers(name: str) -> None:
    kind = get_kind(name)
    code = (
        "import importlib, json, sys; "
        f"kind = importlib.import_module({KIND_MODULES[name]!r}).KIND; kind.parse(kind.example); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(run.stdout))
    for spec in kind.solvers.values():
        target = _module_of(spec.target)
        assert target not in loaded, f"importing {name} loads the {spec.name} solver's module {target}"
    # any kind's solver packages: a kind must not load a native library even if only another kind uses it
    solver_packages = _packages_of_every_solver()
    brought = {top: solver_packages[top] for top in {module.split(".")[0] for module in loaded} & set(solver_packages)}
    assert not brought, f"importing {name} loads solver packages (package: a solver that needs it): {brought}"


@pytest.mark.parametrize("name", KINDS)
def test_the_check_loads_none_of_the_solvers(name: str) -> None:
    # the check shares no code with the solvers: importing it loads no solver module of its kind and no solver
    # package of any kind (a check may load an LP library lazily, when it checks a solution)
    kind = get_kind(name)
    checks = {kind.check.__module__} | ({kind.check_with_options.__module__} if kind.check_with_options else set())
    code = (
        "import importlib, json, sys; "
        f"kind = importlib.import_module({KIND_MODULES[name]!r}).KIND; "
        f"[importlib.import_module(module) for module in {sorted(checks)!r}]; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(run.stdout))
    targets = {_module_of(spec.target) for spec in kind.solvers.values()}
    assert not targets & loaded, f"{name}'s check loads solver modules {sorted(targets & loaded)}"
    packages = set(_packages_of_every_solver())
    brought = packages & {module.split(".")[0] for module in loaded}
    assert not brought, f"{name}'s check loads solver packages {sorted(brought)}"


def test_the_scan_finds_the_solver_packages() -> None:
    # imports inside functions and through the kind's own modules count; trainers count too
    assert {"highspy"} <= _solver_packages("solvers.milp.highs")
    assert {"highspy", "ortools"} <= _solver_packages("solvers.task_allocation.exact")
    assert {"highspy", "ortools", "pyscipopt", "torch"} <= set(_packages_of_every_solver())


@pytest.mark.parametrize("name", KINDS)
def test_the_example_parses_and_summarises_as_json(name: str) -> None:
    kind = get_kind(name)
    instance = kind.parse(json.loads(json.dumps(kind.example)))
    json.dumps(kind.summary(instance), allow_nan=False)
    assert kind.default_solver in kind.solvers


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


@pytest.mark.parametrize("name", KINDS)
def test_schemas_are_json_and_their_references_resolve(name: str) -> None:
    kind = get_kind(name)
    schemas = [kind.instance_schema, kind.result_schema]
    schemas += [spec.options.model_json_schema() for spec in kind.solvers.values()]
    for schema in schemas:
        json.dumps(schema, allow_nan=False)
        for ref in _references(schema):
            assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"], ref
    for key, spec in kind.solvers.items():
        assert spec.name == key and spec.options().time_limit_s > 0


@pytest.mark.parametrize("name", KINDS)
def test_trainers_are_declared_by_learned_solvers(name: str) -> None:
    kind = get_kind(name)
    declared = [spec for spec in kind.solvers.values() if spec.trainer]
    assert len(declared) <= 1, "`solvent train <kind>` names the kind only: one trained solver per kind"
    for spec in declared:
        assert spec.learned and spec.trainer is not None and _is_module(spec.trainer)
        assert trainers()[name] == spec.trainer


def _field_names(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        names = set(schema.get("properties", {}))
        return names | {name for value in schema.values() for name in _field_names(value)}
    if isinstance(schema, list):
        return {name for value in schema for name in _field_names(value)}
    return set()


def _garbage(schema: Any) -> st.SearchStrategy[Any]:
    """Any JSON, with object keys often taken from the schema so that garbage reaches deeper."""
    keys = st.text(max_size=8) | st.sampled_from(sorted(_field_names(schema)) or [""])
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
        max_leaves=25,
    )


GARBAGE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", KINDS)
def test_garbage_instances_give_only_invalid_instance(name: str) -> None:
    kind: Kind = get_kind(name)

    @GARBAGE
    @given(_garbage(kind.instance_schema))
    def parse_or_refuse(raw: Any) -> None:
        try:
            kind.parse(raw)
        except InvalidInstance as exc:
            assert exc.errors
            assert all(isinstance(error["loc"], list) and isinstance(error["msg"], str) for error in exc.errors)

    parse_or_refuse()


@pytest.mark.parametrize("name", KINDS)
def test_check_never_raises_on_garbage_solutions(name: str) -> None:
    kind: Kind = get_kind(name)
    instance = kind.parse(kind.example)

    @GARBAGE
    @given(_garbage(kind.result_schema))
    def check(solution: Any) -> None:
        for verdict in (kind.check(instance, solution), kind.verify(instance, solution, {})):
            assert isinstance(verdict.feasible, bool)
            assert verdict.feasible or verdict.message
            json.dumps(verdict.as_dict(), allow_nan=False)  # storable as strict JSON

    check()
