"""The command line: ``neuromkt check`` in-process and as ``python -m neuromkt``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromkt.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def good_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 80
    frame = pd.DataFrame(
        {
            "session_id": [f"s{i:04d}" for i in range(n)],
            "pages": rng.integers(1, 20, n),
            "channel": rng.choice(["email", "search", "social"], n),
            "converted": rng.choice(["yes", "no"], n),
        }
    )
    path = tmp_path / "sessions.csv"
    frame.to_csv(path, index=False)
    return path


def _python_m(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neuromkt", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_check_prints_schema_json(good_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(good_csv), "--target", "converted"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["n_rows"], report["n_columns"]) == (80, 4)
    assert report["source"] == "sessions.csv"
    assert report["task"] == "binary"
    assert report["classes"] == ["no", "yes"]
    roles = {c["name"]: c["role"] for c in report["columns"]}
    assert roles == {
        "session_id": "id",
        "pages": "numeric",
        "channel": "categorical",
        "converted": "target",
    }
    assert report["load_warnings"] == []
    assert report["training_warnings"] == []


def test_check_without_target_has_no_task(good_csv: Path, capsys) -> None:
    assert main(["check", str(good_csv)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] is None
    assert all(c["role"] != "target" for c in report["columns"])


@pytest.mark.parametrize(
    ("content", "args", "words"),
    [
        (b"", (), "is empty"),
        (b"a,b\n", (), "no rows of data"),
        (b"a,b\n1,2\n3,4\n", ("--target", "c"), "no column 'c' to predict"),
        (b"a,b\n1,0\n3,0\n", ("--target", "b"), "has only one value (0)"),
    ],
)
def test_check_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys, content: bytes, args: tuple[str, ...], words: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert main(["check", str(path), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert words in lines[0]


def test_missing_file_and_usage_errors_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["check", str(tmp_path / "gone.csv")]) == 2
    assert f"No file at {tmp_path / 'gone.csv'}." in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_parser_registers_check() -> None:
    args = build_parser().parse_args(["check", "x.csv", "--target", "y"])
    assert (args.command, args.data, args.target) == ("check", "x.csv", "y")
    assert callable(args.handler)


@pytest.mark.slow
def test_python_m_check_good_file(good_csv: Path) -> None:
    done = _python_m("check", str(good_csv), "--target", "converted")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["task"] == "binary"


@pytest.mark.slow
def test_python_m_check_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "page.csv"
    path.write_text("<html><body>Not a table</body></html>")
    done = _python_m("check", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "neuromkt: 'page.csv' is a web page (HTML), not a table; download the data itself as "
        "CSV or Excel, not the page that shows it."
    ]
