"""BatchDeckApp: the Textual application, built by :func:`make_app`."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding

from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Registry


def styles_dir() -> Path:
    """The ``.tcss`` files: inside the package when installed from a wheel,
    beside it (the repository's ``styles/``) in an editable install."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "styles", package.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FileNotFoundError(f"batchdeck's styles are missing (looked in {package})")


class BatchDeckApp(App[int]):
    """The batchdeck terminal app."""

    TITLE = "batchdeck"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self, config: Config, client: BatchClient, registry: Registry, profile: Profile
    ) -> None:
        super().__init__(css_path=[styles_dir() / "app.tcss"])
        self.config = config
        self.client = client
        self.registry = registry
        self.profile = profile
        self.sub_title = f"{profile.name} · {profile.host()}"

    def on_mount(self) -> None:
        from tui.screens.batches import BatchesScreen

        self.push_screen(BatchesScreen())
        self.reconcile_submissions()

    @work(exclusive=True, group="reconcile")
    async def reconcile_submissions(self) -> None:
        """Settle submits a crash or a lost connection left unfinished."""
        from tui.core.errors import ApiError
        from tui.core.journal import Journal

        try:
            settled = await Journal(self.registry, self.client, self.profile).reconcile()
        except ApiError as exc:
            self.notify(
                f"Could not check unfinished submissions: {exc.message}", severity="warning"
            )
            return
        for item in settled:
            where = f" as {item.batch_id}" if item.batch_id else ""
            self.notify(
                f"Interrupted submission {item.job_id}: {item.outcome}{where} ({item.detail})",
                severity="error" if item.outcome == "failed" else "information",
                markup=False,
            )

    async def on_unmount(self) -> None:
        self.registry.save_cache()
        await self.client.close()


def make_app(
    config: Config, client: BatchClient, registry: Registry, *, profile: Profile | None = None
) -> BatchDeckApp:
    """Build the app; the CLI and the tests both come through here."""
    return BatchDeckApp(config, client, registry, profile or config.profile())
