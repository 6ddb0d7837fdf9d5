"""Options of the treemap solvers (importable without any native library)."""

from __future__ import annotations

from pydantic import Field

from solvers.base import CommonOptions
from solvers.treemap.solution import MAX_SLACK


class SquarifiedOptions(CommonOptions):
    """Options of ``squarified``."""


class SliceDiceOptions(CommonOptions):
    """Options of ``slice_dice``."""


class PolygonalOptions(CommonOptions):
    """Options of ``polygonal``."""

    directions: int = Field(
        8,
        ge=1,
        le=64,
        description="Cut directions tried per cut (evenly spread over 180°, both sides each), besides"
        " the corner bisectors; more is fatter and slower.",
    )


class SlackRectanglesOptions(CommonOptions):
    """Options of ``slack_rectangles``."""

    slack: float = Field(
        0.1,
        gt=0,
        le=MAX_SLACK,
        description="Area tolerance s: each region's area may lie in [a/(1+s), a(1+s)] of its share a,"
        " leaving gaps, in exchange for a bounded aspect ratio.",
    )
