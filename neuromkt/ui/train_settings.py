"""The Train page's settings: epochs, model size and the advanced options.

The values live in session state under the ``W_*`` keys below (re-exported by
:mod:`neuromkt.ui.train_views`); :func:`configs_from_state` turns them into the model
and training configuration of the next run.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from neuromkt.model.encoders import EncoderConfig
from neuromkt.model.network import PRESETS, ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.ui.state import Dataset

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_SIZE",
    "DEFAULT_TIME_LIMIT_MIN",
    "W_BALANCED",
    "W_BATCH",
    "W_DROPOUT",
    "W_EPOCHS",
    "W_LR",
    "W_MAX_TOKENS",
    "W_PATIENCE",
    "W_ROW_BUDGET",
    "W_SEED",
    "W_SIZE",
    "W_TIME_LIMIT",
    "W_VAL_SHARE",
    "configs_from_state",
    "settings_widgets",
]

# ---------------------------------------------------------------- widget keys
W_EPOCHS = "train_epochs"  # number of epochs
W_SIZE = "train_size"  # model size preset
W_LR = "train_lr"  # learning rate
W_BATCH = "train_batch"  # batch size
W_DROPOUT = "train_dropout"  # dropout
W_PATIENCE = "train_patience"  # early-stopping patience
W_VAL_SHARE = "train_val_share"  # validation share
W_SEED = "train_seed"  # random seed
W_BALANCED = "train_balanced"  # class weighting on/off
W_MAX_TOKENS = "train_max_tokens"  # max tokens per text column
W_TIME_LIMIT = "train_time_limit"  # time budget in minutes (0 = none)
W_ROW_BUDGET = "train_row_budget"  # fewer epochs on big tables on/off
_SETTING_KEYS = (W_EPOCHS, W_SIZE, W_LR, W_BATCH, W_DROPOUT, W_PATIENCE, W_VAL_SHARE,
                 W_SEED, W_BALANCED, W_MAX_TOKENS, W_TIME_LIMIT, W_ROW_BUDGET)  # fmt: skip

# ---------------------------------------------------------------- defaults and labels
DEFAULT_EPOCHS = 15
DEFAULT_SIZE = "small"
DEFAULT_TIME_LIMIT_MIN = 3.0
_LR_OPTIONS = (0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01)
_BATCH_OPTIONS = (32, 64, 128, 256, 512, 1024)
_SIZE_HELP = {
    "small": "fastest; usually enough for a handful of columns",
    "default": "what the pre-trained sample models use; a few times slower than small",
    "large": "for many columns or long texts; needs much more time",
}


def settings_widgets(dataset: Dataset, *, disabled: bool = False) -> None:
    """The basic settings up front, the rest in an "Advanced settings" expander.

    The values live in session state; :func:`configs_from_state` reads them.
    """
    _init_settings()
    basic = st.columns([1, 2], gap="large")
    basic[0].number_input(
        "Epochs (passes over the data)", min_value=1, max_value=200, step=1, key=W_EPOCHS,
        disabled=disabled, persist_state="session",
        help="How many times the model reads all training rows. More can find more, but takes "
        "longer; training stops by itself when the validation score stops improving. Big "
        "tables get fewer passes unless you switch that off under Advanced settings.",
    )  # fmt: skip
    basic[1].segmented_control(
        "Model size", list(PRESETS), key=W_SIZE, disabled=disabled, required=True,
        format_func=str.capitalize, persist_state="session",
        help="How big the attention model is. " + "; ".join(
            f"{name.capitalize()}: {text}" for name, text in _SIZE_HELP.items()) + ".",
    )  # fmt: skip
    with st.expander("Advanced settings", icon=":material/tune:"):
        _advanced_widgets(dataset.schema, disabled)


def configs_from_state(schema: Any) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configuration the settings widgets describe now.

    Read from session state (not from values captured when the page was drawn), so a
    setting changed together with the click on "Train model" is not lost.
    """
    _init_settings()
    value = st.session_state.get
    dropout = float(value(W_DROPOUT))
    size = value(W_SIZE) if value(W_SIZE) in PRESETS else DEFAULT_SIZE
    model_config = ModelConfig.preset(size, dropout=dropout, attention_dropout=dropout)
    minutes = float(value(W_TIME_LIMIT) or 0)
    balanced = bool(value(W_BALANCED)) and schema.task != "regression"
    train_config = TrainConfig(
        epochs=int(value(W_EPOCHS)), batch_size=int(value(W_BATCH)), lr=float(value(W_LR)),
        patience=int(value(W_PATIENCE)), val_fraction=float(value(W_VAL_SHARE)),
        seed=int(value(W_SEED)), class_weighting="balanced" if balanced else "none",
        time_budget_s=minutes * 60 if minutes > 0 else None,
        row_budget=TrainConfig.row_budget if value(W_ROW_BUDGET) else None,
        encoder=EncoderConfig(max_tokens=int(value(W_MAX_TOKENS))),
    )  # fmt: skip
    return model_config, train_config


def _init_settings() -> None:
    defaults = {W_EPOCHS: DEFAULT_EPOCHS, W_SIZE: DEFAULT_SIZE, W_LR: TrainConfig.lr,
                W_BATCH: TrainConfig.batch_size, W_DROPOUT: ModelConfig.dropout,
                W_PATIENCE: TrainConfig.patience, W_VAL_SHARE: TrainConfig.val_fraction,
                W_SEED: 0, W_BALANCED: False, W_MAX_TOKENS: EncoderConfig.max_tokens,
                W_TIME_LIMIT: DEFAULT_TIME_LIMIT_MIN, W_ROW_BUDGET: True}  # fmt: skip
    for key in _SETTING_KEYS:
        st.session_state.setdefault(key, defaults[key])


def _advanced_widgets(schema: Any, disabled: bool) -> None:
    a, b, c = st.columns(3, gap="large")
    a.select_slider(
        "Learning rate", _LR_OPTIONS, key=W_LR, disabled=disabled, persist_state="session",
        help="How big a step the model takes as it learns. Too high and training jumps "
        "around; too low and it learns slowly. 0.001 suits most tables.",
    )  # fmt: skip
    a.select_slider(
        "Batch size", _BATCH_OPTIONS, key=W_BATCH, disabled=disabled, persist_state="session",
        help="Rows the model looks at before each update. Larger batches are faster per "
        "epoch; smaller ones can learn more from small data sets.",
    )  # fmt: skip
    a.slider(
        "Dropout", 0.0, 0.5, step=0.05, key=W_DROPOUT, disabled=disabled,
        persist_state="session",
        help="Randomly switches off part of the model while it learns, so it cannot just "
        "memorise the training rows. Raise it if the validation score falls while the "
        "training loss keeps dropping.",
    )  # fmt: skip
    b.number_input(
        "Patience (epochs)", min_value=1, max_value=50, step=1, key=W_PATIENCE,
        disabled=disabled, persist_state="session",
        help="Training stops early after this many epochs without a better validation "
        "score; the best model so far is kept.",
    )  # fmt: skip
    b.slider(
        "Validation share", 0.05, 0.40, step=0.05, key=W_VAL_SHARE, disabled=disabled,
        format="%.2f", persist_state="session",
        help="Share of rows kept aside to decide when to stop. Another 15% is held out as "
        "the test set the results below are measured on.",
    )  # fmt: skip
    b.number_input(
        "Seed", min_value=0, max_value=2**31 - 1, step=1, key=W_SEED, disabled=disabled,
        persist_state="session",
        help="Fixes the random choices (split, starting weights, row order): the same seed "
        "and settings give the same model.",
    )  # fmt: skip
    c.toggle(
        "Balance the classes", key=W_BALANCED, persist_state="session",
        disabled=disabled or schema.task == "regression",
        help="Gives rare outcomes (say 3% buyers) as much weight as common ones. Helps the "
        "model notice rare outcomes; its scores then over-state the real chance.",
    )  # fmt: skip
    c.number_input(
        "Max tokens per text column", min_value=4, max_value=512, step=4, key=W_MAX_TOKENS,
        disabled=disabled or not schema.text, persist_state="session",
        help="Longer texts and event sequences are cut to this many words or events. More "
        "tokens see more of the text but train more slowly.",
    )  # fmt: skip
    c.number_input(
        "Time limit (minutes, 0 = none)", min_value=0.0, max_value=240.0, step=0.5,
        key=W_TIME_LIMIT, disabled=disabled, format="%.1f", persist_state="session",
        help="Training stops after this long and keeps the best model so far.",
    )  # fmt: skip
    c.toggle(
        "Fewer passes over big tables", key=W_ROW_BUDGET, disabled=disabled,
        persist_state="session",
        help=f"On: training reads at most about {TrainConfig.row_budget:,} rows in all, so "
        f"a table with {TrainConfig.row_budget // 3:,} training rows gets 3 passes. On our "
        "benchmarks that is as accurate as more passes and several times faster. Off: "
        "every epoch you ask for (early stopping still applies).",
    )  # fmt: skip
