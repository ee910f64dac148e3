"""The "In short" of a model: its strongest drivers in a marketer's words.

One table, :func:`driver_summary`, says for each input column how much it moves the
outcome (in percentage points of the outcome rate, for a binary model explained on
the log-odds or the probability) and how its values relate to that effect ("the
higher, the more likely"), instead of a signed mean of attributions that calls a
column "lowers" when its high values raise the score. :func:`in_short` turns the
strongest rows into plain sentences; the Attention and Explain pages and the report
show them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.explain.summaries import token_ranking

if TYPE_CHECKING:
    from neuromkt.explain.attributions import Attribution
    from neuromkt.model.bundle import ModelBundle

__all__ = ["RELATION_MIN", "driver_summary", "in_short", "value_relation"]

RELATION_MIN = 0.3  # |rank correlation| of value and effect needed to name a direction


def _effect_points(result: Attribution) -> pd.DataFrame | None:
    """Per row and column: the change in the outcome's probability, in percentage points.

    The column's effect on a row is the probability with it minus the probability
    without its attribution (the row's score less that column's part). None when the
    output is not a binary probability or log-odds.
    """
    out, values = result.output, result.values.features
    if out.task != "binary" or out.kind not in ("logit", "probability"):
        return None
    score = result.score.reshape(-1, 1)
    if out.kind == "probability":
        return values * 100.0
    with_it = 1.0 / (1.0 + np.exp(-score))
    without = 1.0 / (1.0 + np.exp(-(score - values.to_numpy())))
    return pd.DataFrame((with_it - without) * 100.0, index=values.index, columns=values.columns)


def value_relation(result: Attribution, frame: pd.DataFrame, bundle: ModelBundle) -> pd.Series:
    """Per numeric column, the rank correlation of its value with its effect (−1…1).

    > 0: higher values raise the score; < 0: higher values lower it. NaN for
    categorical and text columns (their direction is per category or word).
    """
    values = result.values.features
    numeric = {e.name for e in bundle.encoders.numeric}
    rho = {}
    for column in values.columns:
        if column not in numeric:
            rho[column] = np.nan
            continue
        x = pd.to_numeric(frame.loc[values.index, column], errors="coerce")
        both = x.notna() & values[column].notna()
        if both.sum() < 5 or x[both].nunique() < 2:
            rho[column] = np.nan
        else:
            rho[column] = float(x[both].rank().corr(values.loc[both, column].rank()))
    return pd.Series(rho, dtype="float64")


def _level_words(effect: pd.Series, cells: pd.Series, unit: str) -> str:
    by_level = effect.groupby(cells.astype("string").fillna("(missing)")).mean()
    best, worst = by_level.idxmax(), by_level.idxmin()
    parts = []
    if by_level[best] > 0:
        parts.append(f"“{best}” raises it most ({by_level[best]:+.1f} {unit})")
    if by_level[worst] < 0 and worst != best:
        parts.append(f"“{worst}” lowers it most ({by_level[worst]:+.1f} {unit})")
    return ", ".join(parts) if parts else "no category stands out"


def kinds_text(bundle: ModelBundle) -> bool:
    return bool(bundle.encoders.text)


def _token_words(tokens: pd.DataFrame) -> str:
    up = tokens[tokens["signed_mean"] > 0].nlargest(3, "signed_mean")["token"]
    down = tokens[tokens["signed_mean"] < 0].nsmallest(2, "signed_mean")["token"]
    parts = []
    if len(up):
        parts.append(", ".join(f"“{t}”" for t in up) + " raise it most")
    if len(down):
        parts.append(", ".join(f"“{t}”" for t in down) + " lower it")
    return "; ".join(parts) if parts else "no single word stands out"


def driver_summary(
    result: Attribution,
    frame: pd.DataFrame,
    bundle: ModelBundle,
    *,
    noise: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every input column: its effect in plain units and how its values relate to it.

    Args:
        result: attributions of rows of ``frame``.
        frame: the rows explained (the model's columns).
        bundle: the model.
        noise: :func:`neuromkt.explain.noise.noise_floor`, to flag noise drivers.

    Returns:
        One row per column, largest effect first: ``feature``, ``kind``, ``effect``
        (mean size of the column's push; percentage points of the outcome rate when
        ``unit`` is "pts"), ``unit`` ("pts" or the attribution's unit), ``relation``
        (rank correlation of value and effect, numeric columns; else NaN), ``words``
        (the relation in words) and ``distinguishable`` (NaN without ``noise``).
    """
    points = _effect_points(result)
    effect = points if points is not None else result.values.features
    unit = "pts" if points is not None else result.output.label
    kinds = {e.name: "numeric" for e in bundle.encoders.numeric}
    kinds |= {e.name: "categorical" for e in bundle.encoders.categorical}
    kinds |= {e.name: "text" for e in bundle.encoders.text}
    relation = value_relation(result, frame, bundle)
    tokens = (
        token_ranking(result, min_count=max(5, len(frame) // 100))
        if bool(bundle.encoders.text)
        else None
    )
    rows = []
    for column in effect.columns:
        kind, rho = kinds.get(column, "numeric"), relation.get(column, np.nan)
        if kind == "numeric":
            if np.isfinite(rho) and abs(rho) >= RELATION_MIN:
                words = "the higher it is, the " + ("more" if rho > 0 else "less") + " likely"
            else:
                words = "it matters, but not in one simple direction"
        elif kind == "categorical":
            words = _level_words(effect[column], frame.loc[effect.index, column], unit)
        else:
            words = _token_words(tokens[tokens["column"] == column])
        rows.append((column, kind, float(effect[column].abs().mean()), unit, rho, words))
    table = pd.DataFrame(rows, columns=["feature", "kind", "effect", "unit", "relation", "words"])
    if noise is not None:
        flags = noise.set_index("feature")["distinguishable"]
        table["distinguishable"] = table["feature"].map(flags).astype("boolean")
    else:
        table["distinguishable"] = pd.array([pd.NA] * len(table), dtype="boolean")
    return table.sort_values("effect", ascending=False, kind="stable", ignore_index=True)


def in_short(summary: pd.DataFrame, outcome: str, *, top: int = 4) -> list[str]:
    """Plain sentences (not escaped) on the ``top`` strongest drivers of ``summary``.

    Drivers not distinguishable from noise are left out and counted in a last
    sentence.
    """
    noise = summary["distinguishable"].fillna(True).astype(bool)
    real, dropped = summary[noise], summary[~noise]
    sentences = []
    for row in real.head(top).itertuples():
        size = (
            f"moves the chance of {outcome} by {row.effect:.1f} percentage points on average"
            if row.unit == "pts"
            else f"moves the score by {row.effect:.3g} ({row.unit}) on average"
        )
        sentences.append(f"{row.feature} {size}; {row.words}.")
    if len(dropped):
        names = ", ".join(dropped["feature"].head(4))
        more = "" if len(dropped) <= 4 else f" and {len(dropped) - 4} more"
        sentences.append(f"{names}{more}: not distinguishable from noise; don't act on them.")
    return sentences
