"""explain(): what happened to a batch, told apart from its fields alone."""

from __future__ import annotations

from typing import Any

from tui.core.explain import error_codes, explain
from tui.core.models import Batch, BatchErrorItem, RequestCounts

T0 = 1_700_000_000


def batch(status: str, **fields: Any) -> Batch:
    return Batch(
        id="batch_1",
        status=status,
        endpoint="/v1/chat/completions",
        input_file_id="file-in",
        created_at=T0,
        **fields,
    )


def test_a_batch_that_ran_and_whose_lines_failed_is_not_called_a_validation_failure() -> None:
    ran = batch(
        "failed",
        in_progress_at=T0 + 10,
        failed_at=T0 + 10 + 180,
        request_counts=RequestCounts(total=20, completed=0, failed=20),
    )
    said = explain(ran)
    assert said == "Failed after 3m running with 20 of 20 requests done (20 failed)."
    assert "Validation" not in said


def test_a_batch_that_ran_and_failed_names_the_error_codes() -> None:
    ran = batch(
        "failed",
        in_progress_at=T0,
        failed_at=T0 + 30,
        request_counts=RequestCounts(total=4, completed=1, failed=3),
        errors=(BatchErrorItem(code="server_error"),),
    )
    assert explain(ran) == (
        "Failed after 30s running with 4 of 4 requests done (3 failed). Errors: server_error."
    )


def test_validation_failure_counts_the_errors_and_names_their_codes() -> None:
    refused = batch(
        "failed",
        failed_at=T0 + 5,
        errors=(
            BatchErrorItem(code="invalid_json_line", line=3),
            BatchErrorItem(code="duplicate_custom_id", line=4),
            BatchErrorItem(code="invalid_json_line", line=7),
        ),
    )
    assert explain(refused) == (
        "Validation failed: the API refused the input file "
        "(3 error(s) below: invalid_json_line ×2, duplicate_custom_id)."
    )


def test_a_file_level_refusal_and_a_failure_without_reason() -> None:
    too_big = batch("failed", errors=(BatchErrorItem(code="token_limit_exceeded"),))
    assert explain(too_big) == "The API refused the batch before running it: token_limit_exceeded."
    assert explain(batch("failed")) == "Failed before running; the server gave no reason."


def test_completed_with_some_and_with_every_request_failed() -> None:
    some = batch(
        "completed",
        output_file_id="file-out",
        error_file_id="file-err",
        request_counts=RequestCounts(total=5, completed=3, failed=2),
    )
    assert explain(some) == (
        "Completed: 3 of 5 requests succeeded, 2 failed (their errors are in the error file)."
    )
    every = batch(
        "completed", error_file_id="file-err", request_counts=RequestCounts(total=3, failed=3)
    )
    assert explain(every) == "Every request failed (3 of 3): this batch has no output file."
    clean = batch("completed", output_file_id="f", request_counts=RequestCounts(3, 3, 0))
    assert explain(clean) is None


def test_expired_and_cancelled_say_how_far_they_got() -> None:
    expired = batch(
        "expired",
        in_progress_at=T0,
        expired_at=T0 + 24 * 3600,
        request_counts=RequestCounts(total=10, completed=6, failed=1),
    )
    assert explain(expired) == (
        "Expired: the 24h window ended after 1d running with 7 of 10 requests done (1 failed)."
    )
    cancelled = batch(
        "cancelled",
        in_progress_at=T0,
        cancelled_at=T0 + 120,
        request_counts=RequestCounts(total=20, completed=4),
    )
    assert explain(cancelled) == "Cancelled after 2m running with 4 of 20 requests done (0 failed)."
    never_started = batch("cancelled", cancelled_at=T0 + 5, request_counts=RequestCounts(total=2))
    assert explain(never_started) == "Cancelled with 0 of 2 requests done (0 failed)."


def test_running_batches_need_no_explanation() -> None:
    for status in ("validating", "in_progress", "finalizing"):
        assert explain(batch(status)) is None
    assert explain(batch("cancelling")) is not None


def test_error_codes_name_a_few_and_count_the_rest() -> None:
    many = batch(
        "failed",
        errors=tuple(BatchErrorItem(code=f"code_{n}", line=n) for n in range(5)),
    )
    assert error_codes(many) == "code_0, code_1, code_2, 2 other code(s)"
    hostile = batch("failed", errors=(BatchErrorItem(code="a\x1b[2Jb\nc", line=1),))
    assert "\x1b" not in error_codes(hostile) and "\n" not in error_codes(hostile)
