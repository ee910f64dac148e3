"""The app shell, Home and Data pages, driven through Streamlit's AppTest."""

from __future__ import annotations

import gc
import io
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from neuromkt.data.load import frame_fingerprint
from neuromkt.data.samples import SAMPLES
from neuromkt.data.schema import infer_schema
from neuromkt.ui import escape_markdown
from neuromkt.ui.sidebar import MENU, headline_metric
from neuromkt.ui.state import (
    ATTENTION_PAGE,
    DATA_PAGE,
    EXPLAIN_PAGE,
    HOME_PAGE,
    KEY_BUNDLE,
    KEY_DATASET,
    KEY_SCHEMA_VERSION,
    PREDICT_PAGE,
    REPORT_PAGE,
    TRAIN_PAGE,
    W_DIST_COLUMN,
    W_RATE_COLUMN,
    W_ROLES,
    W_SAMPLE,
    W_SAMPLE_LOAD,
    W_TARGET,
    W_UPLOAD,
    Dataset,
)

APP = str(Path(__file__).resolve().parent.parent / "app.py")
GOOD_CSV = b"spend,channel,bought\n1.5,web,0\n2.5,app,1\n3.0,web,1\n4.0,app,0\n"


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _dataset(at: AppTest) -> Dataset | None:
    return at.session_state[KEY_DATASET]


def _with_sample(key: str = "ecommerce") -> AppTest:
    """An app showing the Data page with a sample loaded through Home's button."""
    at = _app()
    at.button(key=f"home_try_{key}").click().run()
    assert not at.exception
    return at


def _key(at: AppTest, base: str) -> str:
    """The real key of a widget that carries the schema version."""
    return f"{base}_{at.session_state[KEY_SCHEMA_VERSION]}"


def _edit_role(at: AppTest, column: str, role: str) -> None:
    """Edit one role cell of the roles editor, as the browser would, then rerun."""
    key = _key(at, W_ROLES)
    row = at.data_editor(key=key).value["column"].tolist().index(column)
    at.session_state[key] = {
        "edited_rows": {row: {"role": role}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception


def _table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first read-only table on the page that has ``column``."""
    tables = [frame.value for frame in at.dataframe if frame.editing_mode == "read_only"]
    return next(table for table in tables if column in table.columns)


def _texts(elements: Any) -> list[str]:
    """The texts of alerts as the user reads them (markdown escapes removed)."""
    return [re.sub(r"\\(.)", r"\1", element.value) for element in elements]


def _errors(at: AppTest) -> list[str]:
    return _texts(at.error)


# ---------------------------------------------------------------- home


def test_home_renders_a_card_per_sample() -> None:
    at = _app()
    assert at.title[0].value == "neuromkt"
    buttons = [button.key for button in at.button]
    assert buttons == [f"home_try_{key}" for key in SAMPLES]
    assert all(button.label == "Try the sample" for button in at.button)
    assert _dataset(at) is None
    assert at.session_state[KEY_BUNDLE] is None
    assert any("None yet" in caption.value for caption in at.sidebar.caption)


@pytest.mark.parametrize("key", list(SAMPLES))
def test_try_the_sample_loads_it_and_opens_the_data_page(key: str) -> None:
    at = _with_sample(key)
    spec = SAMPLES[key]
    dataset = _dataset(at)
    assert dataset is not None and dataset.sample_key == key
    assert len(dataset.frame) == spec.n_rows
    assert dataset.schema.target == spec.target
    assert dataset.schema.task == "binary"
    for column in spec.text_columns:
        assert dataset.schema.role_of(column) == "text"
    assert at.title[0].value == "Data"
    assert any(spec.title in success for success in _texts(at.success))
    preview = at.dataframe[0].value
    assert preview.shape == (100, dataset.frame.shape[1])
    assert _table_with(at, "missing_pct")["column"].tolist() == list(dataset.frame.columns)
    assert _table_with(at, "upper")["n"].sum() == spec.n_rows  # the rate table
    assert len(at.get("plotly_chart")) == 3  # rate by category, overview, distribution


def test_the_app_freezes_its_startup_objects_once() -> None:
    """Streamlit collects garbage after every run; the app's long-lived objects (torch,
    pandas, plotly, the pages' modules) are frozen once, so that pass stays short."""
    at = _app()
    frozen = gc.get_freeze_count()
    assert frozen > 50_000
    assert "neuromkt.ui.explain_views" in sys.modules  # a page's module, frozen too
    at.run()
    assert gc.get_freeze_count() == frozen  # once per process, not once per run


def test_sessions_do_not_share_data() -> None:
    first = _with_sample("ads")
    second = _app()
    assert _dataset(first) is not None
    assert _dataset(second) is None


# ---------------------------------------------------------------- data page


def test_data_page_without_data_says_what_to_do() -> None:
    at = _app()
    at.switch_page(DATA_PAGE).run()
    assert not at.exception
    assert any("Upload a file or load a sample" in info.value for info in at.info)
    assert "200 MB" in at.file_uploader(key=W_UPLOAD).label
    assert ".parquet" in at.file_uploader(key=W_UPLOAD).allowed_type


def test_load_sample_from_the_data_page() -> None:
    at = _app()
    at.switch_page(DATA_PAGE).run()
    at.selectbox(key=W_SAMPLE).set_value("search_cn")
    at.button(key=W_SAMPLE_LOAD).click().run()
    assert not at.exception
    dataset = _dataset(at)
    assert dataset is not None and dataset.sample_key == "search_cn"
    assert dataset.schema.role_of("keyword") == "text"


def test_target_picker_changes_the_schema() -> None:
    at = _with_sample("ecommerce")
    assert at.selectbox(key=_key(at, W_TARGET)).value == "purchased"
    at.selectbox(key=_key(at, W_TARGET)).set_value("returning_visitor").run()
    assert not at.exception
    schema = _dataset(at).schema
    assert schema.target == "returning_visitor"
    assert schema.task == "binary" and schema.classes == ("no", "yes")
    assert schema.role_of("purchased") != "target"
    # the rate section now reports the new outcome
    assert at.selectbox(key=_key(at, W_RATE_COLUMN)).value != "returning_visitor"


def test_numeric_target_reports_means_per_category() -> None:
    at = _with_sample("ecommerce")
    at.selectbox(key=_key(at, W_TARGET)).set_value("time_on_site_sec").run()
    assert not at.exception
    assert _dataset(at).schema.task == "regression"
    table = _table_with(at, "upper")
    assert "upper" in table.columns and len(table) > 1


def test_role_editor_changes_a_role() -> None:
    at = _with_sample("ecommerce")
    assert _dataset(at).schema.role_of("channel") == "categorical"
    _edit_role(at, "channel", "ignore")
    assert _dataset(at).schema.role_of("channel") == "ignore"
    assert not _errors(at)
    assert "channel" not in at.selectbox(key=_key(at, W_RATE_COLUMN)).options


def test_impossible_role_shows_the_error_and_keeps_the_schema() -> None:
    at = _with_sample("ecommerce")
    before = _dataset(at).schema
    _edit_role(at, "channel", "numeric")
    assert any("'channel' holds text" in error for error in _errors(at))
    assert _dataset(at).schema == before
    # the refused edit is discarded: the editor shows the old role again
    editor = at.data_editor(key=_key(at, W_ROLES)).value
    assert editor.set_index("column").loc["channel", "role"] == "categorical"


def test_picker_choices_survive_role_changes_but_not_a_new_data_set() -> None:
    at = _with_sample("ecommerce")
    at.selectbox(key=_key(at, W_RATE_COLUMN)).set_value("device").run()
    at.selectbox(key=_key(at, W_DIST_COLUMN)).set_value("channel").run()
    _edit_role(at, "browser", "ignore")
    assert at.selectbox(key=_key(at, W_RATE_COLUMN)).value == "device"
    assert at.selectbox(key=_key(at, W_DIST_COLUMN)).value == "channel"
    at.file_uploader(key=W_UPLOAD).set_value(("mine.csv", GOOD_CSV, "text/csv")).run()
    assert not at.exception
    assert at.selectbox(key=_key(at, W_TARGET)).value is None
    assert at.selectbox(key=_key(at, W_DIST_COLUMN)).value == "spend"  # the first feature


def test_upload_a_table() -> None:
    at = _app()
    at.switch_page(DATA_PAGE).run()
    at.file_uploader(key=W_UPLOAD).set_value(("mine.csv", GOOD_CSV, "text/csv")).run()
    assert not at.exception
    dataset = _dataset(at)
    assert dataset is not None and dataset.name == "mine.csv"
    assert dataset.frame.shape == (4, 3)
    assert dataset.schema.target is None
    assert any("Choose the outcome column" in info.value for info in at.info)
    # the page ran again after loading: the sidebar (drawn first) names the new table
    sidebar = " ".join(markdown.value for markdown in at.sidebar.markdown)
    assert "mine\\.csv" in sidebar and "4 rows × 3 columns" in sidebar
    said = escape_markdown("Loaded “mine.csv”: 4 rows × 3 columns.")
    assert [message.value for message in at.success] == [said]
    at.run()  # the message is shown once; the file is not loaded again
    assert not at.success and _dataset(at) is dataset


def test_broken_upload_shows_the_error_and_keeps_the_previous_data() -> None:
    at = _with_sample("ads")
    before = _dataset(at)
    broken = ("broken.parquet", b"this is not a parquet file", "application/octet-stream")
    at.file_uploader(key=W_UPLOAD).set_value(broken).run()
    assert not at.exception
    errors = _errors(at)
    assert any("broken.parquet" in error for error in errors)
    assert any("still in use" in error for error in errors)
    assert _dataset(at) is before
    # the error stays while the broken file is in the uploader, without re-reading it
    at.run()
    assert any("broken.parquet" in error for error in _errors(at))


def test_distribution_picker_draws_any_column() -> None:
    at = _with_sample("ecommerce")
    for column in ["time_on_site_sec", "events", "session_id", "purchased"]:
        at.selectbox(key=_key(at, W_DIST_COLUMN)).set_value(column).run()
        assert not at.exception, column


def test_sidebar_shows_the_current_data_set() -> None:
    frame = pd.read_csv(io.BytesIO(GOOD_CSV))
    schema = infer_schema(frame, target="bought")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[KEY_DATASET] = Dataset(frame, "q*1*.csv", schema, frame_fingerprint(frame))
    at.run()
    assert not at.exception
    text = " ".join(markdown.value for markdown in at.sidebar.markdown)
    assert "q\\*1\\*\\.csv" in text and "4 rows × 3 columns" in text
    captions = " ".join(caption.value for caption in at.sidebar.caption)
    assert "bought (binary)" in captions
    assert "None yet — train one" in captions


# ---------------------------------------------------------------- every page sets itself up

# Every page with the title it shows and its name in the browser tab.
PAGES = [
    (HOME_PAGE, "neuromkt", "neuromkt"),
    (DATA_PAGE, "Data", "Data · neuromkt"),
    (TRAIN_PAGE, "Train", "Train · neuromkt"),
    (ATTENTION_PAGE, "Attention", "Attention · neuromkt"),
    (EXPLAIN_PAGE, "Explain", "Explain · neuromkt"),
    (PREDICT_PAGE, "Predict & what-if", "Predict & what-if · neuromkt"),
    (REPORT_PAGE, "Report", "Report · neuromkt"),
]


@pytest.mark.parametrize(("path", "title", "tab"), PAGES, ids=[p[1] for p in PAGES])
def test_a_page_opened_first_sets_itself_up(
    path: str, title: str, tab: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page opened by its URL runs alone (Streamlit runs no Home before it): its own
    first call gives it the wide layout, its tab title, session state and the sidebar."""
    configs: list[dict[str, Any]] = []
    set_page_config = st.set_page_config

    def recording(**kwargs: Any) -> None:
        configs.append(kwargs)
        set_page_config(**kwargs)

    monkeypatch.setattr(st, "set_page_config", recording)
    at = AppTest.from_file(APP, default_timeout=60)
    if path != HOME_PAGE:
        at.switch_page(path)
    at.run()
    assert not at.exception
    assert at.title[0].value == title
    assert configs == [{"page_title": tab, "page_icon": "🧠", "layout": "wide"}]
    assert at.session_state[KEY_DATASET] is None and at.session_state[KEY_BUNDLE] is None
    menu = [link.proto.label for link in at.sidebar.get("page_link")]
    assert menu == ["Home", "Data", "Train", "Attention", "Explain", "Predict & what-if", "Report"]
    headings = [markdown.value for markdown in at.sidebar.markdown]
    assert headings == ["##### Data set", "##### Model"]


def test_the_menu_lists_every_page_in_the_folders_order() -> None:
    """Each script in pages/ is in the sidebar's menu, in Streamlit's order (the number)."""
    root = Path(APP).parent
    scripts = sorted((root / "pages").glob("*.py"), key=lambda p: int(p.name.split("_")[0]))
    assert [path for path, _, _ in MENU] == [HOME_PAGE] + [
        str(p.relative_to(root)) for p in scripts
    ]
    assert [path for path, _, _ in MENU] == [path for path, _, _ in PAGES]


# ---------------------------------------------------------------- small helpers


@pytest.mark.parametrize(
    ("metrics", "task", "expected"),
    [
        ({"validation": {"roc_auc": 0.81234}}, "binary", "validation AUC 0.812"),
        ({"validation": {"accuracy": 0.5}}, "multiclass", "validation accuracy 50.0%"),
        ({"test": {"rmse": 12.5}}, "regression", "test RMSE 12.5"),
        ({"validation": {"roc_auc": 0.81}, "test": {"roc_auc": 0.822}}, "binary", "test AUC 0.822"),
        ({"validation": {"roc_auc": float("nan")}}, "binary", None),
        ({}, "binary", None),
        ({"validation": {"roc_auc": 0.8}}, None, None),
    ],
)
def test_headline_metric(metrics: dict, task: str | None, expected: str | None) -> None:
    assert headline_metric(metrics, task) == expected


def test_escape_markdown_renders_user_text_literally() -> None:
    assert escape_markdown("**bold** [x](y) :red[z] $1") == (
        r"\*\*bold\*\* \[x\]\(y\) \:red\[z\] \$1"
    )
    assert escape_markdown("two\nlines") == "two lines"
    assert escape_markdown("a&quot;b <i>") == r"a\&quot;b \<i\>"  # entities stay as typed
