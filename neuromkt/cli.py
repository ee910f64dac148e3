"""The ``neuromkt`` command line: a thin shell over the library.

Each subcommand is one ``_add_<name>_parser(subparsers)`` function that registers its
arguments and sets ``handler`` to a function ``(args) -> int``; adding a command means
writing that pair and listing the adder in ``_COMMANDS``. Errors in the user's input
(``NeuromktError``) print one plain line on stderr and exit with status 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from neuromkt.errors import NeuromktError

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str) -> Any:  # argparse's signature returns NoReturn
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def _add_check_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="load a table, check it and print its inferred schema as JSON",
        description="Load DATA, infer the role of every column and, with --target, check "
        "that it can train a model. Prints the schema as JSON.",
    )
    parser.add_argument("data", metavar="DATA", help="CSV, TSV, Excel, Parquet or JSON-lines file")
    parser.add_argument("--target", metavar="COL", help="column with the outcome to predict")
    parser.set_defaults(handler=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    from neuromkt.data import load_table
    from neuromkt.schema import infer_schema, validate_for_training

    frame = load_table(args.data)
    schema = infer_schema(frame, target=args.target)
    training_warnings = []
    if args.target is not None:
        training_warnings = validate_for_training(frame, schema)
    report = {
        "source": frame.attrs.get("source_name"),
        "n_rows": int(frame.shape[0]),
        "n_columns": int(frame.shape[1]),
        **schema.to_dict(),
        "load_warnings": list(frame.attrs.get("load_warnings", [])),
        "training_warnings": training_warnings,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return EXIT_OK


# One adder per subcommand; each registers its parser and sets ``handler``.
_COMMANDS: list[Callable[[Any], None]] = [_add_check_parser]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = _Parser(
        prog="neuromkt",
        description="Attention analytics for marketers: train an attention model on "
        "behaviour data and see what drives clicks and conversions.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for add in _COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except NeuromktError as exc:
        return _fail(str(exc))
    except FileNotFoundError as exc:
        return _fail(f"No file at {exc.filename or exc}.")
    except KeyboardInterrupt:
        return _fail("Stopped.")


def _fail(message: str) -> int:
    line = " ".join(message.split())
    print(f"neuromkt: {line}", file=sys.stderr)
    return EXIT_BAD_INPUT
