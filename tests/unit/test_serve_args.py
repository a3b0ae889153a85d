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
