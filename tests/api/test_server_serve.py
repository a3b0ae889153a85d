"""``serve_main``: the foreground server behind ``batchdeck serve``."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import raw
from tui.localapi.server import bind_warning

SCRIPT = (
    "import sys\n"
    "from tui.localapi.server import serve_main\n"
    "sys.exit(serve_main(host='127.0.0.1', port=0, data_dir=sys.argv[1], upstream=None,"
    " time_scale=60.0, api_key='k', faults=sys.argv[2:]))\n"
)


def test_serve_main_runs_until_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), "latency:0.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("batchdeck server at http://127.0.0.1:") and first.endswith("/v1")
        url = first.split(" at ")[1].removesuffix("/v1")
        banner = [first]
        while "Ctrl+C" not in banner[-1]:
            banner.append(proc.stdout.readline())
            assert banner[-1], "serve_main stopped early"
        code, _, body = raw(url, "GET", "/v1/batches", key="k")
        assert code == 200 and body["object"] == "list"
        assert raw(url, "GET", "/v1/batches", key=None)[0] == 401
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    shown = "".join(banner)
    assert "time scale: x60" in shown and "faults:     latency:0.0" in shown
    assert out.strip() == "stopping…"
    assert (tmp_path / "data" / "server.json").exists()


def test_serve_main_refuses_a_bad_fault_spec(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), "sometimes"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 2 and "fault" in done.stderr


def test_a_public_bind_is_warned_about() -> None:
    assert bind_warning("127.0.0.1", None) is None
    assert bind_warning("::1", None) is None
    warning = bind_warning("0.0.0.0", None)
    assert warning and "0.0.0.0" in warning and "no API key" in warning
    keyed = bind_warning("10.0.0.2", "k")
    assert keyed and "no API key" not in keyed
