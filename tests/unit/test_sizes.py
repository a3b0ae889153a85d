"""One size format: decimal units, as the API's limits are read."""

from __future__ import annotations

from tui.core.sizes import format_size


def test_sizes_are_decimal_with_one_decimal_place() -> None:
    assert format_size(0) == "0 B"
    assert format_size(999) == "999 B"
    assert format_size(1000) == "1.0 kB"
    assert format_size(3174) == "3.2 kB"
    assert format_size(999_949) == "999.9 kB"
    assert format_size(999_999) == "1.0 MB"  # never "1000.0 kB"
    assert format_size(200_000_000) == "200.0 MB"  # the API's file limit, as it is read
    assert format_size(5 * 10**12) == "5.0 TB"
    assert format_size(5 * 10**15) == "5000.0 TB"
