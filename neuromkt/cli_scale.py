"""The command line beyond one machine: streamed and distributed train, predict, explain.

``neuromkt.cli`` hands a command over to this module when the data should not be one
frame (:func:`streams`: ``--stream`` was given, the input is a Parquet folder or a glob,
or it is larger than the memory budget ``$NEUROMKT_MEMORY_BUDGET_MB``), or when the
process is one rank of a ``torchrun`` job. ``neuromkt train --workers N`` starts that
job itself (:func:`launch_workers`); the same command runs unchanged under
``torchrun --nproc-per-node N -m neuromkt train …``, across machines too. Only rank 0
prints results and writes the bundle; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuromkt.data.stream import (
    SCORE_FACTOR,
    TRAIN_FACTOR,
    needs_streaming,
    open_source,
    sample_frame,
)
from neuromkt.errors import DataError
from neuromkt.model import distributed as ddp

__all__ = [
    "how_trained",
    "launch_workers",
    "report_frame",
    "run_explain",
    "run_predict",
    "run_train",
    "streams",
]

REPORT_ROWS = 200_000  # rows a report reads from a source that does not fit in memory
_WHOLE_SUFFIXES = (".xlsx", ".xlsm", ".json", ".jsonl", ".ndjson", ".zip", ".xls")


def streams(args: argparse.Namespace, *, training: bool = False) -> bool:
    """Whether this command should read ``args.data`` in chunks (see the module doc)."""
    if getattr(args, "stream", False) or ddp.launched():
        return True
    if not Path(args.data).is_file():
        return True  # a folder or a glob
    if Path(args.data).suffix.lower() in _WHOLE_SUFFIXES:
        return False
    try:
        source = open_source(args.data)
    except DataError:
        return False  # load_table reads what Arrow cannot (and explains what it cannot)
    return needs_streaming(source, factor=TRAIN_FACTOR if training else SCORE_FACTOR)


def _bar(total: int | None, unit: str, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, unit=unit, unit_scale=True, file=sys.stderr, disable=not show, mininterval=1.0
    )


# ---------------------------------------------------------------- train


def how_trained(result: Any, *, rows: int) -> dict[str, Any]:
    """The ``training`` record of a model trained in memory by one process."""
    from neuromkt.model.inference import pick_device
    from neuromkt.model.stream_training import how_trained as record

    device = pick_device(result.bundle.train_config.device).type
    return record(processes=1, rows=rows, seconds=result.seconds, streamed=False, device=device)


def launch_workers(n: int, argv: Sequence[str]) -> int:
    """Run this ``train`` command as ``torchrun --standalone --nproc-per-node n``.

    ``argv`` is the command line after ``neuromkt``; its ``--workers`` option is dropped.
    """
    if n < 1:
        raise DataError(f"--workers must be at least 1, not {n}.")
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            rest.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={n}", "-m", "neuromkt", *rest]
    shown = shlex.join(["torchrun", *command[3:]])
    print(f"neuromkt: starting {n} training processes: {shown}", file=sys.stderr, flush=True)
    code = subprocess.call(command)
    if code:
        print(
            f"neuromkt: the training job of {n} processes failed (exit status {code}); "
            "the messages above say why. No model was saved.",
            file=sys.stderr,
        )
    return 0 if code == 0 else 2


def run_train(args: argparse.Namespace) -> int:
    """``neuromkt train`` on a table read in chunks, alone or as one rank of a job."""
    from neuromkt.data.schema import infer_schema, validate_for_training
    from neuromkt.model.bundle import save_bundle
    from neuromkt.model.network import ModelConfig
    from neuromkt.model.stream_training import fit_streamed
    from neuromkt.model.train_config import TrainConfig

    if args.epochs < 1:
        raise DataError(f"--epochs must be at least 1, not {args.epochs}.")
    source = open_source(args.data)
    train_config = TrainConfig(epochs=args.epochs, seed=args.seed)
    with ddp.job(train_config.device) as ctx:
        sample = sample_frame(source)
        if args.target not in sample.columns:
            raise DataError(f"There is no column {args.target!r} in {args.data}.")
        schema = infer_schema(sample, target=args.target)  # as _run_train does on the frame
        for column, role in [
            *((c, "text") for c in args.text),
            *((c, "ignore") for c in args.ignore),
        ]:
            schema = schema.with_role(column, role, sample)
        validate_for_training(sample, schema)
        bar = _bar(None, "rows", ctx.is_main)

        def report(progress: Any) -> None:
            bar.total = progress.total
            bar.n = progress.done
            bar.refresh()
            if progress.validation is not None:
                shown = ", ".join(
                    f"{k} {v:.4f}" for k, v in progress.validation.items() if isinstance(v, float)
                )
                bar.write(
                    f"epoch {progress.epoch}/{progress.n_epochs}  loss {progress.loss:.4f}  "
                    f"{shown}  ({progress.elapsed_s:.0f}s)",
                    file=sys.stderr,
                )

        result = fit_streamed(
            source,
            schema,
            ModelConfig.preset(args.size),
            train_config,
            ctx=ctx,
            name=Path(args.data).name or args.data,
            on_progress=report,
        )
        bar.close()
        path = ddp.on_main(ctx, lambda: save_bundle(result.bundle, args.out))
    if ctx.is_main:
        how = result.bundle.metrics["training"]
        print(
            f"saved {path} (best epoch {result.best_epoch}, {result.seconds:.1f}s, "
            f"{how['rows']:,} rows, {how['processes']} process(es))",
            file=sys.stderr,
        )
        metrics = result.bundle.metrics["validation"]
        print(json.dumps({k: (None if v != v else v) for k, v in metrics.items()}))
    return 0


# ---------------------------------------------------------------- predict, explain, report


def run_predict(args: argparse.Namespace) -> int:
    """``neuromkt predict`` chunk by chunk; under torchrun the ranks share the rows."""
    from neuromkt.act.chunked import score_source
    from neuromkt.model.bundle import load_bundle

    bundle = load_bundle(args.model)
    source = open_source(args.data)
    with ddp.job() as ctx:
        bundle.model.to(ctx.device)
        bar = _bar(source.n_rows, "row", ctx.is_main)
        n = score_source(
            bundle, source, args.out, reasons=args.reasons, ctx=ctx, on_progress=bar.update
        )
        bar.close()
    if ctx.is_main:
        print(f"wrote {n:,} scored rows to {args.out}", file=sys.stderr)
    return 0


def run_explain(args: argparse.Namespace) -> int:
    """``neuromkt explain`` chunk by chunk: per-row table and ranking in one computation."""
    from neuromkt.act.chunked import explain_source
    from neuromkt.model.bundle import load_bundle

    if not args.out and not args.global_:
        raise DataError(
            "Say what to produce: --out FILE.csv for per-row values, --global "
            "for the ranking, or both."
        )
    bundle = load_bundle(args.model)
    source = open_source(args.data)
    with ddp.job() as ctx:
        bundle.model.to(ctx.device)
        bar = _bar(source.n_rows, "row", ctx.is_main)
        n, ranking = explain_source(
            bundle,
            source,
            method=args.method,
            out=args.out,
            ranking=args.global_,
            ctx=ctx,
            on_progress=bar.update,
        )
        bar.close()
    if ctx.is_main:
        if args.out:
            print(f"wrote {n:,} explained rows to {args.out}", file=sys.stderr)
        if ranking is not None:
            print(json.dumps(ranking, ensure_ascii=False))
    return 0


def report_frame(data: str) -> Any:
    """The rows ``neuromkt report`` reads: the whole table, or a spread sample of a large one."""
    from neuromkt.data.load import load_table
    from neuromkt.data.stream import read_frame

    if Path(data).is_file() and Path(data).suffix.lower() in _WHOLE_SUFFIXES:
        return load_table(data)
    try:
        source = open_source(data)
    except DataError:
        if Path(data).is_file():
            return load_table(data)  # its repairs, or its plain-language refusal
        raise
    if not needs_streaming(source, factor=SCORE_FACTOR):
        return load_table(data) if Path(data).is_file() else read_frame(source)
    frame = sample_frame(source, REPORT_ROWS)
    total = f"{source.n_rows:,}" if source.n_rows is not None else "all the"
    print(
        f"neuromkt: the report reads {len(frame):,} of {total} rows (the first rows of "
        "every file or row group).",
        file=sys.stderr,
    )
    return frame
