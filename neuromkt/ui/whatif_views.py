"""State, cached work and widgets of the what-if on the Predict & what-if page.

The row being edited is kept in the session (``KEY_WHATIF_ROW``) with the row it
started from (``KEY_WHATIF_FROM``); picking another row, another model, or "Reset
edits" starts again from a fresh form (``KEY_WHATIF_VERSION`` renews the widgets'
keys). What-if results cover two rows and are cached on the model and the rows'
content.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from neuromkt.act.scoring import check_schema
from neuromkt.act.whatif import (
    Control,
    WhatIf,
    add_tokens,
    compare_rows,
    controls,
    edit_row,
    remove_tokens,
    typical_row,
)
from neuromkt.model.encoders import tokenize
from neuromkt.ui import escape_markdown
from neuromkt.ui.attention_cache import bundle_key
from neuromkt.ui.predict_views import Source

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "token_vmax",
    "whatif_form",
    "whatif_result",
    "whatif_rows",
    "whatif_start",
    "whatif_summary",
]

# Session-state keys of the what-if.
KEY_WHATIF_ROW = "nm_predict_whatif_row"  # pd.DataFrame | None: the row being edited
KEY_WHATIF_VERSION = "nm_predict_whatif_version"  # int: bumped to reset the form's widgets
KEY_WHATIF_FROM = "nm_predict_whatif_from"  # tuple: which row the edits started from

# Widget keys of the what-if.
W_START = "predict_whatif_start"  # a data row or the typical row
W_ROW = "predict_whatif_row"  # the row number
W_RESET = "predict_whatif_reset"  # "Reset edits" button
W_FIELD = "predict_wi"  # field keys: f"{W_FIELD}_{version}_{i}" (+ "_add"/"_del")


def whatif_rows(
    bundle: ModelBundle, source: Source | None, dataset: Dataset | None
) -> Source | None:
    """The rows the what-if picks from: the chosen rows when the model can read them,
    else the current data set when it can; None when neither fits."""
    candidates = [source]
    if dataset is not None:
        candidates.append(Source(dataset.frame, dataset.name, dataset.fingerprint))
    for candidate in candidates:
        if candidate is not None and check_schema(bundle, candidate.frame).ok:
            return candidate
    return None


def whatif_start(frame: pd.DataFrame, bundle: ModelBundle, source_key: str) -> pd.DataFrame:
    """Pick the row to start from (a row of ``frame`` or the typical row) and keep it in
    the session; picking another row, or "Reset edits", resets the form. Returns the
    one-row frame the edits start from."""
    start_col, row_col, reset_col = st.columns([3, 2, 1], vertical_alignment="bottom")
    with start_col:
        start = st.segmented_control(
            "Start from", ["typical", "row"], default="typical", required=True, key=W_START,
            format_func={"typical": "A typical row", "row": "A row of the data"}.get,
            help="Typical: the median of every number and the most common value of "
            "everything else.",
        )  # fmt: skip
    label: Hashable | None = None
    if start == "row":
        with row_col:
            label = _row_label(frame)
    with reset_col:
        reset = st.button("Reset edits", key=W_RESET, icon=":material/restart_alt:")
    origin = (start, label, source_key, bundle_key(bundle))
    current = st.session_state.get(KEY_WHATIF_ROW)
    if reset or current is None or st.session_state.get(KEY_WHATIF_FROM) != origin:
        current = typical_row(bundle.encoders, frame) if label is None else frame.loc[[label]]
        st.session_state[KEY_WHATIF_FROM] = origin
        _reset_form(current)
    return current


def _row_label(frame: pd.DataFrame) -> Hashable:
    index = frame.index
    if pd.api.types.is_integer_dtype(index) and index.is_unique:
        value = st.number_input(
            "Row number", min_value=int(index.min()), max_value=int(index.max()), step=1,
            key=W_ROW,
        )  # fmt: skip
        return int(value) if int(value) in index else index[0]
    return st.selectbox("Row", list(index[:1000]), key=W_ROW)


def _reset_form(row: pd.DataFrame) -> None:
    st.session_state[KEY_WHATIF_ROW] = row
    st.session_state[KEY_WHATIF_VERSION] = st.session_state.get(KEY_WHATIF_VERSION, 0) + 1


def _key(i: int, suffix: str = "") -> str:
    return f"{W_FIELD}_{st.session_state.get(KEY_WHATIF_VERSION, 0)}_{i}{suffix}"


def whatif_form(row: pd.DataFrame, bundle: ModelBundle, frame: pd.DataFrame) -> pd.DataFrame:
    """The editing form: a slider per number, a picker per category, a text box plus
    quick add/remove per text column. Returns the edited one-row frame."""
    changes: dict[str, Any] = {}
    items = controls(bundle.encoders, frame)
    for i, control in enumerate(items):
        if control.kind == "text":
            row = _text_field(i, control, row)
    for i, control in enumerate(items):
        if control.kind != "text":
            changes[control.column] = _field(i, control, row[control.column].iloc[0])
    return edit_row(row, changes)


def _field(i: int, control: Control, value: Any) -> Any:
    name = control.column
    if control.kind == "numeric":
        missing = value is None or pd.isna(value)
        start = control.minimum if missing else min(max(float(value), control.minimum),
                                                     control.maximum)  # fmt: skip
        cast = int if control.whole else float
        return st.slider(
            escape_markdown(name), min_value=cast(control.minimum), max_value=cast(control.maximum),
            value=cast(start), step=cast(control.step), key=_key(i),
            help="Range: the smallest to the largest value in the data."
            + (" This row's value is missing; moving the slider sets one." if missing else ""),
        )  # fmt: skip
    current = None if value is None or pd.isna(value) else str(value).strip()
    options = list(control.options)
    if current is not None and current not in options:
        options = [current, *options]
    return st.selectbox(
        escape_markdown(name), options,
        index=options.index(current) if current in options else None,
        key=_key(i), placeholder="(missing)",
        help="The values the model knows, most common first.",
    )  # fmt: skip


def _text_field(i: int, control: Control, row: pd.DataFrame) -> pd.DataFrame:
    name = control.column
    key = _key(i)
    if key not in st.session_state:
        cell = row[name].iloc[0]
        st.session_state[key] = "" if cell is None or pd.isna(cell) else str(cell)
    st.text_input(
        escape_markdown(name), key=key,
        help="Edit freely: add, remove or reorder words or events. The model reads the "
        "tokens shown below the box.",
    )  # fmt: skip
    current = edit_row(row, {name: st.session_state[key]})
    st.pills(
        "Quick remove", list(dict.fromkeys(tokenize(current[name].iloc[0]))),
        key=_key(i, "_del"), width="stretch", format_func=escape_markdown,  # tokens as typed
        on_change=_quick_edit, args=(key, _key(i, "_del"), name, False),
        help="Removes every occurrence of the token.",
    )  # fmt: skip
    st.pills(
        "Quick add", list(control.vocabulary[:30]), key=_key(i, "_add"), width="stretch",
        format_func=escape_markdown, on_change=_quick_edit, args=(key, _key(i, "_add"), name, True),
        help="Appends the token at the end. These are the tokens the model knows, most "
        "common first.",
    )  # fmt: skip
    return current


def _quick_edit(text_key: str, pill_key: str, column: str, add: bool) -> None:
    token = st.session_state.get(pill_key)
    if not token:
        return
    row = pd.DataFrame({column: [st.session_state.get(text_key, "")]})
    row = add_tokens(row, column, [token]) if add else remove_tokens(row, column, [token])
    st.session_state[text_key] = str(row[column].iloc[0])
    st.session_state[pill_key] = None


@st.cache_data(show_spinner="Rescoring…", max_entries=64, ttl=3600)
def _compare(
    key: str, original: pd.DataFrame, edited: pd.DataFrame, _bundle: ModelBundle
) -> WhatIf:
    return compare_rows(_bundle, original, edited)


def whatif_result(bundle: ModelBundle, original: pd.DataFrame, edited: pd.DataFrame) -> WhatIf:
    """Both rows scored and explained (cached on the model and the rows' content)."""
    return _compare(bundle_key(bundle), original, edited, bundle)


def whatif_summary(result: WhatIf, bundle: ModelBundle) -> None:
    """Both scores (the edited one with its change as the delta) and what was changed."""
    regression = bundle.task == "regression"
    fmt = "{:,.4g}" if regression else "{:.1%}"
    delta = f"{result.delta:+,.4g}" if regression else f"{result.delta * 100:+.1f} pts"
    before_m, after_m = st.columns(2)
    label = escape_markdown(result.score_label)
    before_m.metric("Original score", fmt.format(result.score_before), help=label)
    after_m.metric(
        "Edited score", fmt.format(result.score_after),
        delta if result.changed else None, help=label,
    )  # fmt: skip
    if not result.changed:
        st.caption("Nothing changed yet: move a slider, pick a value or edit the text above.")
        return
    table = result.features.set_index("feature")
    changes = [
        f"**{escape_markdown(c)}**: {escape_markdown(table.at[c, 'value_before'])} → "
        f"{escape_markdown(table.at[c, 'value_after'])}"
        for c in result.changed
    ]
    st.markdown("✎ Changed: " + " · ".join(changes))
    st.caption(
        f"Top drivers before: {escape_markdown(result.drivers_before) or 'none'}  \n"
        f"Top drivers after: {escape_markdown(result.drivers_after) or 'none'}"
    )


def token_vmax(result: WhatIf, column: str) -> float | None:
    """The largest |attribution| of ``column``'s tokens in either row (one shared scale)."""
    values = result.tokens.loc[result.tokens["column"] == column, "attribution"].abs()
    top = float(values.max()) if len(values) else 0.0
    return top if top > 0 else None
