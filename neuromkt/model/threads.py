"""How many CPU threads torch may use, decided once per process.

PyTorch's default is one intra-op thread per core. In the dashboard that is too many:
Streamlit serves every browser tab from one process, a training thread runs next to
the page that draws attention or attributions, and each of those torch calls starts
its own team of threads. On a 2-core machine with a second job running, Integrated
Gradients on 1,000 rows took 6.2 s on one thread and 34 s on two (``bench/explain.py``),
because the threads wait on each other for cores they do not get. So neuromkt leaves
one core free: ``cores - 1`` threads, at least one. ``NEUROMKT_THREADS`` overrides it.
"""

from __future__ import annotations

import os

from neuromkt.errors import NeuromktError

ENV_VAR = "NEUROMKT_THREADS"


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_threads(cores: int | None = None) -> int:
    """Torch threads to use: ``NEUROMKT_THREADS`` when set, else ``cores - 1`` (>= 1).

    Raises:
        NeuromktError: when ``NEUROMKT_THREADS`` is not a positive whole number.
    """
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise NeuromktError(
                f"{ENV_VAR}={value!r} must be a positive whole number of threads, e.g. 2."
            )
        return int(value)
    cores = available_cores() if cores is None else cores
    return max(1, cores - 1)


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count (``threads`` or :func:`default_threads`).

    Returns:
        The number of threads torch now uses.
    """
    import torch  # here, so that checking the setting (default_threads) needs no torch

    wanted = default_threads() if threads is None else threads
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return torch.get_num_threads()
