"""The milp instance and solution models (API.md): the size caps, the parsed :class:`MilpModel` every reader
produces and every back-end and the check read, and ``parse``, which turns any form into a model."""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from solvers.base import JSON, InvalidInstance, Sense, errors_from_validation
from solvers.milp.numbers import INFINITE_BOUND, as_bound

# Size caps enforced by every milp reader (a bigger model is refused with an error naming the cap).

#: Most variables (columns) a model may have.
MAX_VARIABLES = 1_000_000
#: Most constraints (rows) a model may have.
MAX_CONSTRAINTS = 1_000_000
#: Most nonzero coefficients in the constraint matrix.
MAX_NONZEROS = 10_000_000
#: Most bytes of model text (MPS or LP), after gzip+base64 decoding.
MAX_TEXT_BYTES = 32 * 1024 * 1024
#: Longest variable or constraint name, in characters.
MAX_NAME_LENGTH = 255


class ModelTextError(Exception):
    """A problem in a model file, with its 1-based line (0 when it is about the whole file)."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line else reason)


class VarType(IntEnum):
    """Variable domains; binary variables are integer variables with bounds within [0, 1]."""

    continuous = 0
    integer = 1
    semicontinuous = 2


@dataclass
class MilpModel:
    """A mixed-integer linear program: optimise c·x + offset s.t. row_lb ≤ A x ≤ row_ub, lb ≤ x ≤ ub.

    A semi-continuous variable takes 0 or a value in [lb, ub] (so any value of [lb, ub] when lb ≤ 0, and only
    0 when lb > ub). Infinite bounds are ±inf. ``notes`` are what the reader decided for the user (shown in
    the summary), e.g. an integer block it closed itself.
    """

    name: str
    sense: Sense
    objective_offset: float
    var_names: list[str]
    var_types: np.ndarray  # int8, VarType values
    lb: np.ndarray
    ub: np.ndarray
    obj: np.ndarray
    row_names: list[str]
    matrix: sp.csr_matrix  # rows × variables
    row_lb: np.ndarray
    row_ub: np.ndarray
    source_format: str = "json"
    var_index: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.var_index:
            self.var_index = {name: j for j, name in enumerate(self.var_names)}

    @property
    def num_vars(self) -> int:
        """Number of variables (columns)."""
        return len(self.var_names)

    @property
    def num_rows(self) -> int:
        """Number of constraints (rows)."""
        return len(self.row_names)

    @property
    def num_nonzeros(self) -> int:
        """Number of stored nonzero coefficients of the constraint matrix."""
        return int(self.matrix.nnz)

    @property
    def num_integer(self) -> int:
        """Number of integer (including binary) variables."""
        return int(np.count_nonzero(self.var_types == VarType.integer))

    @property
    def num_binary(self) -> int:
        """Number of integer variables whose bounds lie within [0, 1]."""
        is_int = self.var_types == VarType.integer
        return int(np.count_nonzero(is_int & (self.lb >= 0) & (self.ub <= 1)))

    @property
    def num_semicontinuous(self) -> int:
        """Number of semi-continuous variables."""
        return int(np.count_nonzero(self.var_types == VarType.semicontinuous))

    @property
    def num_continuous(self) -> int:
        """Number of continuous variables."""
        return int(np.count_nonzero(self.var_types == VarType.continuous))

    @property
    def is_lp(self) -> bool:
        """True when no variable is integer or semi-continuous."""
        return self.num_continuous == self.num_vars

    def objective_value(self, x: np.ndarray) -> float:
        """c·x + offset, in the model's own sense."""
        return float(np.dot(self.obj, x)) + self.objective_offset

    def solution_dict(self, x: np.ndarray | list[float]) -> dict[str, dict[str, float]]:
        """The API's solution JSON ``{"values": {name: value}}`` with plain floats: integer variables rounded
        to whole numbers (a back-end's 5.999999999999977 is 6; the check then verifies these values), and
        no -0.0."""
        values = np.asarray(x, dtype=float)
        values = np.where(self.var_types == VarType.integer, np.round(values), values) + 0.0
        return {"values": {name: float(v) for name, v in zip(self.var_names, values, strict=True)}}


_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
_TOO_LARGE = "coefficient too large: magnitudes ≥ 1e20 mean infinity"
# base64 text is 4/3 of its bytes, plus line breaks.
_MAX_MODEL_CHARS = MAX_TEXT_BYTES * 3 // 2


class JsonVariable(BaseModel):
    """One variable of the JSON form; ``null`` bounds are infinite."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    type: Literal["continuous", "integer", "binary", "semicontinuous"] = "continuous"
    lb: float | None = Field(
        0.0, description="Lower bound; null is −inf. A semi-continuous variable is 0 or in [lb, ub]."
    )
    ub: float | None = Field(None, description="Upper bound; null is +inf.")
    obj: float = Field(0.0, description="Objective coefficient.")


class JsonConstraint(BaseModel):
    """One linear constraint lb ≤ Σ terms ≤ ub; equality when lb == ub."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    terms: dict[str, float] = Field(default_factory=dict, description="Variable name → coefficient.")
    lb: float | None = None
    ub: float | None = None


class JsonInstance(BaseModel):
    """The JSON form of a MILP."""

    model_config = _STRICT

    format: Literal["json"] = "json"
    name: str = Field("", max_length=MAX_NAME_LENGTH)
    sense: Literal["minimize", "maximize"] = "minimize"
    objective_offset: float = 0.0
    variables: list[JsonVariable] = Field(min_length=1, max_length=MAX_VARIABLES)
    constraints: list[JsonConstraint] = Field(default_factory=list, max_length=MAX_CONSTRAINTS)


class TextInstance(BaseModel):
    """An MPS or CPLEX LP file, as plain text or gzip-compressed then base64-encoded."""

    model_config = _STRICT

    format: Literal["mps", "lp"]
    model: str = Field(max_length=_MAX_MODEL_CHARS, description="The file text.")
    encoding: Literal["plain", "gzip+base64"] = "plain"
    mps_format: Literal["auto", "free", "fixed"] = Field(
        "auto", description="MPS only: 'fixed' reads fields by column position (names with spaces)."
    )


class Solution(BaseModel):
    """A solution: a value for every variable, by name."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, float]


def parse(raw: Any) -> MilpModel:
    """Validate any instance form of API.md and return the model; raises InvalidInstance only."""
    if not isinstance(raw, dict):
        raise InvalidInstance([{"loc": [], "msg": "the instance must be a JSON object"}])
    fmt = raw.get("format", "json")
    if fmt in ("mps", "lp"):
        try:
            text_instance = TextInstance.model_validate(raw)
        except ValidationError as exc:
            raise InvalidInstance(errors_from_validation(exc)) from None
        return _parse_text(text_instance)
    if fmt != "json":
        raise InvalidInstance([{"loc": ["format"], "msg": "format must be 'json', 'mps' or 'lp'"}])
    try:
        json_instance = JsonInstance.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInstance(errors_from_validation(exc)) from None
    return _model_from_json(json_instance)


def _decode_text(instance: TextInstance) -> str:
    if instance.encoding == "plain":
        if len(instance.model) > MAX_TEXT_BYTES:
            raise InvalidInstance(
                [{"loc": ["model"], "msg": f"model text over {MAX_TEXT_BYTES} bytes (the size limit)"}]
            )
        return instance.model
    try:
        compressed = base64.b64decode("".join(instance.model.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInstance([{"loc": ["model"], "msg": "not valid base64 (encoding is 'gzip+base64')"}]) from None
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        data = inflater.decompress(compressed, MAX_TEXT_BYTES + 1)
    except zlib.error as exc:
        raise InvalidInstance([{"loc": ["model"], "msg": f"not valid gzip data ({exc})"}]) from None
    if len(data) > MAX_TEXT_BYTES:
        raise InvalidInstance(
            [{"loc": ["model"], "msg": f"decompressed model over {MAX_TEXT_BYTES} bytes (the size limit)"}]
        )
    if not inflater.eof:
        raise InvalidInstance([{"loc": ["model"], "msg": "gzip data is truncated"}])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInstance(
            [{"loc": ["model"], "msg": f"decompressed model is not UTF-8 text (byte {exc.start})"}]
        ) from None


def _parse_text(instance: TextInstance) -> MilpModel:
    # Imported here: each reader is only needed for its own format.
    from solvers.milp.lp_format import read_lp
    from solvers.milp.mps_format import read_mps

    text = _decode_text(instance)
    try:
        if instance.format == "lp":
            return read_lp(text)
        if instance.mps_format != "auto":
            return read_mps(text, fixed=instance.mps_format == "fixed")
        try:
            return read_mps(text, fixed=False)
        except ModelTextError as free_error:
            try:
                return read_mps(text, fixed=True)
            except ModelTextError:
                raise free_error from None
    except ModelTextError as exc:
        raise InvalidInstance([{"loc": ["model"], "msg": str(exc)}]) from None


def _bound(value: float | None, default: float) -> float:
    return default if value is None else as_bound(value)


def _model_from_json(instance: JsonInstance) -> MilpModel:
    errors: list[JSON] = []
    index: dict[str, int] = {}
    for j, var in enumerate(instance.variables):
        if var.name in index:
            errors.append({"loc": ["variables", j, "name"], "msg": f"variable name {var.name!r} is used twice"})
        else:
            index[var.name] = j
    # The matrix is built in CSR form directly, each row's columns in order (the canonical form scipy's
    # COO-to-CSR conversion gives, at a fraction of its fixed cost for a small model).
    indptr: list[int] = [0]
    cols: list[int] = []
    vals: list[float] = []
    row_names: set[str] = set()
    for i, con in enumerate(instance.constraints):
        if con.name in row_names:
            errors.append({"loc": ["constraints", i, "name"], "msg": f"constraint name {con.name!r} is used twice"})
        row_names.add(con.name)
        row_entries: list[tuple[int, float]] = []
        for var_name, coef in con.terms.items():
            if var_name not in index:
                errors.append({"loc": ["constraints", i, "terms", var_name], "msg": f"unknown variable {var_name!r}"})
                continue
            if abs(coef) >= INFINITE_BOUND:
                errors.append({"loc": ["constraints", i, "terms", var_name], "msg": _TOO_LARGE})
                continue
            if coef != 0.0:
                row_entries.append((index[var_name], coef))
        row_entries.sort()
        cols.extend(column for column, _ in row_entries)
        vals.extend(coef for _, coef in row_entries)
        indptr.append(len(cols))
        if len(vals) > MAX_NONZEROS:
            errors.append(
                {
                    "loc": ["constraints", i],
                    "msg": f"more than {MAX_NONZEROS} nonzeros in all (the size limit)",
                }
            )
            break
    if abs(instance.objective_offset) >= INFINITE_BOUND:
        errors.append({"loc": ["objective_offset"], "msg": _TOO_LARGE})
    for j, var in enumerate(instance.variables):
        if abs(var.obj) >= INFINITE_BOUND:
            errors.append({"loc": ["variables", j, "obj"], "msg": _TOO_LARGE})
        if var.type == "semicontinuous" and (var.ub is None or not math.isfinite(as_bound(var.ub)) or var.ub <= 0):
            errors.append(
                {
                    "loc": ["variables", j, "ub"],
                    "msg": "a semi-continuous variable needs a finite positive ub",
                }
            )
    if errors:
        raise InvalidInstance(errors)
    n, m = len(instance.variables), len(instance.constraints)
    lb = np.array([_bound(v.lb, -math.inf) for v in instance.variables], dtype=float)
    ub = np.array([_bound(v.ub, math.inf) for v in instance.variables], dtype=float)
    types = np.zeros(n, dtype=np.int8)
    for j, var in enumerate(instance.variables):
        if var.type == "binary":
            types[j] = VarType.integer
            lb[j], ub[j] = max(lb[j], 0.0), min(ub[j], 1.0)
        elif var.type == "integer":
            types[j] = VarType.integer
        elif var.type == "semicontinuous":
            types[j] = VarType.semicontinuous
    return MilpModel(
        name=instance.name,
        sense=instance.sense,
        objective_offset=instance.objective_offset,
        var_names=[v.name for v in instance.variables],
        var_types=types,
        lb=lb,
        ub=ub,
        obj=np.array([v.obj for v in instance.variables], dtype=float),
        row_names=[c.name for c in instance.constraints],
        matrix=sp.csr_matrix(
            (np.array(vals, dtype=float), np.array(cols, dtype=np.int32), np.array(indptr, dtype=np.int32)),
            shape=(m, n),
        ),
        row_lb=np.array([_bound(c.lb, -math.inf) for c in instance.constraints], dtype=float),
        row_ub=np.array([_bound(c.ub, math.inf) for c in instance.constraints], dtype=float),
        source_format="json",
    )
