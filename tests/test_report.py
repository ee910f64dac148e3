"""The standalone HTML report: self-contained, complete, and inert to hostile text."""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from neuromkt.data.schema import infer_schema
from neuromkt.errors import DataError
from neuromkt.model.network import ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import fit
from neuromkt.progress import Progress
from neuromkt.report.document import build_report

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
SECTIONS = ["summary", "data", "quality", "attention", "drivers", "segments", "tokens",
            "agreement", "examples", "targeting"]  # fmt: skip


def hostile_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Sample rows whose column name, text and category values carry HTML and script."""
    out = frame.head(500).copy()
    out["events"] = out["events"] + f" {SCRIPT} {IMG}"
    out.loc[out.index[::3], "channel"] = "<b>bold</b>"
    return out.rename(columns={"ad_slot_score": IMG})


@pytest.fixture(scope="module")
def hostile(ecommerce_frame) -> tuple:
    frame = hostile_frame(ecommerce_frame)
    schema = infer_schema(frame, target="purchased")
    schema = schema.with_role("events", "text", frame)
    config = TrainConfig(epochs=2, seed=0)
    bundle = fit(frame, schema, ModelConfig.preset("small"), config, name=SCRIPT).bundle
    return bundle, frame


@pytest.fixture(scope="module")
def page(hostile) -> str:
    bundle, frame = hostile
    return build_report(
        bundle, frame, title=f"Q3 {SCRIPT}", dataset_name=IMG, max_rows=200,
        now=datetime(2025, 3, 14),
    )  # fmt: skip


def test_plotly_js_is_inlined_once_and_nothing_is_fetched(page: str) -> None:
    assert page.count(get_plotlyjs()[:300]) == 1
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", page)
    assert page.count("Plotly.newPlot") >= 15


def test_every_section_is_there(page: str) -> None:
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in page
        assert f'href="#{anchor}"' in page
    assert page.count('class="example"') == 3
    assert "14 March 2025" in page
    assert "Contacting the top 20% of rows by score reaches" in page


def test_user_text_is_escaped(page: str) -> None:
    assert SCRIPT not in page and IMG not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text
    assert "Data set <b>&lt;img src=x onerror=&quot;alert(2)&quot;&gt;</b>" in page
    assert "<title>Q3 &lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert "Model <b>&lt;script&gt;" in page


def test_report_on_a_file_without_the_outcome(tiny_bundle, ecommerce_frame) -> None:
    steps: list[Progress] = []
    rows = ecommerce_frame.head(150).drop(columns=["purchased"])
    page = build_report(tiny_bundle, rows, on_progress=steps.append, max_rows=100)
    assert '<section id="quality">' not in page and '<section id="targeting">' not in page
    for anchor in ("summary", "data", "attention", "drivers", "examples"):
        assert f'<section id="{anchor}">' in page
    done = [p.done for p in steps]
    assert done == sorted(done) and done[0] == 0
    assert {p.total for p in steps} == {150 + 3 * 100}  # scoring, then 3 passes over 100 rows
    assert steps[-1].fraction == 1.0 and steps[-1].done == steps[-1].total
    assert list(dict.fromkeys(p.message for p in steps)) == [
        "Scoring the rows",
        "Reading the model's attention",
        "Computing attributions",
        "Drawing the charts",
        "Done",
    ]
    assert "What drives purchased" in page  # the default title


def test_report_refuses_a_file_that_does_not_fit(tiny_bundle, ecommerce_frame) -> None:
    with pytest.raises(DataError, match="'events'"):
        build_report(tiny_bundle, ecommerce_frame.head(50).drop(columns=["events"]))


@pytest.mark.parametrize(("task", "measure"), [("multiclass", "Accuracy"), ("regression", "RMSE")])
def test_report_for_multiclass_and_regression(task_frame, request, task: str, measure: str) -> None:
    bundle = request.getfixturevalue(f"tiny_{task}_bundle")
    target = bundle.target
    page = build_report(bundle, task_frame.tail(120), max_rows=60)
    for anchor in ("summary", "quality", "drivers", "segments", "examples"):
        assert f'<section id="{anchor}">' in page
    assert '<section id="targeting">' not in page  # contact lists are for yes/no outcomes
    assert f"What drives {target}" in page
    quality = page.split('<section id="quality">')[1].split("</section>")[0]
    assert quality.count('class="chart"') == 1  # confusion matrix / predicted against actual
    assert f"<td>{measure}" in quality
