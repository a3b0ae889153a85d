"""The core helpers behind what users see of a batch and a file: the description
(the job's, else ``metadata.description``), metadata without batchdeck's token, an
uploaded file's name without the token prefix."""

from __future__ import annotations

from tui.core.models import Batch, batch_description, display_filename, shown_metadata
from tui.core.registry import Job

TOKEN = "bd-e28d0017b5eadf70"


def test_the_core_helpers() -> None:
    batch = Batch.from_dict(
        {"id": "b", "metadata": {"description": "nightly eval", "batchdeck_token": TOKEN}}
    )
    assert batch_description(batch, None) == "nightly eval"
    assert batch_description(batch, Job(description="mine")) == "mine"
    assert batch_description(batch, Job(description="")) == "nightly eval"
    assert batch_description(None, None) == ""
    assert shown_metadata(batch.metadata) == {"description": "nightly eval"}
    assert display_filename(f"{TOKEN}--reviews.batch.jsonl") == "reviews.batch.jsonl"
    assert display_filename("bd-notatoken--x.jsonl") == "bd-notatoken--x.jsonl"
    assert display_filename(f"{TOKEN}--") == f"{TOKEN}--"  # nothing left: as it is
    assert display_filename("plain.jsonl") == "plain.jsonl"
