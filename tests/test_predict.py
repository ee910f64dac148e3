"""Scoring a file: schema checks, scores, top drivers in words, targeting, safe CSV."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd
import pytest

from neuromkt.act.drivers import driver_table, driver_texts, pick_method, row_attributions
from neuromkt.act.export import to_csv_bytes
from neuromkt.act.scoring import (
    DRIVERS_COLUMN,
    SCORE_COLUMN,
    check_schema,
    score_frame,
    validate_for_scoring,
)
from neuromkt.act.targeting import reach_at, targeting_table, top_rows
from neuromkt.errors import DataError
from neuromkt.explain.positions import split_positions
from neuromkt.model.inference import predict

_PIECE = re.compile(r"^(?P<label>.+) (?P<value>[+−]\d+(\.\d+)?(e[+−-]?\d+)?)$")


@pytest.fixture(scope="module")
def rows(ecommerce_frame: pd.DataFrame) -> pd.DataFrame:
    """Forty rows of the sample, with a row index that is not 0..n-1."""
    part = ecommerce_frame.iloc[100:140].copy()
    part.index = part.index * 10 + 7
    return part


def _parse(text: str) -> list[tuple[str, float]]:
    pieces = []
    for piece in text.split(", "):
        match = _PIECE.match(piece)
        assert match, f"unexpected driver text {piece!r}"
        pieces.append((match["label"], float(match["value"].replace("−", "-"))))
    return pieces


# ---------------------------------------------------------------- schema check


def test_missing_columns_are_named_in_one_message(tiny_bundle, rows) -> None:
    broken = rows.drop(columns=["events", "channel"])
    with pytest.raises(DataError) as info:
        validate_for_scoring(tiny_bundle, broken)
    message = str(info.value)
    assert "'events'" in message and "'channel'" in message
    assert "lacks the columns" in message
    assert message.count("This file does not fit") == 1


def test_text_in_a_numeric_column_is_named_with_examples(tiny_bundle, rows) -> None:
    broken = rows.astype({"pages_viewed": "object"}).drop(columns=["device"])
    broken.loc[broken.index[:3], "pages_viewed"] = ["many", "many", "a few"]
    with pytest.raises(DataError) as info:
        score_frame(tiny_bundle, broken)
    message = str(info.value)
    assert "'pages_viewed' should hold numbers" in message
    assert "3 rows hold text such as 'many' and 'a few'" in message
    assert "'device'" in message  # both problems in the same message


def test_numbers_stored_as_text_are_accepted(tiny_bundle, rows) -> None:
    as_text = rows.astype({"pages_viewed": "str"})
    assert check_schema(tiny_bundle, as_text).ok
    scored = score_frame(tiny_bundle, as_text, reasons=False)
    np.testing.assert_allclose(scored[SCORE_COLUMN], predict(tiny_bundle, rows), rtol=1e-6)


def test_extra_columns_are_kept_and_noted(tiny_bundle, rows) -> None:
    extra = rows.assign(email=[f"user{i}@example.com" for i in range(len(rows))], vip=1)
    notes = validate_for_scoring(tiny_bundle, extra)
    assert any("'email'" in n and "'vip'" in n and "not read by the model" in n for n in notes)
    scored = score_frame(tiny_bundle, extra, reasons=False)
    assert list(scored.columns[: extra.shape[1]]) == list(extra.columns)
    pd.testing.assert_frame_equal(scored[extra.columns], extra)
    assert scored.attrs["score_notes"] == notes


def test_unseen_categories_are_noted(tiny_bundle, rows) -> None:
    odd = rows.assign(channel="tiktok")
    check = check_schema(tiny_bundle, odd)
    assert check.ok
    assert check.unseen["channel"] == ("tiktok",)
    assert any("'tiktok'" in note for note in check.notes())


# ---------------------------------------------------------------- scores


def test_scores_match_the_model_and_keep_the_index(tiny_bundle, rows) -> None:
    scored = score_frame(tiny_bundle, rows, top_k=3)
    assert scored.index.equals(rows.index)
    np.testing.assert_allclose(scored[SCORE_COLUMN], predict(tiny_bundle, rows), rtol=1e-6)
    assert scored[SCORE_COLUMN].between(0, 1).all()
    assert scored[DRIVERS_COLUMN].map(lambda t: len(_parse(t))).eq(3).all()


def test_an_old_score_column_is_replaced(tiny_bundle, rows) -> None:
    old = rows.assign(score="stale", top_drivers="stale")
    check = check_schema(tiny_bundle, old)
    assert set(check.replaced) == {"score", "top_drivers"}
    scored = score_frame(tiny_bundle, old)
    assert scored.columns.tolist().count("score") == 1
    assert not (scored["score"] == "stale").any()


def test_exported_csv_neutralises_formulas(tiny_bundle, rows) -> None:
    hostile = rows.assign(
        note=['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)"]
        + ["fine"] * (len(rows) - 4)
    )
    hostile = hostile.rename(columns={"note": "=cmd|' /C calc'!A0"})
    scored = score_frame(tiny_bundle, hostile, reasons=False)
    scored.loc[scored.index[0], SCORE_COLUMN] = -0.5  # a real negative number stays a number
    table = list(csv.reader(io.StringIO(to_csv_bytes(scored).decode("utf-8-sig"))))
    header, body = table[0], table[1:]
    assert "'=cmd|' /C calc'!A0" in header
    column = header.index("'=cmd|' /C calc'!A0")
    cells = [row[column] for row in body[:4]]
    assert cells == ["'" + v for v in hostile.iloc[:4, -1]]
    assert body[0][header.index(SCORE_COLUMN)] == "-0.5"
    for row in body:
        assert not any(cell.startswith(("=", "+", "@")) for cell in row)


# ---------------------------------------------------------------- drivers


def test_driver_text_is_a_known_answer(tiny_bundle, ecommerce_frame) -> None:
    encoders = tiny_bundle.encoders
    frame = ecommerce_frame.iloc[:2].copy()
    frame["events"] = ["home cart product cart", "search"]
    frame["channel"] = ["email", "social"]
    frame["pages_viewed"] = [3, 7]
    positions = encoders.positions()
    at = {
        (r.column, r.slot): r.position for r in positions.itertuples() if r.kind != "cls"
    }  # (column, slot) -> model position
    raw = np.zeros((2, len(positions)))
    raw[0, at[("events", 1)]] = 0.3  # "cart", twice: 0.3 + 0.2
    raw[0, at[("events", 3)]] = 0.2
    raw[0, at[("events", 0)]] = 0.05  # "home"
    raw[0, at[("channel", 0)]] = -0.3
    raw[0, at[("pages_viewed", 0)]] = 0.1
    raw[1, at[("device", 0)]] = -0.004
    texts = driver_texts(driver_table(raw, encoders, frame, top_k=3), 2)
    device = frame["device"].iat[1]
    assert texts == [
        "“cart” ×2 in events +0.50, channel=email −0.30, pages_viewed=3 +0.10",
        f"device={device} −0.004",
    ]


def test_driver_text_follows_the_attributions(tiny_bundle, rows) -> None:
    encoders = tiny_bundle.encoders
    raw = row_attributions(tiny_bundle, rows, method="ig")
    texts = driver_texts(driver_table(raw, encoders, rows, top_k=3), len(rows))
    split = split_positions(raw, encoders, rows.reset_index(drop=True))
    fixed = encoders.feature_columns
    for i, text in enumerate(texts):
        expected = {f"{c}": float(split.features[c].iat[i]) for c in fixed}
        tokens = split.tokens[split.tokens["row"] == i].groupby("token")["value"].sum()
        expected |= {f"token:{t}": float(v) for t, v in tokens.items()}
        ranked = sorted(expected.items(), key=lambda kv: -abs(kv[1]))[:3]
        pieces = _parse(text)
        assert len(pieces) == 3
        for (name, value), (label, shown) in zip(ranked, pieces, strict=True):
            if name.startswith("token:"):
                assert label.startswith(f"“{name[6:]}”") and label.endswith(" in events")
            else:
                assert label.startswith(f"{name}=") or label == f"{name} missing"
            assert np.sign(shown) == np.sign(value)
            assert shown == pytest.approx(value, abs=0.006 if abs(value) >= 0.005 else 1e-3)


def test_auto_method_is_fast_for_large_files() -> None:
    assert pick_method(500) == "ig"
    assert pick_method(50_000) == "inputxgrad"
    assert pick_method(50_000, "deeplift") == "deeplift"


# ---------------------------------------------------------------- other tasks


def test_multiclass_scores_have_a_column_per_class(tiny_multiclass_bundle, task_frame) -> None:
    bundle = tiny_multiclass_bundle
    scored = score_frame(bundle, task_frame.drop(columns=["device"]).head(12))
    probs = scored[[f"pred_{c}" for c in bundle.encoders.classes]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(scored[SCORE_COLUMN], probs.max(axis=1))
    picked = [bundle.encoders.classes[i] for i in probs.argmax(axis=1)]
    assert scored["predicted"].tolist() == picked
    assert scored[DRIVERS_COLUMN].str.len().gt(0).all()


def test_regression_score_is_the_predicted_value(tiny_regression_bundle, task_frame) -> None:
    bundle = tiny_regression_bundle
    part = task_frame.drop(columns=["time_on_site_sec"]).head(12)
    scored = score_frame(bundle, part)
    np.testing.assert_allclose(scored[SCORE_COLUMN], predict(bundle, part), rtol=1e-6)
    assert "pred_" not in "".join(scored.columns)


# ---------------------------------------------------------------- targeting


def test_reach_is_a_known_answer() -> None:
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.7])
    y = np.array([1.0, 0.0, 1.0, 0.0, np.nan])
    reach = reach_at(scores, y, 40)
    assert (reach.n_contacted, reach.threshold) == (2, 0.8)
    assert (reach.reached, reach.total) == (1.0, 2.0)
    assert reach.share_reached == 0.5
    assert reach.lift == pytest.approx(0.5 / (2 / 4))
    assert reach_at(scores, None, 100).share_reached is None
    with pytest.raises(ValueError):
        reach_at(scores, y, 0)


def test_targeting_needs_the_outcome(tiny_bundle, ecommerce_frame) -> None:
    scored = score_frame(tiny_bundle, ecommerce_frame.head(600), reasons=False)
    table = targeting_table(tiny_bundle, scored)
    assert table is not None and table["decile"].tolist() == list(range(1, 11))
    assert table["cum_gain"].iloc[-1] == pytest.approx(1.0)
    assert table["lift"].iloc[0] > 1.5  # the model ranks: the top decile beats random
    blind = scored.drop(columns=["purchased"])
    assert targeting_table(tiny_bundle, blind) is None
    top = top_rows(blind, 10)
    assert len(top) == 60 and top[SCORE_COLUMN].is_monotonic_decreasing
    assert top[SCORE_COLUMN].min() >= blind[SCORE_COLUMN].drop(top.index).max()
