"""Target values as class labels, and the prediction task they imply.

``target_labels`` normalises a target column to text labels (the same labels the
schema, the encoders and the outcome views use); ``infer_task`` decides between a
binary, multiclass and regression task and lists the classes. The heuristics they
share with role inference (what counts as a number, which class is "positive") live
in ``neuromkt.data.roles``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neuromkt.data.roles import binary_classes, is_number, natural_key, whole_numbers

__all__ = ["infer_task", "target_labels"]

_MAX_INT_CLASSES = 10  # an integer target with 3..this many values is multiclass
_KNOWN_BOOL = {"yes", "no", "true", "false", "y", "n"}


def target_labels(series: pd.Series) -> pd.Series:
    """Normalise target values to string labels; missing values stay missing.

    Booleans become "true"/"false", whole floats lose their ".0" (1.0 → "1"), text is
    stripped, and the words yes/no/true/false/y/n are lower-cased (" Yes " → "yes").
    Other text keeps its case. Empty strings count as missing.
    """
    if pd.api.types.is_bool_dtype(series):
        out = series.map({True: "true", False: "false"}, na_action="ignore")
        return out.astype("str")
    if is_number(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        out = series.astype("str")
        whole = np.isfinite(values) & (np.floor(values) == values)
        if whole.any():
            out[whole] = values[whole].astype("int64").astype(str)
        return out
    out = series.astype("str").str.strip()
    out = out.mask(out == "")
    lowered = out.str.lower()
    return out.mask(lowered.isin(_KNOWN_BOOL), lowered)


def infer_task(series: pd.Series) -> tuple[str, tuple[str, ...]]:
    """Decide the prediction task for a target column.

    Two values make a binary task; whole numbers with 3..10 values or text with
    3..30 values make a multiclass task; other numbers make a regression task. Text
    with more values is also called multiclass, and ``validate_for_training`` refuses it.

    Returns:
        ``(task, classes)``: binary classes are ``(negative, positive)``, where the
        positive class is the "truthy" one (yes, true, 1, clicked, …) or otherwise the
        rarer one; multiclass classes are sorted; regression has none.
    """
    labels = target_labels(series).dropna()
    counts = labels.value_counts()
    if is_number(series):
        whole = whole_numbers(series)
        if len(counts) > 2 and not (whole and len(counts) <= _MAX_INT_CLASSES):
            return "regression", ()
    if len(counts) <= 2:
        return "binary", binary_classes(counts)
    return "multiclass", tuple(sorted(counts.index, key=natural_key))
