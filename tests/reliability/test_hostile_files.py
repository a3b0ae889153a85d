"""Hostile request files through ``batchdeck validate`` and through the server's validator.

Every file in the table goes through the CLI (in process, ``main()``) and through
:func:`tui.localapi.validate.validate_input`; both must answer without a traceback,
and agree: the same verdict (accepted or refused) and the same line numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import Figures
from tests.unit.test_requests_hostile import GOOD, HOSTILE, request
from tui.cli import main
from tui.localapi.validate import validate_input

CHAT = "/v1/chat/completions"
GOOD_LINE = json.dumps(GOOD).encode()


def whole_files() -> dict[str, bytes]:
    """Files that are hostile as a whole, not by one line."""
    ok = [GOOD_LINE, request("r2"), request("r3")]
    return {
        "empty": b"",
        "only blank lines": b"\n\n  \n",
        "only a BOM": b"\xef\xbb\xbf\n",
        "a BOM before line 1": b"\xef\xbb\xbf" + b"\n".join(ok) + b"\n",
        "CRLF line ends": b"\r\n".join(ok) + b"\r\n",
        "no final newline": b"\n".join(ok),
        "a final blank line": b"\n".join(ok) + b"\n\n",
        "NUL bytes only": b"\x00" * 1000,
        "binary noise": bytes(range(256)) * 40,
        "one line of 100,000 brackets": b"{" * 100_000,
        "a duplicate custom_id": b"\n".join([*ok, GOOD_LINE]) + b"\n",
        "two models": b"\n".join([*ok, request("r4", body={"model": "o"})]) + b"\n",
        "a 1 MiB custom_id": request("x" * (1 << 20)) + b"\n",
        "100,000 unknown fields": json.dumps(
            {**GOOD, **{f"k{i}": i for i in range(100_000)}}
        ).encode(),
        "every hostile line at once": b"\n".join(
            [GOOD_LINE, *(line for line, *_ in HOSTILE.values())]
        )
        + b"\n",
    }


def hostile_files() -> dict[str, bytes]:
    files = {
        f"line: {name}": GOOD_LINE + b"\n" + line + b"\n" for name, (line, *_) in HOSTILE.items()
    }
    return {**files, **whole_files()}


def cli_verdict(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[bool, list[int | None], str]:
    code = main(["validate", "--json", "--no-estimate", "--endpoint", CHAT, str(path)])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    data: dict[str, Any] = json.loads(captured.out)
    return data["ok"], [p["line"] for p in data["problems"]], captured.err


def server_verdict(path: Path) -> tuple[bool, list[int | None]]:
    result = validate_input(path, CHAT)
    return result.ok, [e["line"] for e in result.errors]


def test_hostile_files_agree_without_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    tried = tracebacks = disagreements = 0
    failures: list[str] = []

    def attempt(name: str, action: Callable[[], Any]) -> Any:
        nonlocal tracebacks
        try:
            return action()
        except Exception as exc:  # counting them is the point
            tracebacks += 1
            failures.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
            return None

    for name, data in hostile_files().items():
        tried += 1
        path = tmp_path / "in.jsonl"
        path.write_bytes(data)
        client = attempt(f"validate {name}", lambda p=path: cli_verdict(p, capsys))
        served = attempt(f"server {name}", lambda p=path: server_verdict(p))
        if client is None or served is None:
            continue
        if "Traceback" in client[2]:
            tracebacks += 1
            failures.append(f"validate {name}: traceback on stderr")
        if client[:2] != served:
            disagreements += 1
            failures.append(f"{name}: client {client[:2]} != server {served}")

    figures("hostile inputs tried", tried)
    figures("tracebacks", tracebacks)
    figures("client/server disagreements", disagreements)
    assert tried >= 40
    assert failures == []
