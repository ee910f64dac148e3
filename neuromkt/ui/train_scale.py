"""The Train page's answer to a table too large to train in a browser session.

Above :func:`max_rows_here` rows (1,000,000 by default, ``$NEUROMKT_TRAIN_HERE_MAX_ROWS``
to change it) the dashboard does not train: the in-memory path needs about 1.5 GB and
3 minutes per million rows of the e-commerce shape, inside the server process that
serves every tab. Instead the page writes the table once as Parquet under
``$NEUROMKT_HOME/data/`` and shows the ``neuromkt train`` command that streams it with
several processes (DDP); the bundle it writes is uploaded back like any other.
"""

from __future__ import annotations

import os
import shlex
import uuid
from pathlib import Path

import streamlit as st

from neuromkt.model.registry import home_dir
from neuromkt.model.threads import available_cores
from neuromkt.ui import escape_markdown
from neuromkt.ui.state import Dataset

__all__ = ["DEFAULT_MAX_ROWS", "ENV_VAR", "command_line_panel", "max_rows_here", "too_large"]

ENV_VAR = "NEUROMKT_TRAIN_HERE_MAX_ROWS"
DEFAULT_MAX_ROWS = 1_000_000


def max_rows_here() -> int:
    """The most rows the Train page trains on in the browser session."""
    value = os.environ.get(ENV_VAR, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_ROWS


def too_large(dataset: Dataset) -> bool:
    """Whether ``dataset`` should be trained from the command line instead."""
    return len(dataset.frame) > max_rows_here()


def exported_table(dataset: Dataset) -> Path:
    """The data set as Parquet under ``$NEUROMKT_HOME/data/``, written once per content."""
    path = home_dir() / "data" / f"{dataset.fingerprint[:16]}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            dataset.frame.to_parquet(tmp, index=False)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def train_command(dataset: Dataset, data: Path, out: Path, workers: int) -> str:
    """The ``neuromkt train`` command for ``dataset``'s target and roles."""
    schema = dataset.schema
    parts = ["neuromkt", "train", str(data), "--target", str(schema.target), "--out", str(out)]
    for column in schema.text:
        parts += ["--text", column]
    for column in (c.name for c in schema.columns if c.role == "ignore"):
        parts += ["--ignore", column]
    if workers > 1:
        parts += ["--workers", str(workers)]
    return shlex.join(parts)


def command_line_panel(dataset: Dataset) -> None:
    """Say that the table is too large to train here, and show the command that can."""
    with st.spinner("Writing the table for the command line…"):
        data = exported_table(dataset)
    out = data.with_name(f"{data.stem}-model.zip")
    command = train_command(dataset, data, out, workers=available_cores())
    st.warning(
        f"This table has {len(dataset.frame):,} rows, more than the {max_rows_here():,} "
        "the dashboard trains in a browser session. Train it from the command line, "
        "which reads it in chunks and uses every core; then load the model under "
        f"**Load a model › Upload a bundle** (the file {escape_markdown(out.name)}).",
        icon=":material/terminal:",
    )
    st.code(command, language="bash")
    st.caption(
        "Across machines: run the same command under torchrun with --nnodes (see the "
        "README, “Beyond one machine”)."
    )
