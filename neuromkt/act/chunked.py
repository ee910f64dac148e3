"""Scoring and explaining a table of any size: chunk in, chunk out, memory flat in rows.

:func:`score_source` and :func:`explain_source` read a
:class:`~neuromkt.data.stream.TableSource` chunk by chunk, run the same per-frame code as
the in-memory commands (:func:`neuromkt.act.scoring.score_frame`, the tables of
:mod:`neuromkt.explain.tables`) and append each result to the output as it comes:
Parquet when the name ends in ``.parquet``/``.pq``, else CSV (formulas neutralised, as
:func:`neuromkt.act.export.to_csv_bytes` does). ``--global`` rankings are means over
rows, so they are kept as running sums and counts and finished at the end, and the
per-row table and the ranking come from one computation.

In a DDP job (torchrun) each rank takes its share of the units and writes its chunks
as numbered part files next to the output; rank 0 joins them in input order. The
output appears at once, by rename, only when complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from neuromkt.act.export import neutralise_formulas
from neuromkt.act.scoring import score_frame
from neuromkt.data.stream import TableSource, iter_chunks
from neuromkt.errors import DataError
from neuromkt.model import distributed as ddp

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = ["GlobalRanking", "explain_source", "score_source"]

SCORE_ROWS = 16_384  # rows per chunk when scoring
EXPLAIN_ROWS = 2_048  # rows per chunk when explaining (attention maps grow with rows x T^2)
_PARQUET = (".parquet", ".pq")

Progress = Callable[[int], None]  # called with the rows just finished


# ---------------------------------------------------------------- writing


class _Writer:
    """Appends frames to a Parquet or CSV file; the first frame fixes the columns."""

    def __init__(self, path: Path, *, parquet: bool) -> None:
        self.path, self.parquet = path, parquet
        self._pq: Any = None
        self._schema: Any = None
        self._started = False

    def write(self, frame: pd.DataFrame) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._pq is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                fields = [
                    f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                    for f in table.schema
                ]
                self._schema = pa.schema(fields).remove_metadata()
                self._pq = pq.ParquetWriter(self.path, self._schema)
            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            self._pq.write_table(table)
            return
        first = not self._started
        with open(self.path, "w" if first else "a", encoding="utf-8", newline="") as fh:
            neutralise_formulas(frame).to_csv(fh, index=False, header=first)
        self._started = True

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        elif not self._started:  # no rows at all: an empty file
            self.path.touch()


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(_PARQUET)


def _check_out(out: str | os.PathLike[str]) -> Path:
    path = Path(out)
    if not path.parent.exists():
        raise DataError(f"The folder {str(path.parent)!r} does not exist; create it first.")
    return path


def _run(
    source: TableSource,
    out: Path | None,
    work: Callable[[pd.DataFrame], pd.DataFrame | None],
    *,
    ctx: ddp.DistContext,
    batch_rows: int,
    columns: list[str] | None,
    on_progress: Progress | None,
) -> int:
    """Apply ``work`` to this rank's chunks, writing what it returns; rows done (all ranks)."""
    say = on_progress or (lambda n: None)
    job = ddp.broadcast(ctx, uuid.uuid4().hex[:12])
    parts = None if out is None else out.parent / f".{out.name}.parts-{job}"
    writer = None
    if out is not None and not ctx.distributed:
        writer = _Writer(out.parent / f".{out.name}.{job}.tmp", parquet=_is_parquet(out))
    elif parts is not None and ctx.is_main:
        parts.mkdir()
    ddp.barrier(ctx)
    done = 0
    try:
        for chunk in iter_chunks(
            source, columns=columns, rank=ctx.rank, world_size=ctx.world_size,
            batch_rows=batch_rows,
        ):  # fmt: skip
            result = work(chunk.frame)
            if result is not None and writer is not None:
                writer.write(result)
            elif result is not None and parts is not None:
                unit, index = chunk.order
                part = _Writer(parts / f"{unit:09d}-{index:09d}.parquet", parquet=True)
                part.write(result)
                part.close()
            done += len(chunk.frame)
            say(len(chunk.frame))
        if writer is not None:
            writer.close()
            os.replace(writer.path, out)  # type: ignore[arg-type]
        elif parts is not None:
            ddp.barrier(ctx)
            if ctx.is_main:
                _join(parts, out)  # type: ignore[arg-type]
    finally:
        if writer is not None and writer.path.exists():
            writer.path.unlink()
        if parts is not None and ctx.is_main:
            shutil.rmtree(parts, ignore_errors=True)
    ddp.barrier(ctx)
    return int(ddp.all_reduce(ctx, [done])[0])


def _join(parts: Path, out: Path) -> None:
    """Rank 0: the part files, in input order, into ``out`` (atomically)."""
    import pyarrow.parquet as pq

    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.tmp"
    writer = _Writer(tmp, parquet=_is_parquet(out))
    try:
        for part in sorted(parts.iterdir()):
            writer.write(pq.read_table(part).to_pandas())
        writer.close()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------- scoring


def score_source(
    bundle: ModelBundle,
    source: TableSource,
    out: str | os.PathLike[str],
    *,
    reasons: bool = False,
    ctx: ddp.DistContext | None = None,
    batch_rows: int = SCORE_ROWS,
    on_progress: Progress | None = None,
) -> int:
    """Write ``source``'s rows plus their scores to ``out``, chunk by chunk.

    The columns are those of :func:`neuromkt.act.scoring.score_frame`.

    Returns:
        The number of rows scored (by all ranks).

    Raises:
        DataError: ``out``'s folder is missing, or the data lacks a column the model reads.
    """
    path = _check_out(out)
    bundle.encoders.check_columns(pd.DataFrame(columns=list(source.columns)))
    return _run(
        source,
        path,
        lambda frame: score_frame(bundle, frame, reasons=reasons),
        ctx=ctx or ddp.DistContext(),
        batch_rows=batch_rows,
        columns=None,
        on_progress=on_progress,
    )


# ---------------------------------------------------------------- explaining


@dataclass
class GlobalRanking:
    """Running sums of per-row importances: the ``--global`` ranking of any number of rows."""

    rows: int = 0
    features: dict[str, float] = field(default_factory=dict)  # name -> sum over rows
    tokens: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # -> [sum, rows]

    def add(self, features: pd.DataFrame, tokens: pd.DataFrame, n_rows: int, value: str) -> None:
        """Add one chunk's feature table (mean ``value`` over its rows) and token table
        (mean ``value`` over the rows with the token, and ``count``)."""
        self.rows += n_rows
        for name, v in zip(features["feature"], features[value], strict=True):
            self.features[str(name)] = self.features.get(str(name), 0.0) + float(v) * n_rows
        for column, token, v, count in zip(
            tokens["column"], tokens["token"], tokens[value], tokens["count"], strict=True
        ):
            entry = self.tokens.setdefault((str(column), str(token)), [0.0, 0])
            entry[0] += float(v) * int(count)
            entry[1] += int(count)

    def merge(self, other: GlobalRanking) -> None:
        self.rows += other.rows
        for k, v in other.features.items():
            self.features[k] = self.features.get(k, 0.0) + v
        for k, (s, n) in other.tokens.items():
            entry = self.tokens.setdefault(k, [0.0, 0])
            entry[0] += s
            entry[1] += n

    def to_json(self, min_count: int = 5) -> dict[str, list[dict[str, Any]]]:
        """The same JSON as :func:`neuromkt.explain.tables.global_attribution_summary`."""
        features = sorted(
            ((k, s / max(self.rows, 1)) for k, s in self.features.items()),
            key=lambda kv: -kv[1],
        )
        tokens = [
            (column, token, s / n, int(n))
            for (column, token), (s, n) in self.tokens.items()
            if n >= min_count
        ]
        tokens.sort(key=lambda t: (-t[2], -t[3]))
        return {
            "features": [{"name": k, "importance": float(v)} for k, v in features],
            "tokens": [
                {"column": c, "token": t, "importance": float(v), "count": n}
                for c, t, v, n in tokens
            ],
        }


def _explain_chunk(
    bundle: ModelBundle, frame: pd.DataFrame, method: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Per-row table, feature ranking and token ranking (min count 1) of one chunk."""
    if method == "attention":
        from neuromkt.explain.attention import (
            AttentionView,
            compute_attention,
            global_features,
            position_values,
        )
        from neuromkt.explain.positions import split_positions
        from neuromkt.explain.tokens import token_table

        maps = compute_attention(bundle, frame)
        view = AttentionView(method="mean")
        table = split_positions(position_values(maps, view), bundle.encoders, frame).features
        features = global_features(maps, view)
        tokens = token_table(maps, frame, view, min_count=1)
        return table, features, tokens, "attention"
    from neuromkt.explain.attributions import attribute
    from neuromkt.explain.summaries import feature_ranking, token_ranking

    result = attribute(bundle, frame, method)
    return (
        result.values.features,
        feature_ranking(result),
        token_ranking(result, min_count=1),
        "importance",
    )


def explain_source(
    bundle: ModelBundle,
    source: TableSource,
    *,
    method: str = "ig",
    out: str | os.PathLike[str] | None = None,
    ranking: bool = False,
    ctx: ddp.DistContext | None = None,
    batch_rows: int = EXPLAIN_ROWS,
    on_progress: Progress | None = None,
) -> tuple[int, dict[str, list[dict[str, Any]]] | None]:
    """Per-row explanations of ``source`` to ``out`` and/or its global ranking.

    Args:
        bundle: a trained model.
        source: the rows to explain.
        method: ig, gradshap, deeplift, ablation or attention.
        out: where to write one row per input row, one column per feature.
        ranking: also return the ``--global`` JSON (on rank 0; None elsewhere).

    Returns:
        ``(rows explained by all ranks, ranking or None)``.
    """
    path = None if out is None else _check_out(out)
    bundle.encoders.check_columns(pd.DataFrame(columns=list(source.columns)))
    ctx = ctx or ddp.DistContext()
    sums = GlobalRanking()
    # Per-row values lead with the input's id columns, so rows can be joined back.
    ids = [c.name for c in bundle.schema.columns if c.role == "id" and c.name in source.columns]

    def work(frame: pd.DataFrame) -> pd.DataFrame | None:
        table, features, tokens, value = _explain_chunk(bundle, frame, method)
        if ranking:
            sums.add(features, tokens, len(frame), value)
        if path is None:
            return None
        table = table.reset_index(drop=True)
        return pd.concat([frame[ids].reset_index(drop=True), table], axis=1) if ids else table

    n = _run(
        source,
        path,
        work,
        ctx=ctx,
        batch_rows=batch_rows,
        columns=ids
        + bundle.encoders.input_columns
        + ([bundle.target] if bundle.target in source.columns else []),
        on_progress=on_progress,
    )
    if not ranking:
        return n, None
    gathered = ddp.all_gather(ctx, sums)
    if not ctx.is_main:
        return n, None
    total = GlobalRanking()
    for part in gathered:
        total.merge(part)
    return n, total.to_json()
