"""Tables as Arrow chunks: opening, sharding by rank, the size check and the hashed split."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neuromkt.data import stream
from neuromkt.errors import DataError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def frame(ecommerce_frame: pd.DataFrame) -> pd.DataFrame:
    return ecommerce_frame.head(2000)


@pytest.fixture(scope="module")
def folder(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stream") / "sessions"
    (root / "day=2").mkdir(parents=True)
    (root / "day=1").mkdir()
    halves = [frame.iloc[:1200], frame.iloc[1200:]]
    for day, part in zip(("day=1", "day=2"), halves, strict=True):
        table = pa.Table.from_pandas(part, preserve_index=False)
        pq.write_table(table, root / day / "part-0.parquet", row_group_size=300)
    (root / "_SUCCESS").write_text("")
    return root


@pytest.fixture(scope="module")
def csv_file(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "sessions.csv"
    frame.to_csv(path, index=False)
    return path


def test_folder_opens_as_row_groups_in_file_order(folder: Path, frame: pd.DataFrame) -> None:
    source = stream.open_source(folder)
    assert source.n_rows == len(frame)
    assert len(source.units) == 7  # 1200 rows in 4 groups of 300, 800 rows in 3
    assert [Path(f).parent.name for f in source.files] == ["day=1", "day=2"]
    assert list(source.columns) == list(frame.columns)
    whole = stream.read_frame(source)
    assert whole["session_id"].tolist() == frame["session_id"].tolist()
    np.testing.assert_allclose(whole["ad_slot_score"], frame["ad_slot_score"])


def test_glob_and_csv_read_the_same_rows(folder: Path, csv_file: Path) -> None:
    by_glob = stream.read_frame(stream.open_source(str(folder / "*" / "*.parquet")))
    by_csv = stream.read_frame(stream.open_source(csv_file))
    assert by_glob["session_id"].tolist() == by_csv["session_id"].tolist()
    assert by_csv["region"].isna().sum() == by_glob["region"].isna().sum() > 0  # empty = missing
    np.testing.assert_allclose(
        by_csv["time_on_site_sec"].astype(float), by_glob["time_on_site_sec"].astype(float)
    )


@pytest.mark.parametrize("world_size", [1, 2, 3])
@pytest.mark.parametrize("kind", ["folder", "csv"])
def test_ranks_read_every_row_once_in_input_order(
    kind: str, world_size: int, folder: Path, csv_file: Path, frame: pd.DataFrame
) -> None:
    source = stream.open_source(folder if kind == "folder" else csv_file)
    stream_of = [
        list(stream.iter_chunks(source, rank=rank, world_size=world_size, batch_rows=250))
        for rank in range(world_size)
    ]
    chunks = [c for mine in stream_of for c in mine]
    ordered = sorted(chunks, key=lambda c: c.order)
    ids = [i for c in ordered for i in c.frame["session_id"]]
    assert ids == frame["session_id"].tolist()
    sizes = [sum(len(c.frame) for c in mine) for mine in stream_of]
    assert max(sizes) - min(sizes) <= len(frame) // world_size // 2 + 300  # roughly balanced


def test_a_single_file_is_shared_by_chunks_not_units(csv_file: Path) -> None:
    source = stream.open_source(csv_file)
    assert len(source.units) == 1 and source.n_rows is None
    assert stream.shard_units(source, 1, 2) == ([0], False)


def test_folders_refuse_mismatched_columns_and_empty_folders(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    pq.write_table(pa.Table.from_pandas(frame.head(10)), tmp_path / "a.parquet")
    pq.write_table(
        pa.Table.from_pandas(frame.head(10).drop(columns="device")), tmp_path / "b.parquet"
    )
    with pytest.raises(DataError, match=r"different columns.*device"):
        stream.open_source(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no Parquet files"):
        stream.open_source(tmp_path / "empty")
    with pytest.raises(DataError, match="No files match"):
        stream.open_source(str(tmp_path / "nothing-*.parquet"))


def test_size_check_against_the_memory_budget(
    csv_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = stream.open_source(csv_file)
    assert not stream.needs_streaming(source, budget=source.n_bytes * stream.TRAIN_FACTOR + 1)
    assert stream.needs_streaming(source, budget=source.n_bytes * stream.TRAIN_FACTOR - 1)
    monkeypatch.setenv(stream.BUDGET_ENV, "0.01")
    assert stream.memory_budget() == int(0.01 * 1024**2)
    assert stream.needs_streaming(source)
    monkeypatch.setenv(stream.BUDGET_ENV, "lots")
    with pytest.raises(DataError, match="positive number of megabytes"):
        stream.memory_budget()


def test_sample_frame_takes_rows_from_every_unit(folder: Path) -> None:
    source = stream.open_source(folder)
    sample = stream.sample_frame(source, 70)
    assert len(sample) == 70  # 10 from each of the 7 row groups
    assert sample["session_id"].iloc[-1] > "S001200"  # from the second file too


# ---------------------------------------------------------------- the hashed split


def _codes(keys: np.ndarray, seed: int = 0) -> np.ndarray:
    return stream.split_codes(keys, seed=seed, val_fraction=0.15, test_fraction=0.15)


def test_split_shares_follow_the_fractions_and_the_seed() -> None:
    codes = _codes(np.arange(200_000, dtype=np.uint64))
    shares = np.bincount(codes, minlength=3) / len(codes)
    np.testing.assert_allclose(shares, [0.7, 0.15, 0.15], atol=0.005)
    other = _codes(np.arange(200_000, dtype=np.uint64), seed=1)
    assert 0.4 < np.mean(codes == other) < 0.7  # a different seed, a different split


def test_id_keys_do_not_depend_on_how_a_chunk_typed_the_id() -> None:
    as_int = pd.DataFrame({"id": [7, 8, 9]})
    as_float = pd.DataFrame({"id": [7.0, 8.0, np.nan]})
    as_text = pd.DataFrame({"id": [" 7", "8", None]})
    keys = [
        stream.row_keys(f, id_column="id", file_index=0, first_row=0)
        for f in (as_int, as_float, as_text)
    ]
    assert keys[0][0] == keys[1][0] == keys[2][0]
    assert keys[0][1] == keys[1][1] == keys[2][1]
    assert keys[1][2] == keys[2][2] != keys[0][2]  # a missing id falls back to the row's place


_CHILD = """
import sys, numpy as np, pandas as pd
from neuromkt.data import stream
ids = pd.DataFrame({"id": [f"user-{i}" for i in range(5000)]})
keys = stream.row_keys(ids, id_column="id", file_index=0, first_row=0)
place = stream.row_keys(ids, id_column=None, file_index=3, first_row=100)
codes = [stream.split_codes(k, seed=7, val_fraction=0.1, test_fraction=0.2) for k in (keys, place)]
sys.stdout.write("".join(map(str, np.concatenate(codes))))
"""


def test_split_is_the_same_in_other_processes() -> None:
    runs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        runs.append(done.stdout)
    ids = pd.DataFrame({"id": [f"user-{i}" for i in range(5000)]})
    keys = stream.row_keys(ids, id_column="id", file_index=0, first_row=0)
    place = stream.row_keys(ids, id_column=None, file_index=3, first_row=100)
    here = "".join(
        map(
            str,
            np.concatenate(
                [
                    stream.split_codes(k, seed=7, val_fraction=0.1, test_fraction=0.2)
                    for k in (keys, place)
                ]
            ),
        )
    )
    assert runs[0] == runs[1] == here
    assert set(here) == {"0", "1", "2"}
