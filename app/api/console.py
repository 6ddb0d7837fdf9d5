"""The web console: one static page and its script, served under /console (see app/console/)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.errors import ProblemError

router = APIRouter(include_in_schema=False)

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
# Same-origin script and style only; pictures come in as blob: URLs, so SVG never runs as a document.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/console")
def console_page() -> FileResponse:
    """The console's page; it signs in with an API key kept in the tab's sessionStorage."""
    return FileResponse(CONSOLE_DIR / "index.html", media_type="text/html", headers=HEADERS)


@router.get("/console/{name}")
def console_asset(name: str) -> FileResponse:
    """The console's script and stylesheet."""
    if name not in ASSETS:
        raise ProblemError(404, f"No console file {name!r}.")
    return FileResponse(CONSOLE_DIR / name, media_type=ASSETS[name], headers=HEADERS)
