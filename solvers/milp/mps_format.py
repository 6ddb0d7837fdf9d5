"""A reader for free and fixed MPS files (ROWS, COLUMNS with integer markers, RHS, RANGES, BOUNDS, OBJSENSE).

Conventions (those of HiGHS, SCIP and CPLEX):
* the first ``N`` row is the objective, other ``N`` rows are free rows and are dropped;
* a right-hand side on the objective row is minus the objective offset;
* only the first RHS, RANGES and BOUNDS vector (set name) is used, entries of other sets are ignored;
* a range R turns ``E`` rows into [rhs, rhs+R] (R > 0) or [rhs+R, rhs] (R < 0), ``L`` rows into
  [rhs−|R|, rhs] and ``G`` rows into [rhs, rhs+|R|];
* integer columns between ``INTORG``/``INTEND`` markers without any bound entry are binary; a bound entry
  on such a column replaces the implicit upper bound 1 by +inf before it is applied; an ``INTORG`` block
  still open when COLUMNS ends is closed there, and the model's notes say so;
* ``UP`` with a negative value on a column whose lower bound is 0 makes the lower bound −inf;
* bound and right-hand-side magnitudes ≥ 1e20 mean infinity;
* ``SC`` makes a semi-continuous column (0 or in [lb, value]); its value must be finite and positive.
Quadratic sections, SOS and indicator sections are refused with the line they start on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from solvers.base import Sense
from solvers.milp.numbers import INFINITE_BOUND, as_bound, parse_number, text_lines
from solvers.milp.schema import (
    MAX_CONSTRAINTS,
    MAX_NAME_LENGTH,
    MAX_NONZEROS,
    MAX_VARIABLES,
    MilpModel,
    ModelTextError,
    VarType,
)

_SECTIONS = {"NAME", "OBJSENSE", "OBJNAME", "ROWS", "COLUMNS", "RHS", "RANGES", "BOUNDS", "ENDATA"}
_REFUSED_SECTIONS = {
    "QUADOBJ": "a quadratic objective",
    "QMATRIX": "a quadratic objective",
    "QSECTION": "a quadratic objective",
    "QCMATRIX": "quadratic constraints",
    "CSECTION": "second-order cone constraints",
    "SOS": "SOS constraints",
    "INDICATORS": "indicator constraints",
    "LAZYCONS": "lazy constraints",
    "USERCUTS": "user cuts",
    "GENCONS": "general constraints",
    "PWLOBJ": "a piecewise-linear objective",
}
_VALUE_BOUNDS = {"UP", "LO", "FX", "LI", "UI", "SC"}
_FLAG_BOUNDS = {"FR", "MI", "PL", "BV"}
# Fixed MPS field columns (1-based inclusive): 2-3, 5-12, 15-22, 25-36, 40-47, 50-61.
_FIXED_FIELDS = ((1, 3), (4, 12), (14, 22), (24, 36), (39, 47), (49, 61))


@dataclass
class _Column:
    name: str
    integer: bool
    implicit_binary: bool
    lb: float = 0.0
    ub: float = math.inf
    cost: float = 0.0
    semicontinuous: bool = False
    rows: dict[int, float] = field(default_factory=dict)


class _MpsReader:
    """Reads one MPS text; ``fixed`` selects column-position fields (names may contain spaces)."""

    def __init__(self, text: str, fixed: bool) -> None:
        self.text = text
        self.fixed = fixed
        self.name = ""
        self.sense: Sense = "minimize"
        self.objective_name: str | None = None
        self.objective_row: str | None = None
        self.free_rows: set[str] = set()
        self.row_index: dict[str, int] = {}
        self.row_types: list[str] = []
        self.row_names: list[str] = []
        self.rhs: dict[int, float] = {}
        self.ranges: dict[int, float] = {}
        self.offset = 0.0
        self.columns: list[_Column] = []
        self.column_index: dict[str, int] = {}
        self.nonzeros = 0
        self.in_integer_block = False
        self.integer_block_line = 0
        self.notes: list[str] = []
        self.rhs_set: str | None = None
        self.range_set: str | None = None
        self.bound_set: str | None = None
        self.bounded: set[int] = set()

    # -- tokenising -------------------------------------------------------------------------------
    def fields(self, line: str, lineno: int, with_type: bool) -> list[str]:
        """The fields of a data line: whitespace-separated (free) or by column position (fixed).

        In fixed format the type field (columns 2-3) is kept only where the section has one.
        """
        if not self.fixed:
            return line.split()
        parts = [line[a:b].strip() for a, b in _FIXED_FIELDS[0 if with_type else 1 :]]
        if len(line.rstrip()) > 61:
            raise ModelTextError(lineno, "text beyond column 61 in a fixed-format MPS line (try mps_format 'free')")
        while parts and not parts[-1]:
            parts.pop()
        return parts

    def number(self, token: str, lineno: int, what: str) -> float:
        value = parse_number(token)
        if value is None:
            raise ModelTextError(lineno, f"{what} {token!r} is not a number")
        return value

    def check_name(self, name: str, lineno: int, what: str) -> None:
        if not name:
            raise ModelTextError(lineno, f"missing {what} name")
        if len(name) > MAX_NAME_LENGTH:
            raise ModelTextError(lineno, f"{what} name longer than {MAX_NAME_LENGTH} characters")

    # -- driver -----------------------------------------------------------------------------------
    def read(self) -> MilpModel:
        section: str | None = None
        ended = False
        lineno = 0
        for lineno, raw_line in enumerate(text_lines(self.text), start=1):
            line = raw_line.rstrip()
            if not line.strip() or line.lstrip().startswith("*"):
                continue
            if "\x00" in line:
                raise ModelTextError(lineno, "binary data (NUL byte) in the file")
            if not line[0].isspace():
                head, *more = line.split(None, 1)
                rest = more[0] if more else ""
                keyword = head.upper()
                if keyword in _REFUSED_SECTIONS:
                    raise ModelTextError(
                        lineno,
                        f"section {keyword}: {_REFUSED_SECTIONS[keyword]} is not supported (linear only)",
                    )
                if keyword in _SECTIONS:
                    if section == "COLUMNS" and keyword != "COLUMNS":
                        self.close_integer_block(lineno)
                    section = keyword
                    if keyword == "ENDATA":
                        ended = True
                        break
                    self.section_header(keyword, rest.strip(), lineno)
                    continue
                if section is None:
                    raise ModelTextError(lineno, f"expected a section keyword such as NAME or ROWS, found {head!r}")
            if section is None:
                raise ModelTextError(lineno, "data before the first section (NAME or ROWS expected)")
            self.data_line(section, line, lineno)
        if not ended:
            raise ModelTextError(lineno, "file ends without ENDATA (truncated file?)")
        if self.objective_row is None and not self.row_names and not self.columns:
            raise ModelTextError(0, "no ROWS and no COLUMNS: this is not an MPS model")
        return self.build()

    def section_header(self, keyword: str, rest: str, lineno: int) -> None:
        if keyword == "NAME":
            self.name = rest
        elif keyword == "OBJSENSE" and rest:
            self.set_sense(rest, lineno)
        elif keyword == "OBJNAME" and rest:
            self.objective_name = rest
        elif keyword in {"ROWS", "COLUMNS", "RHS", "RANGES", "BOUNDS"} and rest:
            raise ModelTextError(lineno, f"unexpected text {rest!r} after section keyword {keyword}")

    def set_sense(self, token: str, lineno: int) -> None:
        word = token.strip().upper()
        if word in {"MAX", "MAXIMIZE", "MAXIMISE"}:
            self.sense = "maximize"
        elif word in {"MIN", "MINIMIZE", "MINIMISE"}:
            self.sense = "minimize"
        else:
            raise ModelTextError(lineno, f"OBJSENSE must be MIN or MAX, found {token.strip()!r}")

    def data_line(self, section: str, line: str, lineno: int) -> None:
        if section == "NAME":
            raise ModelTextError(lineno, "data after NAME; expected ROWS")
        if section == "OBJSENSE":
            self.set_sense(line, lineno)
        elif section == "OBJNAME":
            self.objective_name = line.strip()
        elif section == "ROWS":
            self.row_line(self.fields(line, lineno, True), lineno)
        elif section == "COLUMNS":
            self.column_line(self.fields(line, lineno, False), lineno)
        elif section == "RHS":
            self.rhs_line(self.fields(line, lineno, False), lineno)
        elif section == "RANGES":
            self.range_line(self.fields(line, lineno, False), lineno)
        elif section == "BOUNDS":
            self.bound_line(self.fields(line, lineno, True), lineno)

    # -- sections ---------------------------------------------------------------------------------
    def row_line(self, tokens: list[str], lineno: int) -> None:
        if len(tokens) != 2:
            raise ModelTextError(lineno, f"a ROWS line has a type and a name, found {len(tokens)} fields")
        kind, name = tokens[0].upper(), tokens[1]
        self.check_name(name, lineno, "row")
        if kind not in {"N", "E", "L", "G"}:
            raise ModelTextError(lineno, f"row type must be N, E, L or G, found {tokens[0]!r}")
        if name in self.row_index or name == self.objective_row or name in self.free_rows:
            raise ModelTextError(lineno, f"row {name!r} is defined twice")
        if kind == "N":
            wanted = self.objective_name is None or self.objective_name == name
            if self.objective_row is None and wanted:
                self.objective_row = name
            else:
                self.free_rows.add(name)
            return
        if len(self.row_names) >= MAX_CONSTRAINTS:
            raise ModelTextError(lineno, f"more than {MAX_CONSTRAINTS} constraints (the size limit)")
        self.row_index[name] = len(self.row_names)
        self.row_names.append(name)
        self.row_types.append(kind)

    def column_line(self, tokens: list[str], lineno: int) -> None:
        if len(tokens) >= 3 and tokens[1].strip("'\"").upper() == "MARKER":
            marker_token = next((t for t in tokens[2:] if t), "")
            marker = marker_token.strip("'\"").upper()
            if marker == "INTORG":
                if self.in_integer_block:
                    raise ModelTextError(lineno, "INTORG marker inside an integer block (missing INTEND)")
                self.in_integer_block = True
                self.integer_block_line = lineno
            elif marker == "INTEND":
                if not self.in_integer_block:
                    raise ModelTextError(lineno, "INTEND marker without a matching INTORG")
                self.in_integer_block = False
            else:
                raise ModelTextError(lineno, f"unknown marker {marker_token!r}; expected 'INTORG' or 'INTEND'")
            return
        if len(tokens) not in (3, 5):
            raise ModelTextError(
                lineno,
                f"a COLUMNS line has a column and one or two (row, value) pairs, found {len(tokens)} fields",
            )
        name = tokens[0]
        self.check_name(name, lineno, "column")
        column = self.current_column(name, lineno)
        for k in range(1, len(tokens), 2):
            row, value = tokens[k], self.number(tokens[k + 1], lineno, "coefficient")
            if abs(value) >= INFINITE_BOUND:
                raise ModelTextError(
                    lineno, f"coefficient of column {name!r} in row {row!r} is infinite or too large (≥ 1e20)"
                )
            if row == self.objective_row:
                column.cost = value
            elif row in self.free_rows:
                continue
            elif row in self.row_index:
                index = self.row_index[row]
                if index in column.rows:
                    raise ModelTextError(lineno, f"column {name!r} has a second coefficient in row {row!r}")
                if value != 0.0:
                    column.rows[index] = value
                    self.nonzeros += 1
                    if self.nonzeros > MAX_NONZEROS:
                        raise ModelTextError(lineno, f"more than {MAX_NONZEROS} nonzeros (the size limit)")
            else:
                raise ModelTextError(lineno, f"row {row!r} is not declared in ROWS")

    def close_integer_block(self, lineno: int) -> None:
        """End an integer block left open at the end of COLUMNS (as HiGHS and CPLEX read it), with a note."""
        if self.in_integer_block:
            self.in_integer_block = False
            self.notes.append(
                f"line {lineno}: the integer block opened by INTORG on line {self.integer_block_line} has no "
                "INTEND; it was closed at the end of COLUMNS"
            )

    def current_column(self, name: str, lineno: int) -> _Column:
        if self.columns and self.columns[-1].name == name:
            return self.columns[-1]
        if name in self.column_index:
            raise ModelTextError(lineno, f"entries of column {name!r} are not contiguous (it appeared before)")
        if len(self.columns) >= MAX_VARIABLES:
            raise ModelTextError(lineno, f"more than {MAX_VARIABLES} variables (the size limit)")
        integer = self.in_integer_block
        column = _Column(name=name, integer=integer, implicit_binary=integer, ub=1.0 if integer else math.inf)
        self.column_index[name] = len(self.columns)
        self.columns.append(column)
        return column

    def split_vector_line(self, tokens: list[str], lineno: int, section: str) -> tuple[str, list[str]]:
        """Split an RHS/RANGES line into (set name, [row, value, ...]); the set name may be omitted."""
        if len(tokens) in (3, 5):
            return tokens[0], tokens[1:]
        if len(tokens) in (2, 4):
            return "", tokens
        raise ModelTextError(
            lineno,
            f"a {section} line has an optional set name and one or two (row, value) pairs, found {len(tokens)} fields",
        )

    def rhs_line(self, tokens: list[str], lineno: int) -> None:
        set_name, pairs = self.split_vector_line(tokens, lineno, "RHS")
        if self.rhs_set is None:
            self.rhs_set = set_name
        if set_name != self.rhs_set:
            return
        for k in range(0, len(pairs), 2):
            row, value = pairs[k], as_bound(self.number(pairs[k + 1], lineno, "right-hand side"))
            if row == self.objective_row:
                if math.isinf(value):
                    raise ModelTextError(lineno, "infinite objective offset")
                self.offset = -value
            elif row in self.free_rows:
                continue
            elif row in self.row_index:
                index = self.row_index[row]
                if index in self.rhs:
                    raise ModelTextError(lineno, f"row {row!r} has a second right-hand side")
                self.rhs[index] = value
            else:
                raise ModelTextError(lineno, f"row {row!r} is not declared in ROWS")

    def range_line(self, tokens: list[str], lineno: int) -> None:
        set_name, pairs = self.split_vector_line(tokens, lineno, "RANGES")
        if self.range_set is None:
            self.range_set = set_name
        if set_name != self.range_set:
            return
        for k in range(0, len(pairs), 2):
            row, value = pairs[k], as_bound(self.number(pairs[k + 1], lineno, "range"))
            if row == self.objective_row or row in self.free_rows:
                raise ModelTextError(lineno, f"a range on the N row {row!r} has no meaning")
            if row not in self.row_index:
                raise ModelTextError(lineno, f"row {row!r} is not declared in ROWS")
            index = self.row_index[row]
            if index in self.ranges:
                raise ModelTextError(lineno, f"row {row!r} has a second range")
            self.ranges[index] = value

    def bound_line(self, tokens: list[str], lineno: int) -> None:
        if not tokens:
            return
        kind = tokens[0].upper()
        if kind in _VALUE_BOUNDS:
            if len(tokens) == 4:
                set_name, col_name, value_token = tokens[1], tokens[2], tokens[3]
            elif len(tokens) == 3:
                set_name, col_name, value_token = "", tokens[1], tokens[2]
            else:
                raise ModelTextError(lineno, f"a {kind} bound has an optional set name, a column and a value")
        elif kind in _FLAG_BOUNDS:
            value_token = ""
            if len(tokens) == 2:
                set_name, col_name = "", tokens[1]
            elif len(tokens) == 3 and tokens[2] in self.column_index:
                set_name, col_name = tokens[1], tokens[2]
            elif len(tokens) == 3:
                set_name, col_name, value_token = "", tokens[1], tokens[2]
            elif len(tokens) == 4:
                set_name, col_name, value_token = tokens[1], tokens[2], tokens[3]
            else:
                raise ModelTextError(lineno, f"a {kind} bound has an optional set name and a column")
        else:
            raise ModelTextError(
                lineno, f"bound type must be one of UP LO FX FR MI PL BV LI UI SC, found {tokens[0]!r}"
            )
        if self.bound_set is None:
            self.bound_set = set_name
        if set_name != self.bound_set:
            return
        if col_name not in self.column_index:
            raise ModelTextError(lineno, f"column {col_name!r} is not declared in COLUMNS")
        index = self.column_index[col_name]
        column = self.columns[index]
        value = as_bound(self.number(value_token, lineno, "bound")) if value_token else 0.0
        if column.implicit_binary:
            column.implicit_binary = False
            column.ub = math.inf
        self.apply_bound(column, kind, value, bool(value_token), lineno)

    def apply_bound(self, column: _Column, kind: str, value: float, has_value: bool, lineno: int) -> None:
        if kind in {"UP", "UI"}:
            if value < 0 and column.lb == 0:
                column.lb = -math.inf
            column.ub = value
        elif kind in {"LO", "LI"}:
            column.lb = value
        elif kind == "FX":
            if math.isinf(value):
                raise ModelTextError(lineno, f"column {column.name!r} fixed at an infinite value")
            column.lb = column.ub = value
        elif kind == "FR":
            column.lb, column.ub = -math.inf, math.inf
        elif kind == "MI":
            column.lb = -math.inf
        elif kind == "PL":
            column.ub = math.inf
        elif kind == "BV":
            if has_value and value not in (0.0, 1.0):
                raise ModelTextError(lineno, f"a BV bound value must be 0 or 1, found {value:g}")
            column.integer = True
            column.lb, column.ub = 0.0, 1.0
        elif kind == "SC":
            if not (math.isfinite(value) and value > 0):
                raise ModelTextError(
                    lineno, f"semi-continuous column {column.name!r} needs a finite positive upper bound"
                )
            if column.integer:
                raise ModelTextError(lineno, f"column {column.name!r}: semi-integer variables are not supported")
            column.semicontinuous = True
            column.ub = value
        if kind in {"LI", "UI"}:
            if column.semicontinuous:
                raise ModelTextError(lineno, f"column {column.name!r}: semi-integer variables are not supported")
            column.integer = True

    # -- model ------------------------------------------------------------------------------------
    def build(self) -> MilpModel:
        num_rows = len(self.row_names)
        rhs = np.zeros(num_rows)
        for index, value in self.rhs.items():
            rhs[index] = value
        row_lb = np.full(num_rows, -math.inf)
        row_ub = np.full(num_rows, math.inf)
        for i, kind in enumerate(self.row_types):
            r = self.ranges.get(i)
            if kind == "E":
                row_lb[i] = row_ub[i] = rhs[i]
                if r is not None and r > 0:
                    row_ub[i] = rhs[i] + r
                elif r is not None and r < 0:
                    row_lb[i] = rhs[i] + r
            elif kind == "L":
                row_ub[i] = rhs[i]
                if r is not None:
                    row_lb[i] = rhs[i] - abs(r)
            else:
                row_lb[i] = rhs[i]
                if r is not None:
                    row_ub[i] = rhs[i] + abs(r)
        n = len(self.columns)
        counts = np.fromiter((len(c.rows) for c in self.columns), dtype=np.int64, count=n)
        col_idx = np.repeat(np.arange(n, dtype=np.int64), counts)
        row_idx = np.fromiter((i for c in self.columns for i in c.rows), dtype=np.int64, count=int(counts.sum()))
        values = np.fromiter((v for c in self.columns for v in c.rows.values()), dtype=float, count=len(row_idx))
        matrix = sp.csr_matrix((values, (row_idx, col_idx)), shape=(num_rows, n))
        types = np.array(
            [
                VarType.semicontinuous if c.semicontinuous else VarType.integer if c.integer else VarType.continuous
                for c in self.columns
            ],
            dtype=np.int8,
        )
        return MilpModel(
            name=self.name,
            sense=self.sense,
            objective_offset=self.offset,
            var_names=[c.name for c in self.columns],
            var_types=types,
            lb=np.array([c.lb for c in self.columns], dtype=float),
            ub=np.array([c.ub for c in self.columns], dtype=float),
            obj=np.array([c.cost for c in self.columns], dtype=float),
            row_names=list(self.row_names),
            matrix=matrix,
            row_lb=row_lb,
            row_ub=row_ub,
            source_format="mps",
            notes=self.notes,
        )


def read_mps(text: str, fixed: bool = False) -> MilpModel:
    """Parse MPS text; raises :class:`ModelTextError` with the line number on any problem."""
    return _MpsReader(text, fixed).read()
