"""One set of numbers: the same metric reads the same on Train, Predict and in the report.

The model is checked on its own training data, so every headline figure must come from
the test rows held out during training, at the same cut-off.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from neuromkt.data.load import frame_fingerprint
from neuromkt.report.document import build_report
from neuromkt.ui.predict_views import W_REASONS, W_SCORE, W_TOP_PCT
from neuromkt.ui.state import KEY_BUNDLE, KEY_DATASET, PREDICT_PAGE, TRAIN_PAGE, Dataset

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _page(page: str, dataset: Dataset, bundle) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state[KEY_DATASET] = dataset
    at.session_state[KEY_BUNDLE] = bundle
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(elements) -> str:
    return " ".join(str(x.value) for x in elements)


def _pct(pattern: str, text: str) -> int:
    found = re.search(pattern, text.replace("\\", ""))
    assert found, (pattern, text[:2000])
    return int(found.group(1))


@pytest.mark.slow
def test_auc_accuracy_and_reach_agree_on_train_predict_and_report(
    tiny_bundle, ecommerce_frame, ecommerce_schema
) -> None:
    dataset = Dataset(ecommerce_frame, "shop", ecommerce_schema, frame_fingerprint(ecommerce_frame))
    train = _page(TRAIN_PAGE, dataset, tiny_bundle)
    cards = {m.label: m.value for m in train.metric}
    train_auc, train_accuracy = float(cards["AUC"]), float(cards["Accuracy"].rstrip("%")) / 100
    train_reach = _pct(r"top 20% of rows by score hold (\d+)%", _texts(train.info))
    assert "the 600 test rows held out during training" in _texts(train.caption)
    cut = re.search(r"from a score of (\d\.\d\d)", _texts(train.caption)).group(1)

    predict = _page(PREDICT_PAGE, dataset, tiny_bundle)
    predict.toggle(key=W_REASONS).set_value(False).run()
    predict.button(key=W_SCORE).click().run()
    predict.slider(key=W_TOP_PCT).set_value(20).run()
    assert not predict.exception
    reached = next(m for m in predict.metric if m.label == "Share reached")
    assert "the 600 test rows held out during training" in _texts(predict.caption)
    predict_reach = int(reached.value.rstrip("%"))

    page = build_report(tiny_bundle, ecommerce_frame, max_rows=60)
    report_auc = float(
        re.search(r"AUC: how well scores rank[^<]*</td><td class=num>([0-9.]+)", page)[1]
    )
    report_accuracy = float(
        re.search(r"Accuracy \(share of rows classed right\)</td><td class=num>([0-9.]+)", page)[1]
    )
    report_reach = _pct(r"top 20% of rows by score reaches (\d+)%", page)
    assert "the 600 test rows held out during training" in page
    assert f"from a score of {cut}" in page

    assert train_auc == pytest.approx(report_auc, abs=1e-3)
    assert train_accuracy == pytest.approx(report_accuracy, abs=1e-3)
    assert train_reach == predict_reach == report_reach
