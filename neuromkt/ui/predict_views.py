"""State, cached work and widgets of the Predict & what-if page: scoring and targeting.

A scored file is kept in the session (``KEY_SCORED``) with the content key of the
model and the rows it was scored for, so that moving the targeting slider or editing
the what-if form never rescores; a different model or file is scored again, on a
click, with a progress bar. The what-if's widgets are in
:mod:`neuromkt.ui.whatif_views`, the Report page's in :mod:`neuromkt.ui.report_views`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from neuromkt.act.drivers import AUTO_IG_ROWS
from neuromkt.act.export import to_csv_bytes
from neuromkt.act.scoring import DRIVERS_COLUMN, SCORE_COLUMN, check_schema, score_frame
from neuromkt.act.targeting import Reach
from neuromkt.data.load import frame_fingerprint
from neuromkt.errors import DataError, ModelError
from neuromkt.model.evaluation import headline_rows
from neuromkt.ui import escape_markdown
from neuromkt.ui.attention_cache import bundle_key
from neuromkt.ui.data_views import ACCEPTED_TYPES, load_upload, upload_limit_mb

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.progress import Progress
    from neuromkt.ui.state import Dataset

__all__ = [
    "KEY_SCORED",
    "Scored",
    "Source",
    "csv_button",
    "current_scored",
    "reach_metrics",
    "result_table",
    "score_controls",
    "source_picker",
    "top_pct_slider",
]

# Session-state keys of the Predict page.
KEY_SCORED = "nm_predict_scored"  # Scored | None: the last scored file

# Widget keys of the Predict page.
W_SOURCE = "predict_source"  # current data set / uploaded file
W_UPLOAD = "predict_upload"  # file uploader
W_REASONS = "predict_reasons"  # add the top drivers per row
W_SCORE = "predict_score"  # the Score button
W_TOP_PCT = "predict_top_pct"  # targeting: percent of rows to contact

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
        held_out: Positions of the test rows held out during training when the file is
            the model's training data (the headline figures use only those); else None.
        where: The rows the headline figures use, in words.
    """

    frame: pd.DataFrame
    name: str
    key: str
    notes: tuple[str, ...]
    reasons: bool
    held_out: np.ndarray | None = None
    where: str = ""

    def headline_frame(self) -> pd.DataFrame:
        """The rows the headline figures (reach, gains, lift) are measured on."""
        return self.frame if self.held_out is None else self.frame.iloc[self.held_out]


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
        st.error(escape_markdown(exc), icon=":material/error:")
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
        st.error(escape_markdown(check.message()), icon=":material/error:")
        return None
    n = len(source.frame)
    if not st.button(f"Score {n:,} rows", key=W_SCORE, type="primary", icon=":material/bolt:"):
        return None
    return _score(bundle, source, key, reasons, check.notes())


def _score(
    bundle: ModelBundle, source: Source, key: str, reasons: bool, notes: list[str]
) -> Scored | None:
    bar = st.progress(0.0, text="Scoring…")

    def update(progress: Progress) -> None:
        bar.progress(progress.fraction, text=f"{progress.message}…")

    try:
        frame = score_frame(bundle, source.frame, reasons=reasons, on_progress=update)
    except (DataError, ModelError) as exc:
        st.error(escape_markdown(exc), icon=":material/error:")
        return None
    finally:
        bar.empty()
    held_out, where = headline_rows(bundle, source.frame, source.key)
    scored = Scored(frame, source.name, key, tuple(notes), reasons, held_out, where)
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


# ---------------------------------------------------------------- targeting


def top_pct_slider() -> int:
    """The "contact the top N%" slider."""
    return st.slider(
        "Contact the top N% of rows by score", 1, 100, 20, step=1, key=W_TOP_PCT,
        format="%d%%", help="Rows are ranked by score, best first; the top N% are contacted.",
    )  # fmt: skip


def reach_metrics(reach: Reach, bundle: ModelBundle, outcome: str, where: str = "") -> None:
    """Rows contacted, the score cut-off, the share of converters reached and the lift."""
    if where:
        st.caption(f"Measured on {escape_markdown(where)}.")
    outcome = escape_markdown(outcome)
    rows_m, cut_m, reach_m, lift_m = st.columns(4)
    rows_m.metric("Rows to contact", f"{reach.n_contacted:,}", f"of {reach.n_rows:,}",
                  delta_color="off", delta_arrow="off")  # fmt: skip
    fmt = "{:,.4g}" if bundle.task == "regression" else "{:.1%}"
    cut_m.metric("Score cut-off", f"≥ {fmt.format(reach.threshold)}")
    share = reach.share_reached
    if share is None:
        reach_m.metric("Share reached", "—", help="The file has no outcome column.")
        lift_m.metric("Lift over random", "—")
        return
    found = f"{reach.reached:,.0f} of {reach.total:,.0f}"
    reach_m.metric("Share reached", f"{share:.0%}", found, delta_color="off",
                   delta_arrow="off", help=f"Of all rows with {outcome}.")  # fmt: skip
    lift_m.metric("Lift over random", f"{reach.lift or 0:.1f}×",
                  help="Share reached ÷ share of rows contacted: 1× is a random pick.")  # fmt: skip
