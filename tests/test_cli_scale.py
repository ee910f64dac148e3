"""The command line on data read in chunks: the same answers as on the table loaded whole."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neuromkt import cli_scale
from neuromkt.cli import main
from neuromkt.data.stream import BUDGET_ENV
from neuromkt.model.bundle import load_bundle, save_bundle


@pytest.fixture(scope="module")
def rows(ecommerce_frame: pd.DataFrame) -> pd.DataFrame:
    return ecommerce_frame.head(1200)


@pytest.fixture(scope="module")
def data(rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-scale")
    folder = root / "sessions"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(rows)), 3)):
        table = pa.Table.from_pandas(rows.iloc[part], preserve_index=False)
        pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=150)
    rows.to_csv(root / "sessions.csv", index=False)
    return {"folder": folder, "csv": root / "sessions.csv", "root": root}


@pytest.fixture(scope="module")
def model_dir(tiny_bundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_bundle(tiny_bundle, tmp_path_factory.mktemp("cli-scale-model") / "model")


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_predict_on_a_parquet_folder_writes_the_same_scores_as_on_the_whole_table(
    data, model_dir, tmp_path, suffix
) -> None:
    streamed, whole = tmp_path / f"streamed{suffix}", tmp_path / "whole.csv"
    assert main(["predict", str(model_dir), str(data["folder"]), "--out", str(streamed)]) == 0
    assert main(["predict", str(model_dir), str(data["csv"]), "--out", str(whole)]) == 0
    got = pd.read_parquet(streamed) if suffix == ".parquet" else pd.read_csv(streamed)
    expected = pd.read_csv(whole)
    assert list(got.columns) == list(expected.columns)
    assert got["session_id"].tolist() == expected["session_id"].tolist()
    np.testing.assert_allclose(got["score"], expected["score"], rtol=0, atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_streamed_csv_scores_equal_the_loaded_csv(data, model_dir, tmp_path) -> None:
    streamed, whole = tmp_path / "streamed.csv", tmp_path / "whole.csv"
    args = ["predict", str(model_dir), str(data["csv"])]
    assert main([*args, "--out", str(streamed), "--stream"]) == 0
    assert main([*args, "--out", str(whole)]) == 0
    got, expected = pd.read_csv(streamed), pd.read_csv(whole)
    np.testing.assert_allclose(got["score"], expected["score"], rtol=0, atol=1e-6)


def test_explain_global_streamed_equals_whole_and_comes_with_the_rows(
    data, model_dir, tmp_path, capsys
) -> None:
    args = ["explain", str(model_dir), "--method", "attention", "--global"]
    out = tmp_path / "attention.csv"
    assert main([*args[:2], str(data["folder"]), *args[2:], "--out", str(out)]) == 0
    streamed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*args[:2], str(data["csv"]), *args[2:]]) == 0
    whole = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [f["name"] for f in streamed["features"]] == [f["name"] for f in whole["features"]]
    np.testing.assert_allclose(
        [f["importance"] for f in streamed["features"]],
        [f["importance"] for f in whole["features"]],
        rtol=1e-5,
    )
    pairs = {(t["column"], t["token"]): t for t in whole["tokens"]}
    assert {(t["column"], t["token"]) for t in streamed["tokens"]} == set(pairs)
    for t in streamed["tokens"]:
        assert t["count"] == pairs[t["column"], t["token"]]["count"]
        assert t["importance"] == pytest.approx(pairs[t["column"], t["token"]]["importance"])
    table = pd.read_csv(out)
    assert len(table) == 1200 and "events" in table.columns


def test_train_stream_on_a_folder_records_how_it_was_trained(data, tmp_path, capsys) -> None:
    out = tmp_path / "model"
    args = ["train", str(data["folder"]), "--target", "purchased", "--out", str(out)]
    assert main([*args, "--epochs", "1", "--size", "small"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 <= metrics["roc_auc"] <= 1
    bundle = load_bundle(out)
    record = bundle.metrics["training"]
    assert record["processes"] == 1 and record["streamed"] is True and record["rows"] == 1200
    assert record["encoders"]["method"] == "streaming sketch"


def test_in_memory_train_records_how_it_was_trained_too(data, tmp_path) -> None:
    out = tmp_path / "model"
    args = ["train", str(data["csv"]), "--target", "purchased", "--out", str(out)]
    assert main([*args, "--epochs", "1", "--size", "small"]) == 0
    record = load_bundle(out).metrics["training"]
    assert record["processes"] == 1 and record["streamed"] is False and record["rows"] == 1200


def test_when_to_stream(data, monkeypatch) -> None:
    def wants(path: Path, stream: bool = False) -> bool:
        return cli_scale.streams(argparse.Namespace(data=str(path), stream=stream))

    assert not wants(data["csv"])
    assert wants(data["csv"], stream=True)
    assert wants(data["folder"])
    assert wants(data["folder"] / "*.parquet")
    monkeypatch.setenv(BUDGET_ENV, "0.01")
    assert wants(data["csv"])  # over the memory budget


def test_report_reads_a_spread_sample_of_a_large_source(data, monkeypatch, capsys) -> None:
    assert len(cli_scale.report_frame(str(data["folder"]))) == 1200  # fits: read whole
    monkeypatch.setattr(cli_scale, "REPORT_ROWS", 240)
    monkeypatch.setenv(BUDGET_ENV, "0.01")
    sample = cli_scale.report_frame(str(data["folder"]))
    assert len(sample) == 240 and sample["session_id"].is_unique
    assert "reads 240 of 1,200 rows" in capsys.readouterr().err


def test_workers_runs_the_same_command_under_torchrun(monkeypatch) -> None:
    ran = []
    monkeypatch.setattr(cli_scale.subprocess, "call", lambda command: ran.append(command) or 0)
    argv = ["train", "d", "--workers", "3", "--target", "y", "--workers=3", "--out", "m"]
    assert cli_scale.launch_workers(3, argv) == 0
    assert ran == [
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=3",
         "-m", "neuromkt", "train", "d", "--target", "y", "--out", "m"]
    ]  # fmt: skip


def test_explain_out_and_global_come_from_one_pass_with_the_same_ranking(
    data, model_dir, tmp_path, capsys
) -> None:
    args = ["explain", str(model_dir), str(data["csv"]), "--method", "ig", "--global"]
    out = tmp_path / "ig.parquet"
    assert main([*args, "--out", str(out)]) == 0  # per-row table and ranking, chunk by chunk
    both = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(args) == 0  # the ranking alone, on the table loaded whole
    alone = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [f["name"] for f in both["features"]] == [f["name"] for f in alone["features"]]
    np.testing.assert_allclose(
        [f["importance"] for f in both["features"]],
        [f["importance"] for f in alone["features"]],
        rtol=1e-4,
    )
    table = pd.read_parquet(out)
    features = [f["name"] for f in both["features"]]
    assert set(table.columns) - set(features) <= {"id", "session_id", "user_id"}  # ids lead
    means = table[features].abs().mean()
    for feature in both["features"]:
        assert means[feature["name"]] == pytest.approx(feature["importance"], rel=1e-4)
