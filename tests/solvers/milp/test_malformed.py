"""The malformed-file set: every file yields InvalidInstance naming its line and the reason, nothing else."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from solvers.base import InvalidInstance
from solvers.milp import KIND

MALFORMED = Path(__file__).parent / "malformed"
CASES: dict[str, dict[str, object]] = json.loads((MALFORMED / "cases.json").read_text(encoding="utf-8"))


def test_the_set_has_at_least_fifteen_cases_of_each_format_in_total() -> None:
    assert len(CASES) >= 15
    assert {name.rsplit(".", 1)[1] for name in CASES} == {"mps", "lp"}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("encoding", ["plain", "gzip+base64"])
def test_malformed_file_gives_line_and_reason(name: str, encoding: str) -> None:
    data = (MALFORMED / name).read_bytes()
    text = data.decode("utf-8")
    model = text if encoding == "plain" else base64.b64encode(gzip.compress(data)).decode()
    with pytest.raises(InvalidInstance) as caught:
        KIND.parse({"format": name.rsplit(".", 1)[1], "model": model, "encoding": encoding})
    (error,) = caught.value.errors
    assert error["loc"] == ["model"]
    expected = CASES[name]
    assert error["msg"].startswith(f"line {expected['line']}: "), error["msg"]
    assert str(expected["reason"]) in error["msg"], error["msg"]


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("not base64 !!", "not valid base64"),
        (base64.b64encode(b"plain text, not gzip").decode(), "not valid gzip"),
        (base64.b64encode(gzip.compress(b"NAME X\nROWS\n")[:-12]).decode(), "truncated"),
        (base64.b64encode(gzip.compress(b"\xff\xfe NAME")).decode(), "not UTF-8"),
    ],
)
def test_broken_encodings_are_refused_with_the_reason(model: str, reason: str) -> None:
    with pytest.raises(InvalidInstance, match=reason):
        KIND.parse({"format": "mps", "model": model, "encoding": "gzip+base64"})


def test_a_gzip_bomb_stops_at_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from solvers.milp import schema

    monkeypatch.setattr(schema, "MAX_TEXT_BYTES", 1000)
    bomb = base64.b64encode(gzip.compress(b"*" * 100_000)).decode()
    with pytest.raises(InvalidInstance, match="over 1000 bytes"):
        KIND.parse({"format": "mps", "model": bomb, "encoding": "gzip+base64"})
