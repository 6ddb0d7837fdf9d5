"""A reader for the CPLEX LP file format (linear part).

Sections (keywords case-insensitive, at the start of a line): ``minimize|maximize`` (``min``, ``max``,
``minimise``…), ``subject to`` (``such that``, ``st``, ``s.t.``), ``bounds``, ``general(s)``/``gen``,
``binary``/``binaries``/``bin``, ``semi-continuous``/``semis``/``semi`` and ``end``. ``\\`` starts a comment.
Constraints are ``[name:] expression relation constant`` or ranges ``constant <= expression <= constant``;
constants on the expression side move to the right. The k-th row without a name is called ``Rk`` (``Rk_1``,
``Rk_2``… where a named row already has that name). Bounds are ``x <= u``, ``x >= l``, ``l <= x <= u``,
``x = v``, ``x free``, with ``inf``/``infinity``. Variables default to [0, +inf); a binary one is [0, 1]; a
semi-continuous one needs a finite upper bound. Quadratic terms, SOS, indicator and lazy-constraint sections
are refused with their line number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvers.base import Sense
from solvers.milp.numbers import INFINITE_BOUND, as_bound, text_lines
from solvers.milp.schema import (
    MAX_CONSTRAINTS,
    MAX_NAME_LENGTH,
    MAX_NONZEROS,
    MAX_VARIABLES,
    MilpModel,
    ModelTextError,
    VarType,
)

_SECTION_WORDS: dict[str, str] = {
    "minimize": "min", "minimise": "min", "minimum": "min", "min": "min",
    "maximize": "max", "maximise": "max", "maximum": "max", "max": "max",
    "subject to": "st", "such that": "st", "st": "st", "s.t.": "st", "st.": "st",
    "bounds": "bounds", "bound": "bounds",
    "general": "general", "generals": "general", "gen": "general",
    "binary": "binary", "binaries": "binary", "bin": "binary",
    "semi-continuous": "semi", "semis": "semi", "semi": "semi",
    "end": "end",
}  # fmt: skip
_REFUSED_WORDS = {
    "sos": "SOS constraints",
    "lazy constraints": "lazy constraints",
    "user cuts": "user cuts",
    "general constraints": "general constraints",
    "pwlobj": "a piecewise-linear objective",
}
_ALL_WORDS = sorted([*_SECTION_WORDS, *_REFUSED_WORDS], key=len, reverse=True)
_KEYWORD = re.compile(
    r"\s*(" + "|".join(re.escape(w) for w in _ALL_WORDS) + r")(?=$|[\s:])",
    re.IGNORECASE,
)  # fmt: skip
_TOKEN = re.compile(
    r"""(?:
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<rel><=|=<|>=|=>|<|>|=)
  | (?P<sign>[+-])
  | (?P<colon>:)
  | (?P<quad>[\[\]^*])
  | (?P<name>[A-Za-z_!"\#$%&()/,.;?@`'{}|~][A-Za-z0-9_!"\#$%&()/,.;?@`'{}|~]*)
  | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_INFINITY_WORDS = {"inf", "infinity"}


@dataclass(slots=True)
class _Token:
    kind: str  # num | rel | sign | colon | name
    text: str
    line: int


@dataclass
class _Row:
    name: str
    terms: dict[int, float]
    lb: float
    ub: float


def _tokenise(text: str, line_number: int) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "bad"
        value = match.group(kind)
        if kind == "quad":
            raise ModelTextError(line_number, f"{value!r}: quadratic terms are not supported (linear models only)")
        if kind == "bad":
            raise ModelTextError(line_number, f"unexpected character {value!r}")
        tokens.append(_Token(kind, value, line_number))
    return tokens


class _LpReader:
    def __init__(self) -> None:
        self.sense: Sense = "minimize"
        self.objective: dict[int, float] = {}
        self.offset = 0.0
        self.var_names: list[str] = []
        self.var_index: dict[str, int] = {}
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.types: list[VarType] = []
        self.rows: list[_Row] = []
        self.row_names: set[str] = set()
        self.nonzeros = 0

    def variable(self, token: _Token) -> int:
        name = token.text
        index = self.var_index.get(name)
        if index is not None:
            return index
        if len(name) > MAX_NAME_LENGTH:
            raise ModelTextError(token.line, f"variable name longer than {MAX_NAME_LENGTH} characters")
        if len(self.var_names) >= MAX_VARIABLES:
            raise ModelTextError(token.line, f"more than {MAX_VARIABLES} variables (the size limit)")
        self.var_index[name] = len(self.var_names)
        self.var_names.append(name)
        self.lb.append(0.0)
        self.ub.append(math.inf)
        self.types.append(VarType.continuous)
        return self.var_index[name]

    # -- sections ---------------------------------------------------------------------------------
    def read(self, text: str) -> MilpModel:
        sections: list[tuple[str, int, list[_Token]]] = []
        for line_number, raw_line in enumerate(text_lines(text), start=1):
            if "\x00" in raw_line:
                raise ModelTextError(line_number, "binary data (NUL byte) in the file")
            line = raw_line.split("\\", 1)[0]
            match = _KEYWORD.match(line)
            if match is not None:
                word = " ".join(match.group(1).lower().split())
                if word in _REFUSED_WORDS:
                    raise ModelTextError(line_number, f"section {word!r}: {_REFUSED_WORDS[word]} are not supported")
                section = _SECTION_WORDS[word]
                if section == "end":
                    break
                sections.append((section, line_number, []))
                line = line[match.end() :]
                if section in ("min", "max"):
                    line = line.lstrip().removeprefix(":")  # "max: 3 x + y"
            elif not sections and line.strip():
                raise ModelTextError(line_number, "an LP file starts with 'minimize' or 'maximize'")
            if sections:
                sections[-1][2].extend(_tokenise(line, line_number))
        if not sections or sections[0][0] not in ("min", "max"):
            raise ModelTextError(sections[0][1] if sections else 0, "an LP file starts with 'minimize' or 'maximize'")
        seen: set[str] = set()
        for section, line_number, tokens in sections:
            group = "objective" if section in ("min", "max") else section
            if group in seen and group in ("objective", "st", "bounds"):
                raise ModelTextError(line_number, f"a second {group} section")
            seen.add(group)
            if section in ("min", "max"):
                self.sense = "minimize" if section == "min" else "maximize"
                self.read_objective(tokens)
            elif section == "st":
                self.read_constraints(tokens)
            elif section == "bounds":
                self.read_bounds(tokens)
            else:
                self.read_type_list(section, tokens)
        return self.build()

    def read_objective(self, tokens: list[_Token]) -> None:
        position = 0
        if len(tokens) >= 2 and tokens[0].kind == "name" and tokens[1].kind == "colon":
            position = 2
        terms, constant, position = self.expression(tokens, position)
        if position < len(tokens):
            token = tokens[position]
            raise ModelTextError(token.line, f"unexpected {token.text!r} in the objective")
        self.objective = terms
        self.offset = constant

    def expression(self, tokens: list[_Token], position: int) -> tuple[dict[int, float], float, int]:
        """Read ``± [coef] name | ± constant`` terms up to a relation; returns terms, constant, position."""
        terms: dict[int, float] = {}
        constant = 0.0
        first = True
        while position < len(tokens) and tokens[position].kind != "rel":
            token = tokens[position]
            if token.kind == "colon":
                raise ModelTextError(token.line, "unexpected ':' (a name label must come first)")
            sign = 1.0
            if token.kind == "sign":
                sign = -1.0 if token.text == "-" else 1.0
                position += 1
                if position >= len(tokens):
                    raise ModelTextError(token.line, f"expression ends with {token.text!r}")
                token = tokens[position]
            elif not first:
                if token.kind == "name" and position + 1 < len(tokens) and tokens[position + 1].kind == "colon":
                    break  # the next constraint's label
                raise ModelTextError(token.line, f"expected '+' or '-' before {token.text!r}")
            first = False
            coefficient = 1.0
            if token.kind == "num":
                coefficient = float(token.text)
                if abs(coefficient) >= INFINITE_BOUND:
                    raise ModelTextError(token.line, f"number {token.text} is infinite or too large (≥ 1e20)")
                position += 1
                if position >= len(tokens) or tokens[position].kind != "name":
                    constant += sign * coefficient
                    continue
                token = tokens[position]
            if token.kind != "name":
                raise ModelTextError(token.line, f"expected a number or a variable, found {token.text!r}")
            if token.text.lower() in _INFINITY_WORDS:
                raise ModelTextError(token.line, "infinity is only allowed as a bound or right-hand side")
            index = self.variable(token)
            terms[index] = terms.get(index, 0.0) + sign * coefficient
            position += 1
        return terms, constant, position

    def constant(self, tokens: list[_Token], position: int, line: int) -> tuple[float, int]:
        """Read ``[sign] number | [sign] inf``; returns the value and the next position."""
        sign = 1.0
        if position < len(tokens) and tokens[position].kind == "sign":
            sign = -1.0 if tokens[position].text == "-" else 1.0
            position += 1
        if position >= len(tokens):
            raise ModelTextError(line, "a number is missing at the end")
        token = tokens[position]
        if token.kind == "num":
            return as_bound(sign * float(token.text)), position + 1
        if token.kind == "name" and token.text.lower() in _INFINITY_WORDS:
            return sign * math.inf, position + 1
        raise ModelTextError(token.line, f"expected a number, found {token.text!r}")

    def read_constraints(self, tokens: list[_Token]) -> None:
        position = 0
        while position < len(tokens):
            start = tokens[position]
            name = ""  # unnamed: named in build()
            if start.kind in ("name", "num") and position + 1 < len(tokens) and tokens[position + 1].kind == "colon":
                name = start.text
                position += 2
                if name in self.row_names:
                    raise ModelTextError(start.line, f"constraint {name!r} is defined twice")
            left: tuple[float, _Token] | None = None
            if self.starts_range(tokens, position):
                value, position = self.constant(tokens, position, start.line)
                left = (value, tokens[position])
                position += 1
            terms, constant, position = self.expression(tokens, position)
            if position >= len(tokens) or tokens[position].kind != "rel":
                raise ModelTextError(start.line, f"constraint {name!r} has no relation (<=, >= or =)")
            relation = tokens[position]
            value, position = self.constant(tokens, position + 1, relation.line)
            lo, up = self.row_bounds(relation, value - constant, left, constant)
            if len(self.rows) >= MAX_CONSTRAINTS:
                raise ModelTextError(start.line, f"more than {MAX_CONSTRAINTS} constraints (the size limit)")
            self.nonzeros += len(terms)
            if self.nonzeros > MAX_NONZEROS:
                raise ModelTextError(start.line, f"more than {MAX_NONZEROS} nonzeros (the size limit)")
            if name:
                self.row_names.add(name)
            self.rows.append(_Row(name, terms, lo, up))

    @staticmethod
    def row_bounds(
        relation: _Token, right: float, left: tuple[float, _Token] | None, constant: float
    ) -> tuple[float, float]:
        """Row bounds of ``[left rel] expression relation right`` (constants already moved right)."""
        less = relation.text in ("<=", "=<", "<")
        if left is None:
            if relation.text == "=":
                return right, right
            return (-math.inf, right) if less else (right, math.inf)
        left_value, left_relation = left[0] - constant, left[1]
        if relation.text == "=" or left_relation.text == "=":
            raise ModelTextError(relation.line, "a ranged constraint uses <= or >= on both sides, not '='")
        if (left_relation.text in ("<=", "=<", "<")) != less:
            raise ModelTextError(relation.line, "a ranged constraint needs both relations in the same direction")
        return (left_value, right) if less else (right, left_value)

    @staticmethod
    def starts_range(tokens: list[_Token], position: int) -> bool:
        """True when a constraint starts with ``[sign] constant relation`` (a ranged constraint)."""
        if position < len(tokens) and tokens[position].kind == "sign":
            position += 1
        if position + 1 >= len(tokens):
            return False
        token = tokens[position]
        is_constant = token.kind == "num" or (token.kind == "name" and token.text.lower() in _INFINITY_WORDS)
        return is_constant and tokens[position + 1].kind == "rel"

    def read_bounds(self, tokens: list[_Token]) -> None:
        position = 0
        while position < len(tokens):
            token = tokens[position]
            if token.kind == "name" and token.text.lower() not in _INFINITY_WORDS:
                index = self.variable(token)
                position += 1
                if (
                    position < len(tokens)
                    and tokens[position].kind == "name"
                    and tokens[position].text.lower() == "free"
                ):
                    self.lb[index], self.ub[index] = -math.inf, math.inf
                    position += 1
                    continue
                if position >= len(tokens) or tokens[position].kind != "rel":
                    raise ModelTextError(token.line, f"bound on {token.text!r} needs <=, >=, = or 'free'")
                relation = tokens[position]
                value, position = self.constant(tokens, position + 1, relation.line)
                self.apply_bound(index, relation, value, variable_first=True)
                continue
            value, position = self.constant(tokens, position, token.line)
            if position + 1 >= len(tokens) or tokens[position].kind != "rel" or tokens[position + 1].kind != "name":
                raise ModelTextError(token.line, "a bound reads 'l <= x', 'x <= u', 'l <= x <= u', 'x = v' or 'x free'")
            relation = tokens[position]
            index = self.variable(tokens[position + 1])
            position += 2
            self.apply_bound(index, relation, value, variable_first=False)
            if position < len(tokens) and tokens[position].kind == "rel":
                second = tokens[position]
                value, position = self.constant(tokens, position + 1, second.line)
                self.apply_bound(index, second, value, variable_first=True)

    def apply_bound(self, index: int, relation: _Token, value: float, variable_first: bool) -> None:
        text = relation.text
        if text == "=":
            if math.isinf(value):
                raise ModelTextError(relation.line, f"variable {self.var_names[index]!r} fixed at infinity")
            self.lb[index] = self.ub[index] = value
        elif (text in ("<=", "=<", "<")) == variable_first:
            self.ub[index] = value
        else:
            self.lb[index] = value

    def read_type_list(self, section: str, tokens: list[_Token]) -> None:
        for token in tokens:
            if token.kind != "name":
                raise ModelTextError(token.line, f"the {section} section lists variable names, found {token.text!r}")
            index = self.variable(token)
            if section == "general":
                self.types[index] = VarType.integer
            elif section == "binary":
                self.types[index] = VarType.integer
                self.lb[index], self.ub[index] = max(self.lb[index], 0.0), min(self.ub[index], 1.0)
            else:
                self.types[index] = VarType.semicontinuous

    def name_unnamed_rows(self) -> None:
        """Call the k-th row ``Rk`` when it has no name, or ``Rk_1``, ``Rk_2``… when a named row has that name."""
        for k, row in enumerate(self.rows, start=1):
            if row.name:
                continue
            name, suffix = f"R{k}", 0
            while name in self.row_names:
                suffix += 1
                name = f"R{k}_{suffix}"
            row.name = name
            self.row_names.add(name)

    def build(self) -> MilpModel:
        self.name_unnamed_rows()
        for j, kind in enumerate(self.types):
            if kind == VarType.semicontinuous and not (math.isfinite(self.ub[j]) and self.ub[j] > 0):
                raise ModelTextError(0, f"semi-continuous variable {self.var_names[j]!r} needs a finite positive bound")
        if not self.var_names:
            raise ModelTextError(0, "the model has no variables")
        n, m = len(self.var_names), len(self.rows)
        obj = np.zeros(n)
        for j, c in self.objective.items():
            obj[j] = c
        counts = [len(r.terms) for r in self.rows]
        row_idx = np.repeat(np.arange(m, dtype=np.int64), counts)
        col_idx = np.fromiter((j for r in self.rows for j in r.terms), dtype=np.int64, count=sum(counts))
        values = np.fromiter((c for r in self.rows for c in r.terms.values()), dtype=float, count=sum(counts))
        keep = values != 0.0
        matrix = sp.csr_matrix((values[keep], (row_idx[keep], col_idx[keep])), shape=(m, n))
        return MilpModel(
            name="",
            sense=self.sense,
            objective_offset=self.offset,
            var_names=self.var_names,
            var_types=np.array(self.types, dtype=np.int8),
            lb=np.array(self.lb, dtype=float),
            ub=np.array(self.ub, dtype=float),
            obj=obj,
            row_names=[r.name for r in self.rows],
            matrix=matrix,
            row_lb=np.array([r.lb for r in self.rows], dtype=float),
            row_ub=np.array([r.ub for r in self.rows], dtype=float),
            source_format="lp",
        )


def read_lp(text: str) -> MilpModel:
    """Parse CPLEX LP text; raises :class:`ModelTextError` with the line number on any problem."""
    return _LpReader().read(text)
