"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from explorer.cli import build_parser, main
from explorer.cli.command_commands import exec_parser
from explorer.cli.common import CliError, parse_time, streamed_table
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


def _sub_commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {**action.choices, "exec": exec_parser()}  # `exec` hands its arguments to a parser of its own


def test_every_argument_has_a_help_text() -> None:
    """`--from-position`, `--limit`, `--json`, `--at-*`, `--devices`, `--seed`, ... showed no help."""
    missing = [f"{name} {action.option_strings[0] if action.option_strings else action.dest}"
               for name, sub in _sub_commands().items() for action in sub._actions if not (action.help or "").strip()]
    assert missing == []


@pytest.mark.parametrize("args, missing", [
    (["search", "s.evstore", "-night"], "text"),
    (["state", "s.evstore", "-x"], "stream"),
])
def test_a_value_starting_with_a_dash_is_explained(args: list[str], missing: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """argparse said only "the following arguments are required: text"."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    prog = f"event-explorer {args[0]}"
    assert exit_.value.code == 2 and capsys.readouterr().err == (
        f"error: {args[-1]!r} is not an option of {prog}, so {missing} is missing; to give a value that starts "
        f"with '-', put -- before it ({prog} ... -- {args[-1]}) (see `{prog} --help`)\n")


def test_other_missing_arguments_keep_argparse_s_words(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["search", "s.evstore"], ["search", "s.evstore", "--json"], ["search", "s.evstore", "--limit", "-5"]):
        with pytest.raises(SystemExit):
            main(args)
        assert capsys.readouterr().err == ("error: the following arguments are required: text "
                                           "(see `event-explorer search --help`)\n"), args


def test_streamed_table_keeps_the_first_rows_widths() -> None:
    out = io.StringIO()
    rows = [["1", "ab", "x"], ["2", "abc", "y"], ["10", "abcdefg", "z"], ["11", "a\nb", "w"]]
    streamed_table(iter(rows), ["n", "name", "note"], out, sample=2, min_widths=[2])
    assert out.getvalue().splitlines() == [
        "n   name  note",
        "1   ab    x",
        "2   abc   y",
        "10  abcdefg  z",  # wider than the first rows: this row shifts, no cell is cut
        "11  a b   w",  # a control character prints as a space: the row stays one line
    ]
