"""The app imports its screens; the screens never import the app (no import circle):
what they need from it is in :mod:`tui.deck`."""

from __future__ import annotations

import subprocess
import sys


def test_screens_dialogs_and_widgets_load_without_the_app() -> None:
    code = (
        "import sys\n"
        "import tui.screens.batches, tui.screens.batch_detail, tui.screens.files\n"
        "import tui.screens.poller, tui.dialogs.batch_id_prompt, tui.palette\n"
        "print('tui.app' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_the_app_loads_its_screens_at_import() -> None:
    code = "import sys, tui.app\nprint('tui.screens.batches' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "True"


def test_the_first_frame_loads_no_more_than_it_shows() -> None:
    """What ``batchdeck`` imports before its first frame leaves out the SDKs (loaded
    after that frame), widgets the first screen does not have (a TextArea), the
    TOML reader (imported only when there is a config file to read), the command
    line's parser (argparse: a plain launch has no options to parse), what a config
    read does not need: the hooks' delivery (only their settings) and the request
    file check (only the per-file limits), and the JSON decoders (msgspec, json: the
    first frame is painted from the registry's cache, and no answer is decoded yet)."""
    code = (
        "import sys, tui.cli, tui.commands._shared, tui.app, tui.hangup, tui.core.registry\n"
        "late = ('openai', 'anthropic', 'textual.widgets._text_area', 'tui.palette',\n"
        "        'tomllib', 'argparse', 'tui.core.hooks', 'tui.core.request_report',\n"
        "        'msgspec', 'json')\n"
        "print([name for name in late if name in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
