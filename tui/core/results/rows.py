"""Rows: what became of each request (:class:`ResultRow`, :class:`Outcome`).

A row holds only small fields (custom_id, line numbers, outcome, status, tokens and
the first bytes of the answer); the answer itself stays in its file and is read by
its byte offsets when shown.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import msgspec

from tui.core.errors import BatchdeckError

PREVIEW_CHARS = 160
SNIPPET_BYTES = PREVIEW_CHARS * 3  # of raw JSON kept per row: enough for the preview


class Outcome(StrEnum):
    """What became of one request."""

    OK = "ok"
    CUT_OFF = "cut_off"  # an answer, cut off by the token limit (finish_reason "length")
    HTTP_ERROR = "http_error"  # the model endpoint answered with a non-2xx status
    REQUEST_ERROR = "request_error"  # no response, for another reason than the two below
    NOT_RUN_CANCELLED = "not_run_cancelled"  # never run: the batch was cancelled first
    NOT_RUN_EXPIRED = "not_run_expired"  # never run: the batch expired first
    MISSING = "missing"  # in the input, in neither result file
    INVALID = "invalid"  # a result line that is not a valid result (its line number says where)


ANSWERED = frozenset({Outcome.OK, Outcome.CUT_OFF})
"""Outcomes that carry an answer."""

RETRYABLE = frozenset(
    {
        Outcome.HTTP_ERROR,
        Outcome.REQUEST_ERROR,
        Outcome.NOT_RUN_CANCELLED,
        Outcome.NOT_RUN_EXPIRED,
        Outcome.MISSING,
    }
)
"""Outcomes a retry can submit again (which of them: see ``exporting.retry_groups``)."""

OUTCOME_LABELS = {
    Outcome.OK: "ok",
    Outcome.CUT_OFF: "ok · cut off",
    Outcome.HTTP_ERROR: "HTTP error",
    Outcome.REQUEST_ERROR: "request error",
    Outcome.NOT_RUN_CANCELLED: "not run (cancelled)",
    Outcome.NOT_RUN_EXPIRED: "not run (expired)",
    Outcome.MISSING: "missing",
    Outcome.INVALID: "invalid line",
}

NOT_RUN_CODES = {
    "batch_cancelled": Outcome.NOT_RUN_CANCELLED,
    "batch_expired": Outcome.NOT_RUN_EXPIRED,
}
"""``error.code`` of a line with ``response: null`` that the batch never ran."""


def error_outcome(code: str | None) -> Outcome:
    """The outcome of a line with no response and this ``error.code``."""
    return NOT_RUN_CODES.get(code or "", Outcome.REQUEST_ERROR)


class NoResultsError(BatchdeckError):
    """The batch has no results to show (yet); the message says why, plainly."""


class ResultRow(msgspec.Struct, eq=False, weakref=True):
    """One request (or one stray result line) and what became of it.

    Only small fields: the answer itself stays in the file at ``source``/``line``.
    Rows compare by identity, so a set of rows is cheap. An index keeps its rows in
    columns and makes a row when asked (see :class:`~tui.core.results.columns.RowTable`);
    such a row reads its ``snippet`` from the file when its preview is first shown.
    """

    custom_id: str
    outcome: Outcome
    status: int = 0  # HTTP status code of the response; 0 when there was none
    error_code: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0  # total
    snippet: bytes | str | None = ""  # the answer's start: a JSON string prefix, or text
    input_line: int = 0  # 1-based line of the request in the input; 0 when unknown
    source: int = -1  # index of the result line's file in ResultIndex.sources
    line: int = 0  # 1-based line in that file
    attempt: int = 0  # which attempt the outcome comes from (0 = the batch itself)
    note: str = ""  # "duplicate", "not in input", "not valid JSON", ...
    load: Callable[[ResultRow], bytes | str] | None = None  # reads the snippet when None

    @property
    def preview(self) -> str:
        """One line of the answer (or error message), at most PREVIEW_CHARS."""
        snippet = self.snippet
        if snippet is None:
            snippet = self.snippet = self.load(self) if self.load is not None else ""
        if isinstance(snippet, bytes):
            text = _json_prefix(snippet)
            if not _closed(snippet):  # only the start of a longer answer was kept
                return _preview(text + " …")
            return _preview(text)
        return _preview(snippet)

    @property
    def label(self) -> str:
        """The outcome as a person reads it: ``ok``, ``HTTP 500``, ``batch_expired``..."""
        if self.outcome is Outcome.HTTP_ERROR:
            return f"HTTP {self.status}"
        if self.outcome is Outcome.REQUEST_ERROR:
            return self.error_code or "request error"
        return OUTCOME_LABELS[self.outcome]


ANY_DECODER = msgspec.json.Decoder()
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def _preview(text: str) -> str:
    from tui.core.text import one_line  # when shown: an index alone never needs it

    return one_line(" ".join(text[: PREVIEW_CHARS * 2].split()), PREVIEW_CHARS)


def _json_prefix(head: bytes) -> str:
    """The text of a JSON string literal of which ``head`` may be only the start
    (cut inside an escape or a UTF-8 sequence: the cut is moved back)."""
    if not head.startswith(b'"'):
        return ""
    for cut in range(len(head), max(len(head) - 8, 1), -1):
        piece = head[:cut]
        try:
            value = ANY_DECODER.decode(
                piece if cut == len(head) and _closed(piece) else piece + b'"'
            )
        except (*DECODE_ERRORS, ValueError):  # a cut UTF-8 sequence is a UnicodeDecodeError
            continue
        return value if isinstance(value, str) else ""
    return head[1:].decode("utf-8", "replace")


def _closed(piece: bytes) -> bool:
    """Whether a string literal ends here (a quote not escaped by a backslash)."""
    if len(piece) < 2 or not piece.endswith(b'"'):
        return False
    slashes = len(piece) - 1 - len(piece[:-1].rstrip(b"\\"))
    return slashes % 2 == 0
