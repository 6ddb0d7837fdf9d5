"""Size caps enforced by every milp parser (a bigger model is refused with an error naming the cap)."""

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
