"""``batchdeck serve`` refuses a port or time scale it cannot use, in one plain line."""

from __future__ import annotations

import pytest

from tui.cli import main
from tui.localapi.clock import ScaledClock


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), float("-inf"), 0.0, -2.0])
def test_scaled_clock_refuses_a_scale_that_is_not_finite_and_positive(scale: float) -> None:
    with pytest.raises(ValueError, match="finite number greater than 0"):
        ScaledClock(scale)


def test_scaled_clock_takes_a_small_scale() -> None:
    assert ScaledClock(0.5, start=0.0, monotonic=lambda: 10.0)() == 0.0


@pytest.mark.parametrize("scale", ["nan", "inf", "-inf", "0", "-1"])
def test_serve_refuses_a_bad_time_scale(scale: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", f"--time-scale={scale}", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("batchdeck serve: ") and "time scale" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "http"])
def test_serve_refuses_a_port_out_of_range(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", port])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: batchdeck serve") and "argument --port" in err
    assert "Traceback" not in err


def test_web_port_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["web", "--port", "99999"])
    assert info.value.code == 2
    assert "99999 is not a port number" in capsys.readouterr().err


def _served_key(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> str | None:
    import tui.localapi.server

    seen: dict[str, str | None] = {}

    def fake_serve_main(**kwargs: object) -> int:
        seen["api_key"] = kwargs["api_key"]  # type: ignore[assignment]
        return 0

    monkeypatch.setattr(tui.localapi.server, "serve_main", fake_serve_main)
    assert main(["serve", *argv]) == 0
    return seen["api_key"]


def test_serve_reads_its_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHDECK_SERVE_API_KEY", "sk-from-env")
    assert _served_key(monkeypatch, []) == "sk-from-env"
    assert _served_key(monkeypatch, ["--api-key", "throwaway"]) == "throwaway"
    monkeypatch.setenv("BATCHDECK_SERVE_API_KEY", "")
    assert _served_key(monkeypatch, []) is None


def test_serve_help_says_the_flag_is_seen_by_ps(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "BATCHDECK_SERVE_API_KEY" in shown and "(ps)" in shown and "throwaway" in shown
