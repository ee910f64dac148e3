"""The ``neuromkt`` command line: a thin shell over the library.

Each subcommand is one ``_add_<name>_parser(subparsers)`` function that registers its
arguments and sets ``handler`` to a function ``(args) -> int``; adding a command means
writing that pair and listing the adder in ``_COMMANDS``. Errors in the user's input
(``NeuromktError``) print one plain line on stderr and exit with status 2; anything
else is a bug and keeps its traceback.

Long work (training, scoring, explaining, the report) draws a tqdm bar on stderr from
the library's ``on_progress`` reports (:mod:`neuromkt.progress`): rows done, rows/s and
time left. The bar is silent when stderr is not a terminal (a pipe, a log file), so
scripts see only the results. Per-row outputs keep the input's id columns (role
``id``), so their rows join back to the input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from neuromkt.errors import NeuromktError

if TYPE_CHECKING:
    import pandas as pd

    from neuromkt.model.bundle import ModelBundle
    from neuromkt.progress import OnProgress, Progress

__all__ = ["build_parser", "main", "progress_bar", "with_ids"]

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str) -> Any:  # argparse's signature returns NoReturn
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


@contextmanager
def progress_bar(file: IO[str] | None = None) -> Iterator[OnProgress]:
    """A tqdm bar on ``file`` (stderr) driven by ``on_progress`` reports.

    Shows the message, rows done of all, rows/s and time left; training adds its loss.
    Silent when ``file`` is not a terminal.
    """
    from tqdm import tqdm

    bar = tqdm(total=0, unit="rows", file=file or sys.stderr, disable=None, dynamic_ncols=True)

    def update(progress: Progress) -> None:
        if bar.disable:
            return
        bar.total, bar.unit = progress.total, progress.unit
        bar.set_description_str(progress.message, refresh=False)
        loss = getattr(progress, "loss", None)
        if loss is not None:
            bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
        bar.update(progress.done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def _add_check_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="load a table, check it and print its inferred schema as JSON",
        description="Load DATA, infer the role of every column and, with --target, check "
        "that it can train a model. Prints the schema as JSON.",
    )
    parser.add_argument("data", metavar="DATA", help="CSV, TSV, Excel, Parquet or JSON-lines file")
    parser.add_argument("--target", metavar="COL", help="column with the outcome to predict")
    parser.set_defaults(handler=_run_check, needs_torch=False)


def _run_check(args: argparse.Namespace) -> int:
    from neuromkt.data.load import load_table
    from neuromkt.data.schema import infer_schema, validate_for_training

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


def _add_train_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train an attention model and save it as a bundle folder",
        description="Train an attention model on DATA to predict --target and save the "
        "bundle to --out. Progress goes to stderr; the last line on stdout is a JSON "
        "object of validation metrics.",
    )
    parser.add_argument("data", metavar="DATA", help="the training table")
    parser.add_argument("--target", metavar="COL", required=True, help="outcome column")
    parser.add_argument("--out", metavar="MODEL_DIR", required=True, help="bundle folder")
    parser.add_argument(
        "--text",
        metavar="COL",
        action="append",
        default=[],
        help="treat COL as text or an event sequence (repeatable)",
    )
    parser.add_argument(
        "--ignore",
        metavar="COL",
        action="append",
        default=[],
        help="leave COL out of the model (repeatable)",
    )
    parser.add_argument("--epochs", type=int, default=30, help="most epochs (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--size",
        choices=["small", "default", "large"],
        default="default",
        help="model size preset (default: default)",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="train with N processes (DDP via torchrun)"
    )
    _add_stream_argument(parser)
    parser.set_defaults(handler=_run_train)


def _add_stream_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stream",
        action="store_true",
        help="read DATA in chunks, never as one table (automatic for a Parquet folder, a "
        "glob, or data over $NEUROMKT_MEMORY_BUDGET_MB)",
    )


def _run_train(args: argparse.Namespace) -> int:
    from neuromkt import cli_scale
    from neuromkt.data.load import load_table
    from neuromkt.data.schema import infer_schema
    from neuromkt.errors import DataError
    from neuromkt.model.bundle import save_bundle
    from neuromkt.model.network import ModelConfig
    from neuromkt.model.train_config import TrainConfig
    from neuromkt.model.training import TrainProgress, fit

    if args.workers is not None and not cli_scale.ddp.launched():
        return cli_scale.launch_workers(args.workers, args.argv)
    if cli_scale.streams(args, training=True):
        return cli_scale.run_train(args)
    frame = load_table(args.data)
    if args.target not in frame.columns:
        raise DataError(f"There is no column {args.target!r} in {args.data}.")
    schema = infer_schema(frame, target=args.target)
    for column, role in [*((c, "text") for c in args.text), *((c, "ignore") for c in args.ignore)]:
        schema = schema.with_role(column, role, frame)
    if args.epochs < 1:
        raise DataError(f"--epochs must be at least 1, not {args.epochs}.")

    with progress_bar() as bar:

        def report(progress: TrainProgress) -> None:
            bar(progress)
            if progress.validation is not None:
                shown = ", ".join(
                    f"{k} {v:.4f}" for k, v in progress.validation.items() if isinstance(v, float)
                )
                _say(
                    f"epoch {progress.epoch}/{progress.n_epochs}  loss {progress.loss:.4f}  "
                    f"{shown}  ({progress.elapsed_s:.0f}s)"
                )

        result = fit(
            frame,
            schema,
            ModelConfig.preset(args.size),
            TrainConfig(epochs=args.epochs, seed=args.seed),
            name=str(frame.attrs.get("source_name") or args.data),
            on_progress=report,
        )
        result.bundle.metrics["training"] = cli_scale.how_trained(result, rows=len(frame))
    path = save_bundle(result.bundle, args.out)
    _say(f"saved {path} (best epoch {result.best_epoch}, {result.seconds:.1f}s)")
    print(json.dumps(_nan_to_none(result.bundle.metrics["validation"])))
    return EXIT_OK


def _say(line: str) -> None:
    """One line of news on stderr, above a progress bar if one is drawn."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def _nan_to_none(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in metrics.items()}


def _add_predict_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="score a table with a saved model",
        description="Score every row of DATA with the model in MODEL_DIR and write the "
        "input rows plus a `score` column (and pred_<class> columns for multiclass).",
    )
    parser.add_argument("model", metavar="MODEL_DIR", help="bundle folder or .zip")
    parser.add_argument("data", metavar="DATA", help="the table to score")
    parser.add_argument("--out", metavar="FILE.csv", required=True, help="where to write")
    parser.add_argument(
        "--reasons",
        action="store_true",
        help="add a `top_drivers` column naming each row's three top drivers",
    )
    _add_stream_argument(parser)
    parser.set_defaults(handler=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from neuromkt import cli_scale
    from neuromkt.act.export import to_csv_bytes
    from neuromkt.act.scoring import score_frame
    from neuromkt.data.load import load_table
    from neuromkt.model.bundle import load_bundle

    _check_out(args.out)
    if cli_scale.streams(args):
        return cli_scale.run_predict(args)
    bundle = load_bundle(args.model)
    frame = load_table(args.data)
    with progress_bar() as bar:
        scored = score_frame(bundle, frame, reasons=args.reasons, on_progress=bar)
    _write(args.out, to_csv_bytes(scored, excel=False))
    _say(f"wrote {len(scored):,} scored rows to {args.out}")
    return EXIT_OK


def _add_report_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the standalone HTML report",
        description="Write one self-contained HTML report (opens offline) about the model "
        "in MODEL_DIR applied to DATA.",
    )
    parser.add_argument("model", metavar="MODEL_DIR", help="bundle folder or .zip")
    parser.add_argument("data", metavar="DATA", help="the table to report on")
    parser.add_argument("--out", metavar="FILE.html", required=True, help="where to write")
    parser.add_argument("--title", help="the report's title")
    parser.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neuromkt.cli_scale import report_frame
    from neuromkt.model.bundle import load_bundle
    from neuromkt.report.document import build_report

    _check_out(args.out)
    bundle = load_bundle(args.model)
    frame = report_frame(args.data)
    with progress_bar() as bar:
        html = build_report(
            bundle, frame, title=args.title, dataset_name=Path(args.data).name, on_progress=bar
        )
    _write(args.out, html.encode("utf-8"))
    _say(f"wrote the report to {args.out}")
    return EXIT_OK


def _check_out(path: str) -> None:
    """Refuse an output path whose folder is missing before any long work starts."""
    from pathlib import Path

    from neuromkt.errors import DataError

    folder = Path(path).parent
    if not folder.is_dir():
        raise DataError(f"The folder {str(folder)!r} does not exist; create it first.")


def _write(path: str, payload: bytes) -> None:
    from pathlib import Path

    _check_out(path)
    Path(path).write_bytes(payload)


def _add_explain_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="per-row or global explanations (attributions or attention)",
        description="Explain the model in MODEL_DIR on DATA. With --out, write one row per "
        "input row and one column per feature; with --global, print a JSON ranking of "
        "features and tokens, largest importance first.",
    )
    parser.add_argument("model", metavar="MODEL_DIR", help="bundle folder or .zip")
    parser.add_argument("data", metavar="DATA", help="the rows to explain")
    parser.add_argument(
        "--method", choices=["ig", "gradshap", "deeplift", "ablation", "attention"],
        default="ig", help="ig (Integrated Gradients, default), gradshap, deeplift, "
        "ablation (model-agnostic) or attention ([CLS] attention)",
    )  # fmt: skip
    parser.add_argument("--out", metavar="FILE.csv", help="write the per-row table here")
    parser.add_argument(
        "--global", dest="global_", action="store_true", help="print the global ranking as JSON"
    )
    _add_stream_argument(parser)
    parser.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    from neuromkt import cli_scale
    from neuromkt.act.export import to_csv_bytes
    from neuromkt.data.load import load_table
    from neuromkt.errors import DataError
    from neuromkt.model.bundle import load_bundle

    if (args.out and args.global_) or cli_scale.streams(args):  # both from one computation
        return cli_scale.run_explain(args)
    if not args.out and not args.global_:
        raise DataError(
            "Say what to produce: --out FILE.csv for per-row values, --global "
            "for the ranking, or both."
        )
    if args.out:
        _check_out(args.out)
    bundle = load_bundle(args.model)
    frame = load_table(args.data)
    bundle.encoders.check_columns(frame)
    with progress_bar() as bar:  # one computation serves the table and the ranking
        if args.method == "attention":
            from neuromkt.explain.attention import compute_attention
            from neuromkt.explain.tables import attention_features, attention_summary

            maps = compute_attention(bundle, frame, on_progress=bar)
            table = attention_features(maps, frame) if args.out else None
            summary = attention_summary(maps, frame) if args.global_ else None
        else:
            from neuromkt.explain.attributions import attribute
            from neuromkt.explain.tables import attribution_summary

            result = attribute(bundle, frame, args.method, on_progress=bar)
            table = result.values.features
            summary = attribution_summary(result) if args.global_ else None
    if args.out:
        per_row = with_ids(table, bundle, frame)
        _write(args.out, to_csv_bytes(per_row, excel=False))
        _say(f"wrote {len(frame):,} explained rows to {args.out}")
    if summary is not None:
        print(json.dumps(summary, ensure_ascii=False))
    return EXIT_OK


def with_ids(table: pd.DataFrame, bundle: ModelBundle, frame: pd.DataFrame) -> pd.DataFrame:
    """``table`` (one row per row of ``frame``) led by ``frame``'s id columns, if any."""
    import pandas as pd

    ids = [c.name for c in bundle.schema.columns if c.role == "id" and c.name in frame.columns]
    return pd.concat([frame[ids], table], axis=1) if ids else table


def _add_sessions_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sessions",
        help="turn an event log into one row per session",
        description="Read an event log (CSV, JSON lines, Parquet or a folder of Parquet "
        "files; one row per event) and write one row per session to --out (.parquet or "
        ".csv). A new session starts after --gap-minutes without an event, or wherever "
        "--session-col changes. With --outcome EVENT each sequence stops just before the "
        "session's first EVENT and a 0/1 column named after it says whether it was reached. "
        "Notes go to stderr; the last line on stdout is a JSON summary.",
    )
    parser.add_argument("events", metavar="EVENTS", help="the event log: a file or a folder")
    parser.add_argument("--id", metavar="COL", required=True, help="user (or visitor) id")
    parser.add_argument("--time", metavar="COL", required=True, help="when each event happened")
    parser.add_argument("--event", metavar="COL", required=True, help="the event name")
    parser.add_argument("--session-col", metavar="COL", help="a session id from the log")
    parser.add_argument(
        "--gap-minutes", type=float, default=30.0, help="inactivity limit (default 30)"
    )
    parser.add_argument("--outcome", metavar="EVENT", help="the outcome event, e.g. purchase")
    parser.add_argument(
        "--outcome-days", type=float, metavar="N",
        help="the outcome is also 1 when the user does EVENT within N days after the session",
    )  # fmt: skip
    parser.add_argument("--item", metavar="COL", help="item/page column: tokens event:item")
    parser.add_argument(
        "--number", metavar="COL", action="append", default=[],
        help="per-event number, summed and averaged per session (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--keep", metavar="COL", action="append", default=[],
        help="per-session attribute, the session's first value (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--max-events", type=int, default=500, help="most recent events kept per session"
    )
    parser.add_argument(
        "--keep-duplicates", action="store_true",
        help="keep an event equal to the one before it (same id, time and event)",
    )  # fmt: skip
    parser.add_argument("--out", metavar="FILE", required=True, help="sessions .parquet or .csv")
    parser.set_defaults(handler=_run_sessions, needs_torch=False)


def _run_sessions(args: argparse.Namespace) -> int:
    from neuromkt.data.sessions import SessionConfig, build_sessions

    config = SessionConfig(
        id_column=args.id,
        time_column=args.time,
        event_column=args.event,
        session_column=args.session_col,
        item_column=args.item,
        numbers=tuple(args.number),
        keep=tuple(args.keep),
        gap_minutes=args.gap_minutes,
        outcome=args.outcome,
        outcome_days=args.outcome_days,
        max_events=args.max_events,
        drop_duplicates=not args.keep_duplicates,
    )
    summary = build_sessions(args.events, config, out=args.out).summary
    for note in summary.notes():
        print(note, file=sys.stderr)
    print(f"wrote {summary.sessions:,} sessions to {args.out}", file=sys.stderr)
    print(json.dumps(summary.to_dict(), ensure_ascii=False))
    return EXIT_OK


# One adder per subcommand; each registers its parser and sets ``handler``.
_COMMANDS: list[Callable[[Any], None]] = [
    _add_check_parser,
    _add_sessions_parser,
    _add_train_parser,
    _add_predict_parser,
    _add_explain_parser,
    _add_report_parser,
]


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
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for train --workers
    try:
        from neuromkt.model.threads import configure_threads, default_threads

        threads = default_threads()  # every command refuses a bad NEUROMKT_THREADS
        if getattr(args, "needs_torch", True):  # `check` starts faster without torch
            configure_threads(threads)
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
