"""State, cached work and widgets of the "acting on it" pages: Predict & what-if, Report.

A scored file is kept in the session (``KEY_SCORED``) with the content key of the
model and the rows it was scored for, so that moving the targeting slider or editing
the what-if form never rescores; a different model or file is scored again, on a
click, with a progress bar. What-if results cover two rows and are cached on the
model and the rows' content. A built report is kept in the session (``KEY_REPORT``)
with the key of the model, data set and title it was built for.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from neuromkt.data import frame_fingerprint
from neuromkt.encode import tokenize
from neuromkt.errors import DataError, ModelError
from neuromkt.export import to_csv_bytes
from neuromkt.predict import (
    AUTO_IG_ROWS,
    DRIVERS_COLUMN,
    SCORE_COLUMN,
    Reach,
    check_schema,
    score_frame,
)
from neuromkt.report import build_report
from neuromkt.ui import escape_markdown
from neuromkt.ui.attention_views import bundle_key
from neuromkt.ui.data_views import ACCEPTED_TYPES, load_upload, upload_limit_mb
from neuromkt.whatif import (
    Control,
    WhatIf,
    add_tokens,
    compare_rows,
    controls,
    edit_row,
    remove_tokens,
    typical_row,
)

if TYPE_CHECKING:
    from neuromkt.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "KEY_REPORT",
    "KEY_SCORED",
    "BuiltReport",
    "Scored",
    "Source",
    "csv_button",
    "current_scored",
    "reach_metrics",
    "report_controls",
    "report_download",
    "report_preview",
    "result_table",
    "score_controls",
    "source_picker",
    "token_vmax",
    "top_pct_slider",
    "whatif_form",
    "whatif_result",
    "whatif_rows",
    "whatif_start",
    "whatif_summary",
]

# Session-state keys of the Predict page.
KEY_SCORED = "nm_predict_scored"  # Scored | None: the last scored file
KEY_WHATIF_ROW = "nm_predict_whatif_row"  # pd.DataFrame | None: the row being edited
KEY_WHATIF_VERSION = "nm_predict_whatif_version"  # int: bumped to reset the form's widgets
KEY_REPORT = "nm_report"  # BuiltReport | None: the last report built
KEY_WHATIF_FROM = "nm_predict_whatif_from"  # tuple: which row the edits started from

# Widget keys of the Predict page.
W_SOURCE = "predict_source"  # current data set / uploaded file
W_UPLOAD = "predict_upload"  # file uploader
W_REASONS = "predict_reasons"  # add the top drivers per row
W_SCORE = "predict_score"  # the Score button
W_TOP_PCT = "predict_top_pct"  # targeting: percent of rows to contact
W_START = "predict_whatif_start"  # what-if: a data row or the typical row
W_ROW = "predict_whatif_row"  # what-if: the row number
W_RESET = "predict_whatif_reset"  # what-if: "Reset edits" button
W_REPORT_TITLE = "report_title"  # Report page: the title
W_REPORT_BUILD = "report_build"  # Report page: "Build the report" button
W_FIELD = "predict_wi"  # what-if field keys: f"{W_FIELD}_{version}_{i}" (+ "_add"/"_del")

SOURCES = {"dataset": "The current data set", "upload": "Upload a file"}


@dataclass(frozen=True)
class Source:
    """The rows to score.

    Attributes:
        frame: The rows (all columns).
        name: Display name (user text: escape before rendering).
        key: Content key of the rows.
    """

    frame: pd.DataFrame
    name: str
    key: str


@dataclass(frozen=True)
class Scored:
    """A scored file, as kept in the session.

    Attributes:
        frame: The input rows plus ``score`` (and class columns, and ``top_drivers``).
        name: The source's display name.
        key: Content key of model, rows and options.
        notes: What is worth knowing about the file (extra columns kept, new values).
        reasons: Whether ``top_drivers`` was computed.
    """

    frame: pd.DataFrame
    name: str
    key: str
    notes: tuple[str, ...]
    reasons: bool


# ---------------------------------------------------------------- scoring


def source_picker(dataset: Dataset | None) -> Source | None:
    """Choose between the current data set and an uploaded file; None until there are rows.

    An unreadable upload is reported with ``st.error`` (and None is returned).
    """
    options = list(SOURCES) if dataset is not None else ["upload"]
    choice = st.segmented_control(
        "Rows to score", options, format_func=SOURCES.get, default=options[0],
        required=True, key=W_SOURCE,
    )  # fmt: skip
    if choice == "dataset" and dataset is not None:
        st.caption(f"{escape_markdown(dataset.name)} · {dataset.shape_text}")
        return Source(dataset.frame, dataset.name, dataset.fingerprint)
    uploaded = st.file_uploader(
        f"A file with the same columns as the training data (up to {upload_limit_mb():,} MB)",
        type=ACCEPTED_TYPES, key=W_UPLOAD,
        help="Extra columns (ids, names, e-mail addresses) are kept in the result; the "
        "outcome column is optional: with it, the Targeting tab can check the scores.",
    )  # fmt: skip
    if uploaded is None:
        return None
    try:
        frame = load_upload(uploaded.getvalue(), str(uploaded.name))
    except DataError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    return Source(frame, str(uploaded.name), frame_fingerprint(frame))


def current_scored() -> Scored | None:
    """The session's last scored file, or None."""
    return st.session_state.get(KEY_SCORED)


def score_controls(bundle: ModelBundle, source: Source) -> Scored | None:
    """The "explain each score" toggle and the Score button; the scored file once scored.

    A file already scored with this model and these options is returned at once;
    schema problems are shown with ``st.error`` (and give None).
    """
    reasons = st.toggle(
        "Explain each score (its top 3 drivers)", value=True, key=W_REASONS,
        help="Adds a column naming the three inputs that moved each row's score most, from "
        "per-row attributions (Integrated Gradients up to "
        f"{AUTO_IG_ROWS:,} rows, the faster Input × Gradient above). Takes longer.",
    )  # fmt: skip
    key = f"{bundle_key(bundle)}-{source.key[:32]}-{int(reasons)}"
    kept = current_scored()
    if kept is not None and kept.key == key:
        return kept
    check = check_schema(bundle, source.frame, reasons=reasons)
    if not check.ok:
        st.error(check.message(), icon=":material/error:")
        return None
    n = len(source.frame)
    if not st.button(f"Score {n:,} rows", key=W_SCORE, type="primary", icon=":material/bolt:"):
        return None
    return _score(bundle, source, key, reasons, check.notes())


def _score(
    bundle: ModelBundle, source: Source, key: str, reasons: bool, notes: list[str]
) -> Scored | None:
    bar = st.progress(0.0, text="Scoring…")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        frame = score_frame(bundle, source.frame, reasons=reasons, progress=progress)
    except (DataError, ModelError) as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    finally:
        bar.empty()
    scored = Scored(frame, source.name, key, tuple(notes), reasons)
    st.session_state[KEY_SCORED] = scored
    return scored


def csv_button(label: str, frame: pd.DataFrame, *, file_name: str, key: str) -> None:
    """A download button for ``frame`` as CSV, spreadsheet formulas neutralised."""
    st.download_button(
        label, partial(to_csv_bytes, frame), file_name=file_name, mime="text/csv", key=key,
        on_click="ignore", icon=":material/download:",
    )  # fmt: skip


def result_table(scored: Scored, bundle: ModelBundle) -> None:
    """Three headline numbers, then the scored rows: score and drivers first."""
    frame = scored.frame
    regression = bundle.task == "regression"
    fmt = "{:,.4g}" if regression else "{:.1%}"
    rows_m, mean_m, top_m = st.columns(3)
    rows_m.metric("Rows scored", f"{len(frame):,}")
    mean_m.metric("Average score", fmt.format(frame[SCORE_COLUMN].mean()))
    top_m.metric("Top-10% cut-off", fmt.format(frame[SCORE_COLUMN].quantile(0.9)))
    first = [c for c in (SCORE_COLUMN, DRIVERS_COLUMN) if c in frame.columns]
    top = float(frame[SCORE_COLUMN].max()) if len(frame) and regression else 1.0
    st.dataframe(
        frame,
        key="predict_table",
        height=420,
        column_order=[*first, *(c for c in frame.columns if c not in first)],
        column_config={
            SCORE_COLUMN: st.column_config.NumberColumn("score", format="%.4g")
            if regression
            else st.column_config.ProgressColumn(
                "score", format="percent", min_value=0.0, max_value=top,
                help="The model's probability of the outcome for this row.",
            ),
            DRIVERS_COLUMN: st.column_config.TextColumn(
                "top drivers", width=560,
                help="The three inputs that moved this row's score most (attribution on the "
                "model's log-odds: + raises the score, − lowers it).",
            ),
        },
    )  # fmt: skip


# ---------------------------------------------------------------- what-if


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
            name, min_value=cast(control.minimum), max_value=cast(control.maximum),
            value=cast(start), step=cast(control.step), key=_key(i),
            help="Range: the smallest to the largest value in the data."
            + (" This row's value is missing; moving the slider sets one." if missing else ""),
        )  # fmt: skip
    current = None if value is None or pd.isna(value) else str(value).strip()
    options = list(control.options)
    if current is not None and current not in options:
        options = [current, *options]
    return st.selectbox(
        name, options, index=options.index(current) if current in options else None,
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
        name, key=key,
        help="Edit freely: add, remove or reorder words or events. The model reads the "
        "tokens shown below the box.",
    )  # fmt: skip
    current = edit_row(row, {name: st.session_state[key]})
    st.pills(
        "Quick remove", list(dict.fromkeys(tokenize(current[name].iloc[0]))),
        key=_key(i, "_del"), width="stretch",
        on_change=_quick_edit, args=(key, _key(i, "_del"), name, False),
        help="Removes every occurrence of the token.",
    )  # fmt: skip
    st.pills(
        "Quick add", list(control.vocabulary[:30]), key=_key(i, "_add"), width="stretch",
        on_change=_quick_edit, args=(key, _key(i, "_add"), name, True),
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


# ---------------------------------------------------------------- targeting


def top_pct_slider() -> int:
    """The "contact the top N%" slider."""
    return st.slider(
        "Contact the top N% of rows by score", 1, 100, 20, step=1, key=W_TOP_PCT,
        format="%d%%", help="Rows are ranked by score, best first; the top N% are contacted.",
    )  # fmt: skip


def reach_metrics(reach: Reach, bundle: ModelBundle, outcome: str) -> None:
    """Rows contacted, the score cut-off, the share of converters reached and the lift."""
    rows_m, cut_m, reach_m, lift_m = st.columns(4)
    rows_m.metric("Rows to contact", f"{reach.n_contacted:,}", f"of {reach.n_rows:,}",
                  delta_color="off", delta_arrow="off")  # fmt: skip
    fmt = "{:,.4g}" if bundle.task == "regression" else "{:.1%}"
    cut_m.metric("Score cut-off", f"≥ {fmt.format(reach.threshold)}")
    share = reach.share_reached
    if share is None:
        reach_m.metric(f"Share of {outcome} reached", "—", help="The file has no outcome column.")
        lift_m.metric("Lift over random", "—")
        return
    found = f"{reach.reached:,.0f} of {reach.total:,.0f}"
    reach_m.metric(f"Share of {outcome} reached", f"{share:.0%}", found, delta_color="off",
                   delta_arrow="off")  # fmt: skip
    lift_m.metric("Lift over random", f"{reach.lift or 0:.1f}×",
                  help="Share reached ÷ share of rows contacted: 1× is a random pick.")  # fmt: skip


def whatif_summary(result: WhatIf, bundle: ModelBundle) -> None:
    """Both scores (the edited one with its change as the delta) and what was changed."""
    regression = bundle.task == "regression"
    fmt = "{:,.4g}" if regression else "{:.1%}"
    delta = f"{result.delta:+,.4g}" if regression else f"{result.delta * 100:+.1f} pts"
    before_m, after_m = st.columns(2)
    before_m.metric(f"Original · {result.score_label}", fmt.format(result.score_before))
    after_m.metric(
        f"Edited · {result.score_label}", fmt.format(result.score_after),
        delta if result.changed else None,
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


# ---------------------------------------------------------------- report page


@dataclass(frozen=True)
class BuiltReport:
    """A report built in this session: its HTML, file name and content key."""

    html: str
    file_name: str
    key: str


def _file_name(title: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:60]
    return f"{slug or 'neuromkt-report'}.html"


def report_controls(bundle: ModelBundle, dataset: Dataset, title: str) -> BuiltReport | None:
    """The "Build the report" button, with progress; the report once built for this model,
    data set and title (kept in the session)."""
    key = f"{bundle_key(bundle)}-{dataset.fingerprint[:32]}-{title}"
    kept: BuiltReport | None = st.session_state.get(KEY_REPORT)
    if kept is not None and kept.key == key:
        return kept
    if kept is not None:
        st.caption("The model, data set or title changed since the last report: build it again.")
    if not st.button("Build the report", key=W_REPORT_BUILD, type="primary",
                     icon=":material/description:"):  # fmt: skip
        return None
    bar = st.progress(0.0, text="Starting…")
    try:
        html = build_report(
            bundle, dataset.frame, title=title or None, dataset_name=dataset.name,
            progress=lambda fraction, message: bar.progress(min(fraction, 1.0), text=message),
        )  # fmt: skip
    except (DataError, ModelError) as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    finally:
        bar.empty()
    report = BuiltReport(html, _file_name(title), key)
    st.session_state[KEY_REPORT] = report
    return report


def report_download(report: BuiltReport) -> None:
    """The download button of a built report."""
    size = len(report.html.encode("utf-8")) / 1e6
    st.download_button(
        f"Download the report ({size:.1f} MB, HTML)", report.html.encode("utf-8"),
        file_name=report.file_name, mime="text/html", key="report_download", type="primary",
        on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    st.caption("One file, charts included: it opens offline in any browser.")


def report_preview(report: BuiltReport) -> None:
    """The report as it will look, in a scrolling frame."""
    st.iframe(report.html, height=900)
