"""State, cached work and widgets of the Report page.

A built report is kept in the session (``KEY_REPORT``) with the key of the model,
data set and title it was built for, so that reruns (a download, a scroll) never
rebuild it; a different model, data set or title is built again, on a click, with a
progress bar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from neuromkt.errors import DataError, ModelError
from neuromkt.report.document import build_report
from neuromkt.ui import escape_markdown
from neuromkt.ui.attention_cache import bundle_key

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "KEY_REPORT",
    "W_REPORT_BUILD",
    "W_REPORT_TITLE",
    "BuiltReport",
    "report_controls",
    "report_download",
    "report_preview",
]

# Session-state keys of the Report page.
KEY_REPORT = "nm_report"  # BuiltReport | None: the last report built

# Widget keys of the Report page.
W_REPORT_TITLE = "report_title"  # the title
W_REPORT_BUILD = "report_build"  # "Build the report" button


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
            on_progress=lambda p: bar.progress(p.fraction, text=f"{p.message}…"),
        )  # fmt: skip
    except (DataError, ModelError) as exc:
        st.error(escape_markdown(exc), icon=":material/error:")
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
