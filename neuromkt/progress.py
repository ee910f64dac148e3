"""How long work reports how far it is: one :class:`Progress` to one callback.

Training (:func:`neuromkt.model.training.fit`), scoring, attributions, attention and
the HTML report each take ``on_progress``, a function called with a
:class:`Progress` now and then: how many units (rows) are done out of how many, what
is happening, and how long it has taken. The dashboard turns it into an
``st.progress`` bar, the command line into a tqdm bar on stderr, a notebook into
whatever it likes. Training reports a subclass with its epoch, loss and validation
metrics (:class:`neuromkt.model.training.TrainProgress`).

Work made of several passes over the rows (scoring, then explaining) reports them as
one count: a :class:`Tracker` adds each pass's rows to those of the passes before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["OnProgress", "Progress", "Tracker"]


@dataclass(frozen=True)
class Progress:
    """One report of long work to its ``on_progress`` callback.

    Attributes:
        done: Units finished so far (rows scored, explained or trained on).
        total: Units planned in all; ``done`` reaches it when the work ends (training
            that stops early ends below it).
        unit: What ``done`` and ``total`` count, e.g. "rows".
        message: What is happening, in plain words ("Integrated Gradients").
        elapsed_s: Seconds since the work started.

    Example:
        >>> import neuromkt as nm
        >>> p = nm.Progress(done=250, total=1000, message="Scoring", elapsed_s=2.0)
        >>> p.fraction, p.eta_s
        (0.25, 6.0)
    """

    done: int
    total: int
    unit: str = "rows"
    message: str = ""
    elapsed_s: float = 0.0

    @property
    def fraction(self) -> float:
        """``done / total`` in 0..1 (1 when there is nothing to do)."""
        return min(1.0, self.done / self.total) if self.total > 0 else 1.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far; None before anything is done."""
        if self.done <= 0:
            return None
        return self.elapsed_s / self.done * max(self.total - self.done, 0)


OnProgress = Callable[[Progress], None]  # the callback every long computation takes


class Tracker:
    """Sends :class:`Progress` reports to a callback (or nowhere), timed from its creation.

    Args:
        on_progress: The callback; None reports nowhere.
        total: Units planned in all, over every pass.
        unit: What the units are.
    """

    def __init__(self, on_progress: OnProgress | None, total: int, *, unit: str = "rows") -> None:
        self.on_progress, self.total, self.unit = on_progress, int(total), unit
        self.started = time.perf_counter()

    def update(self, done: int, message: str = "") -> None:
        """Report ``done`` units of ``total`` finished."""
        if self.on_progress is not None:
            elapsed = time.perf_counter() - self.started
            self.on_progress(Progress(int(done), self.total, self.unit, message, elapsed))

    def part(self, start: int, message: str) -> OnProgress | None:
        """The callback of one pass that begins after ``start`` units: it reports
        ``start`` plus the pass's own ``done``, with ``message``."""
        if self.on_progress is None:
            return None
        return lambda progress: self.update(start + progress.done, message)
