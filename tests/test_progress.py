"""One progress protocol: every long computation calls ``on_progress(Progress)``."""

from __future__ import annotations

import itertools

import neuromkt.model.inference as inference
from neuromkt.act.scoring import score_frame
from neuromkt.explain.attention import compute_attention
from neuromkt.model.inference import predict
from neuromkt.model.network import ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import TrainProgress, fit
from neuromkt.progress import Progress, Tracker


def test_fraction_and_time_left() -> None:
    p = Progress(done=30, total=120, elapsed_s=6.0)
    assert (p.fraction, p.eta_s, p.unit) == (0.25, 18.0, "rows")
    assert Progress(0, 10).eta_s is None  # no pace yet
    assert Progress(0, 0).fraction == 1.0  # nothing to do is done
    assert Progress(12, 10).fraction == 1.0


def test_tracker_adds_passes_and_times_them() -> None:
    seen: list[Progress] = []
    tracker = Tracker(seen.append, 300)
    tracker.update(0, "start")
    second = tracker.part(100, "second pass")
    assert second is not None
    second(Progress(50, 200, message="ignored", elapsed_s=99.0))
    assert [(p.done, p.total, p.message) for p in seen] == [
        (0, 300, "start"),
        (150, 300, "second pass"),
    ]
    assert seen[1].elapsed_s < 99.0  # the tracker's own clock, not the pass's
    silent = Tracker(None, 10)
    silent.update(5)  # reports nowhere, raises nothing
    assert silent.part(0, "x") is None


def _monotonic(reports: list[Progress]) -> bool:
    return all(a.done <= b.done for a, b in itertools.pairwise(reports))


def test_fit_reports_rows_epochs_and_validation(ecommerce_frame, ecommerce_schema) -> None:
    seen: list[TrainProgress] = []
    config = TrainConfig(epochs=2, batch_size=64, patience=5, seed=0)
    result = fit(ecommerce_frame.head(800), ecommerce_schema, ModelConfig.preset("small"),
                 config, on_progress=seen.append)  # fmt: skip
    n_train = len(result.split["train"])
    assert all(isinstance(p, TrainProgress) and p.unit == "rows" for p in seen)
    assert {p.total for p in seen} == {2 * n_train}  # rows planned: training rows × epochs
    assert _monotonic(seen)
    ends = [p for p in seen if p.validation is not None]
    assert [(p.epoch, p.done) for p in ends] == [(1, n_train), (2, 2 * n_train)]
    assert ends[-1].fraction == 1.0 and "roc_auc" in ends[-1].validation
    assert {p.message for p in seen} == {"epoch 1/2", "epoch 2/2"}
    steps = [p for p in seen if p.validation is None]  # every 10 steps: the running loss
    assert steps and all(0 < p.done < 2 * n_train and p.loss > 0 for p in steps)


def test_predict_reports_each_chunk(tiny_bundle, ecommerce_frame, monkeypatch) -> None:
    monkeypatch.setattr(inference, "CHUNK_ROWS", 100)
    seen: list[Progress] = []
    predict(tiny_bundle, ecommerce_frame.head(250), on_progress=seen.append)
    assert [(p.done, p.total, p.message) for p in seen] == [
        (100, 250, "Scoring"),
        (200, 250, "Scoring"),
        (250, 250, "Scoring"),
    ]


def test_attention_reports_each_batch(tiny_bundle, ecommerce_frame) -> None:
    seen: list[Progress] = []
    compute_attention(tiny_bundle, ecommerce_frame.head(100), batch_size=40,
                      on_progress=seen.append)  # fmt: skip
    assert [(p.done, p.total) for p in seen] == [(40, 100), (80, 100), (100, 100)]


def test_score_frame_counts_both_passes(tiny_bundle, ecommerce_frame) -> None:
    seen: list[Progress] = []
    score_frame(tiny_bundle, ecommerce_frame.head(60), on_progress=seen.append)
    assert {p.total for p in seen} == {120}  # scoring, then explaining each row
    assert _monotonic(seen) and seen[0].done == 0 and seen[-1].done == 120
    assert list(dict.fromkeys(p.message for p in seen)) == [
        "Scoring",
        "Explaining each row's score",
        "Scored 60 rows",
    ]
    quiet: list[Progress] = []
    score_frame(tiny_bundle, ecommerce_frame.head(60), reasons=False, on_progress=quiet.append)
    assert {p.total for p in quiet} == {60} and quiet[-1].done == 60
