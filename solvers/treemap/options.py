"""Options of the treemap solvers (importable without any native library)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from solvers.base import CommonOptions
from solvers.treemap.schema import MAX_SLACK

#: The treemap layouts are deterministic constructions: no gap to close, no randomness, one thread.
NOT_USED: frozenset[str] = frozenset({"rel_gap", "seed", "threads"})


class SquarifiedOptions(CommonOptions):
    """Options of ``squarified``."""

    unused_common: ClassVar[frozenset[str]] = NOT_USED


class SliceDiceOptions(CommonOptions):
    """Options of ``slice_dice``."""

    unused_common: ClassVar[frozenset[str]] = NOT_USED


class PolygonalOptions(CommonOptions):
    """Options of ``polygonal``."""

    unused_common: ClassVar[frozenset[str]] = NOT_USED

    directions: int = Field(
        8,
        ge=1,
        le=64,
        description="Cut directions tried per cut (evenly spread over 180°, both sides each), besides"
        " the corner bisectors; more is fatter and slower.",
    )


class SlackRectanglesOptions(CommonOptions):
    """Options of ``slack_rectangles``."""

    unused_common: ClassVar[frozenset[str]] = NOT_USED

    slack: float = Field(
        0.1,
        gt=0,
        le=MAX_SLACK,
        description="Area tolerance s: each region's area may lie in [a/(1+s), a(1+s)] of its share a,"
        " leaving gaps, in exchange for a bounded aspect ratio.",
    )
