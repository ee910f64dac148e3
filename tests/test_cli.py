"""The command line, in-process and as ``python -m neuromkt``: ``check``, and ``train``,
``predict``, ``explain`` and ``report`` end to end on a small table; bad input exits 2
with one line; progress bars only on a terminal."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import neuromkt.explain.attention as attention_module
import neuromkt.explain.attributions as attributions_module
from neuromkt.cli import build_parser, main, progress_bar
from neuromkt.data.samples import load_sample
from neuromkt.model.bundle import load_bundle
from neuromkt.progress import Progress

REPO = Path(__file__).resolve().parents[1]
SAMPLE_MODEL = REPO / "sample_data" / "models" / "ecommerce.zip"


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


def test_check_runs_without_loading_torch(good_csv: Path) -> None:
    """``check`` needs no model, so it does not pay for importing torch (seconds)."""
    code = (
        "import sys; from neuromkt.cli import main; "
        f"assert main(['check', {str(good_csv)!r}]) == 0; print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


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


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def sessions_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 e-commerce sessions: an id, numbers, categories, a clickstream and the outcome."""
    path = tmp_path_factory.mktemp("cli") / "sessions.csv"
    load_sample("ecommerce").head(400).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(sessions_csv: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``neuromkt train`` on the sessions: the model folder and the finished process."""
    out = sessions_csv.parent / "model"
    done = _python_m("train", str(sessions_csv), "--target", "purchased", "--out", str(out),
                     "--epochs", "2", "--size", "small")  # fmt: skip
    return out, done


def _features(model: Path) -> list[str]:
    return load_bundle(model).encoders.input_columns


@pytest.mark.slow
def test_train_saves_a_bundle_and_prints_metrics(trained) -> None:
    model, done = trained
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"roc_auc", "pr_auc", "accuracy", "n"} <= set(metrics)
    assert 0.0 <= metrics["roc_auc"] <= 1.0
    assert {p.name for p in model.iterdir()} == {"bundle.json", "weights.safetensors"}
    log = done.stderr.splitlines()
    assert [line.split()[:2] for line in log[:2]] == [["epoch", "1/2"], ["epoch", "2/2"]]
    assert log[-1].startswith(f"saved {model} (best epoch ")
    assert "rows/s" not in done.stderr and "\r" not in done.stderr  # no bar in a pipe


@pytest.mark.slow
def test_predict_keeps_the_rows_and_adds_scores(trained, sessions_csv, tmp_path) -> None:
    model, _ = trained
    out = tmp_path / "scores.csv"
    done = _python_m("predict", str(model), str(sessions_csv), "--out", str(out), "--reasons")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip() == f"wrote 400 scored rows to {out}"
    scored, source = pd.read_csv(out), pd.read_csv(sessions_csv)
    assert list(scored.columns) == [*source.columns, "score", "top_drivers"]
    assert scored["session_id"].tolist() == source["session_id"].tolist()  # joins back
    assert scored["score"].between(0, 1).all()
    assert scored["top_drivers"].str.len().gt(0).all()


@pytest.mark.slow
def test_explain_per_row_carries_the_id(trained, sessions_csv, tmp_path) -> None:
    model, _ = trained
    out = tmp_path / "ig.csv"
    done = _python_m("explain", str(model), str(sessions_csv), "--method", "ig", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    table = pd.read_csv(out)
    assert list(table.columns) == ["session_id", *_features(model)]
    assert table["session_id"].tolist() == pd.read_csv(sessions_csv)["session_id"].tolist()
    assert np.isfinite(table.drop(columns="session_id").to_numpy()).all()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ig", "attention"])
def test_explain_global_and_out_agree(trained, sessions_csv, tmp_path, method) -> None:
    """One computation gives both: the ranking is the mean (|attribution|) of the table."""
    model, _ = trained
    out = tmp_path / "rows.csv"
    done = _python_m("explain", str(model), str(sessions_csv), "--method", method,
                     "--global", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    ranking = json.loads(done.stdout)
    assert set(ranking) == {"features", "tokens"}
    features, tokens = ranking["features"], ranking["tokens"]
    assert sorted(f["name"] for f in features) == sorted(_features(model))
    assert all(set(f) == {"name", "importance"} for f in features)
    assert tokens and all(set(t) == {"column", "token", "importance", "count"} for t in tokens)
    assert {t["column"] for t in tokens} == {"events"}
    assert all(t["count"] >= 5 for t in tokens)
    for items in (features, tokens):
        values = [item["importance"] for item in items]
        assert values == sorted(values, reverse=True)
    table = pd.read_csv(out).drop(columns="session_id")
    per_row = table.abs().mean() if method == "ig" else table.mean()
    for f in features:
        assert f["importance"] == pytest.approx(per_row[f["name"]], rel=1e-5, abs=1e-7)


@pytest.mark.slow
def test_report_writes_one_page(trained, sessions_csv, tmp_path) -> None:
    model, _ = trained
    out = tmp_path / "report.html"
    done = _python_m("report", str(model), str(sessions_csv), "--out", str(out),
                     "--title", "Q3 sessions")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"wrote the report to {out}"
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>Q3 sessions</title>" in page
    for anchor in ("summary", "quality", "attention", "drivers", "agreement", "targeting"):
        assert f'<section id="{anchor}">' in page


@pytest.mark.parametrize("method", ["ig", "attention"])
def test_explain_global_out_computes_once(tmp_path, capsys, monkeypatch, method) -> None:
    """``--global --out`` runs the explanation once, not once per output."""
    name = "attribute" if method == "ig" else "compute_attention"
    module = attributions_module if method == "ig" else attention_module
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    rows = tmp_path / "rows.csv"
    load_sample("ecommerce").head(40).to_csv(rows, index=False)
    args = ["explain", str(SAMPLE_MODEL), str(rows), "--method", method]
    assert main([*args, "--global", "--out", str(tmp_path / "out.csv")]) == 0
    assert len(calls) == 1
    assert json.loads(capsys.readouterr().out)["features"]


# ---------------------------------------------------------------- bad input


def _sample_rows(tmp_path: Path, n: int = 30, drop: tuple[str, ...] = ()) -> Path:
    path = tmp_path / "rows.csv"
    load_sample("ecommerce").head(n).drop(columns=list(drop)).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("train", "{rows}", "--target", "bought", "--out", "{tmp}/m"), "no column 'bought'"),
        (("train", "{rows}", "--target", "purchased", "--out", "{tmp}/m", "--epochs", "0"),
         "--epochs must be at least 1"),
        (("predict", "{model}", "{rows_no_events}", "--out", "{tmp}/s.csv"), "'events'"),
        (("predict", "{rows}", "{rows}", "--out", "{tmp}/s.csv"), "rows.csv"),
        (("explain", "{model}", "{rows}"), "Say what to produce"),
        (("explain", "{model}", "{rows}", "--out", "{tmp}/nowhere/x.csv"), "does not exist"),
        (("report", "{model}", "{rows}", "--out", "{tmp}/nowhere/r.html"), "does not exist"),
        (("report", "{model}", "{tmp}/gone.csv", "--out", "{tmp}/r.html"), "No file at"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, words) -> None:
    rows = _sample_rows(tmp_path)
    no_events = tmp_path / "no_events.csv"
    pd.read_csv(rows).drop(columns="events").to_csv(no_events, index=False)
    fill = {"rows": rows, "rows_no_events": no_events, "model": SAMPLE_MODEL, "tmp": tmp_path}
    started = time.perf_counter()
    assert main([a.format(**fill) for a in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuromkt: ")
    assert words in lines[0]
    assert time.perf_counter() - started < 30  # refused before any long work


def test_python_m_bad_model_exits_2_without_traceback(tmp_path) -> None:
    rows = _sample_rows(tmp_path)
    done = _python_m("predict", str(rows), str(rows), "--out", str(tmp_path / "s.csv"))
    assert done.returncode == 2
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- progress bars


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_rows_per_second_and_time_left() -> None:
    screen = _Terminal()
    with progress_bar(screen) as update:
        for done in (100, 200, 400):
            update(Progress(done, 400, message="Integrated Gradients", elapsed_s=done / 100))
    text = screen.getvalue()
    assert "Integrated Gradients" in text and "400/400" in text
    assert "rows/s" in text and "<" in text  # rate and time left: [elapsed<left, rate]


def test_progress_bar_is_silent_off_a_terminal() -> None:
    log = io.StringIO()  # not a terminal
    with progress_bar(log) as update:
        update(Progress(10, 20))
    assert log.getvalue() == ""


def _run_on_terminal(*args: str, timeout: float = 120) -> tuple[int, str]:
    """``python -m neuromkt ARGS`` with stderr on a 100-column pseudo-terminal.

    Returns:
        The exit code and everything written to the terminal.
    """
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "neuromkt", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=follower)  # fmt: skip
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1.0)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_train_draws_a_bar_on_a_terminal(sessions_csv, tmp_path) -> None:
    code, screen = _run_on_terminal("train", str(sessions_csv), "--target", "purchased",
                                    "--out", str(tmp_path / "m"), "--epochs", "2",
                                    "--size", "small")  # fmt: skip
    assert code == 0, screen
    assert "epoch 2/2" in screen and "rows/s" in screen and "loss" in screen
