"""Helpers shared by the CLI commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from explorer.cli.common import CliError, parse_time
from tests.helpers.cli import assert_one_error_line, run_cli


@pytest.mark.parametrize("text, expected", [
    ("2026-10-05T12:00:00Z", datetime(2026, 10, 5, 12, tzinfo=UTC)),
    ("2026-10-05T12:00:00z", datetime(2026, 10, 5, 12, tzinfo=UTC)),  # RFC 3339 allows a lowercase z
    ("2026-10-05t12:00:00+00:00", datetime(2026, 10, 5, 12, tzinfo=UTC)),
    (" 2026-10-05 12:00 ", datetime(2026, 10, 5, 12, tzinfo=UTC)),  # no zone: UTC
    ("2026-10-05T14:00:00+02:00", datetime(2026, 10, 5, 14, tzinfo=timezone(timedelta(hours=2)))),
    ("2026-10-05", datetime(2026, 10, 5, tzinfo=UTC)),
])
def test_parse_time_reads_iso_8601(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected and parse_time(text).utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["yesterday", "", "Z", "2026-13-01T00:00:00Z", "2026-10-05T12:00:00Zz"])
def test_parse_time_refuses_anything_else_with_an_example(text: str) -> None:
    with pytest.raises(CliError, match="is not an ISO 8601 date/time"):
        parse_time(text)


@pytest.mark.parametrize("args, words", [
    (["report"], "the following arguments are required"),
    (["info", "--bogus", "x"], "unrecognized arguments: --bogus"),
    (["events", "s.evstore", "--limit", "many"], "invalid int value: 'many'"),
])
def test_usage_errors_are_one_error_line(args: list[str], words: str) -> None:
    """The README's promise: errors are one line on stderr starting with `error:` (exit 2)."""
    result = run_cli(*args)
    assert words in assert_one_error_line(result) and "usage:" not in result.stderr
