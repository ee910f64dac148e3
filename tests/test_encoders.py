"""Encoders: the ids with a fixed meaning, and the positions they lay out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neuromkt.data.schema import infer_schema
from neuromkt.model.encoders import (
    CLS,
    MISSING,
    OTHER,
    PAD,
    UNK,
    CategoricalEncoder,
    EncoderConfig,
    Encoders,
    TextEncoder,
)
from neuromkt.model.network import CLS_POSITION, FIRST_FEATURE_POSITION, PAD_ID


def test_reserved_ids_never_change() -> None:
    # Saved bundles (sample_data/models/*.zip) were encoded with these ids.
    assert (CategoricalEncoder.OTHER_ID, CategoricalEncoder.MISSING_ID) == (0, 1)
    assert CategoricalEncoder.FIRST_LEVEL_ID == 2
    assert (TextEncoder.PAD_ID, TextEncoder.UNK_ID, TextEncoder.FIRST_WORD_ID) == (0, 1, 2)
    assert TextEncoder.PAD_ID == PAD_ID  # what the encoder pads with, the model masks
    assert (CLS_POSITION, FIRST_FEATURE_POSITION) == (0, 1)


def test_encoders_use_the_reserved_ids() -> None:
    n = 40
    frame = pd.DataFrame(
        {
            "spend": np.linspace(1.0, 40.0, n),
            "channel": ["email"] * 30 + ["search"] * 9 + [None],
            "note": ["big sale"] * 20 + ["sale"] * 19 + [None],
            "bought": [0, 1] * 20,
        }
    )
    schema = infer_schema(frame, target="bought").with_role("note", "text", frame)
    config = EncoderConfig(min_category_count=10, min_token_count=10)
    encoders = Encoders.fit(frame, schema, config=config)
    (cat,), (text,) = encoders.categorical, encoders.text
    assert cat.levels[cat.OTHER_ID] == OTHER and cat.levels[cat.MISSING_ID] == MISSING
    assert cat.levels[cat.FIRST_LEVEL_ID :] == ["email"]  # "search" is too rare
    assert text.vocab[text.PAD_ID] == PAD and text.vocab[text.UNK_ID] == UNK
    assert text.vocab[text.FIRST_WORD_ID :] == ["sale", "big"]

    rows = pd.DataFrame(
        {"spend": [1.0] * 4, "channel": ["email", "search", "tiktok", None],
         "note": ["sale", "big deal", None, "sale sale"], "bought": [0] * 4}
    )  # fmt: skip
    inputs = encoders.transform(rows)
    other, missing, email = cat.OTHER_ID, cat.MISSING_ID, cat.FIRST_LEVEL_ID
    assert inputs["categorical"][:, 0].tolist() == [email, other, other, missing]
    tokens = inputs["tokens"][:, 0]
    sale, big = text.FIRST_WORD_ID, text.FIRST_WORD_ID + 1
    assert tokens[0, :2].tolist() == [sale, text.PAD_ID]
    assert tokens[1, :2].tolist() == [big, text.UNK_ID]  # "deal" is unseen
    assert (tokens[2] == text.PAD_ID).all()  # no text: padding only

    positions = encoders.positions()
    assert positions.loc[CLS_POSITION, "column"] == CLS
    assert positions.loc[FIRST_FEATURE_POSITION, "column"] == encoders.feature_columns[0]
