"""Where batchdeck keeps its files.

platformdirs picks the per-user locations; ``BATCHDECK_CONFIG_DIR`` and
``BATCHDECK_DATA_DIR`` override them (tests and the demo use throw-away dirs).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "batchdeck"


def config_dir() -> Path:
    """The directory of ``config.toml`` and the job registry."""
    override = os.environ.get("BATCHDECK_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The directory of downloaded files and caches."""
    override = os.environ.get("BATCHDECK_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def registry_dir() -> Path:
    """One TOML record per job lives here."""
    return config_dir() / "jobs"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents, each readable by the owner only (0700)."""
    from tui.core.fsutil import make_private_dirs

    return make_private_dirs(path)
