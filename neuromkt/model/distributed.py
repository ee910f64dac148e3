"""DDP plumbing, as nanoGPT's ``train.py`` does it: the same code alone or under torchrun.

``torchrun`` starts one process per rank and sets ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``; :func:`setup` reads them, joins the process group (gloo on CPU, nccl on
CUDA) and returns a :class:`DistContext`. Started without torchrun it returns a
context of one process and nothing here talks to anyone, so training code calls the
helpers (:func:`all_reduce`, :func:`broadcast`, :func:`all_gather`, :func:`barrier`)
unconditionally.

Failure: under torchrun, a rank that exits with an error makes the torchrun agent end
the others with SIGTERM; :func:`job` turns that signal, and a collective that fails
because a peer vanished, into :class:`JobStopped` with a message that names this
process and says that no model was saved. Only rank 0 writes (:func:`on_main`), after
every rank has finished, and ``save_bundle`` writes atomically, so a failed job never
leaves half a bundle.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from neuromkt.errors import NeuromktError
from neuromkt.model.inference import pick_device

__all__ = [
    "DistContext",
    "JobStopped",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "job",
    "launched",
    "on_main",
    "setup",
    "teardown",
    "unused_parameters",
    "wrap_model",
]

TIMEOUT_ENV = "NEUROMKT_DIST_TIMEOUT_S"  # seconds a collective may wait (default 1800)
_T = TypeVar("_T")


class JobStopped(NeuromktError):
    """Another process of a distributed job failed, or the job was cancelled."""


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly one-process) job."""

    rank: int = 0  # this process, 0..world_size-1
    world_size: int = 1  # processes in the job
    local_rank: int = 0  # this process on its machine (picks the GPU)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None  # "gloo" or "nccl" when distributed

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that reports and writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def launched() -> bool:
    """Whether this process was started by torchrun (or alike) as one of several."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def _stop_message(ctx: DistContext, why: str) -> str:
    return (
        f"Process {ctx.rank} of {ctx.world_size} stopped: {why}; the whole training job "
        "ends here and no model was saved."
    )


def setup(device: str = "auto") -> DistContext:
    """Join the process group when launched by torchrun; else a one-process context.

    Args:
        device: "auto" (cuda when available), "cpu" or "cuda".
    """
    wanted = pick_device(device)
    if not launched():
        return DistContext(device=wanted)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if wanted.type == "cuda":
        torch.cuda.set_device(local)
        wanted, backend = torch.device("cuda", local), "nccl"
    else:
        backend = "gloo"
    timeout = float(os.environ.get(TIMEOUT_ENV, "1800"))
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout))
    ctx = DistContext(rank, world, local, wanted, backend)

    def on_term(signum: int, frame: Any) -> None:
        print(
            "neuromkt: "
            + _stop_message(ctx, "another process of the job ended or it was cancelled"),
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    return ctx


def teardown(ctx: DistContext) -> None:
    """Leave the process group (nothing for one process)."""
    if ctx.distributed and dist.is_initialized():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with contextlib.suppress(Exception):  # a peer may be gone already
            dist.destroy_process_group()


@contextlib.contextmanager
def job(device: str = "auto") -> Iterator[DistContext]:
    """``setup`` … ``teardown``, with a failed collective reported as :class:`JobStopped`."""
    ctx = setup(device)
    try:
        yield ctx
    except (dist.DistError, RuntimeError) as exc:
        # DDP's gradient all-reduce reports a lost peer as a plain RuntimeError from
        # gloo/NCCL ("Connection reset by peer"); other RuntimeErrors are real bugs.
        lost_peer = isinstance(exc, dist.DistError) or any(
            word in str(exc) for word in ("gloo", "NCCL", "Connection reset", "Connection closed")
        )
        if not ctx.distributed or not lost_peer:
            raise
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise JobStopped(
            _stop_message(ctx, f"another process of the job failed ({first})")
        ) from exc
    finally:
        teardown(ctx)


def unused_parameters(model: nn.Module, example: dict[str, torch.Tensor]) -> list[str]:
    """Names of the parameters that get no gradient from a forward pass on ``example``.

    A table without text columns leaves the token embeddings unused, one without
    numeric columns the numeric embedding; DDP must be told, or it waits for them.
    """
    model.zero_grad(set_to_none=True)
    model(**example).sum().backward()
    unused = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    model.zero_grad(set_to_none=True)
    return unused


def wrap_model(
    model: nn.Module, ctx: DistContext, example: dict[str, torch.Tensor] | None = None
) -> nn.Module:
    """The model wrapped in DistributedDataParallel when distributed, else as it is.

    ``example`` (a batch of inputs) lets it check for parameters the model never uses.
    """
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    unused = bool(example) and bool(unused_parameters(model, example))
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)


def _comm_device(ctx: DistContext) -> torch.device:
    return ctx.device if ctx.backend == "nccl" else torch.device("cpu")


def all_reduce(ctx: DistContext, values: Sequence[float], op: str = "sum") -> list[float]:
    """Element-wise sum, max or min of ``values`` over all processes (float64)."""
    if not ctx.distributed:
        return [float(v) for v in values]
    ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
    tensor = torch.tensor(list(values), dtype=torch.float64, device=_comm_device(ctx))
    dist.all_reduce(tensor, op=ops[op])
    return tensor.cpu().tolist()


def broadcast(ctx: DistContext, obj: _T) -> _T:
    """Rank 0's ``obj`` on every process (any picklable object)."""
    if not ctx.distributed:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0, device=_comm_device(ctx))
    return box[0]  # type: ignore[return-value]


def all_gather(ctx: DistContext, obj: _T) -> list[_T]:
    """Every process's ``obj``, in rank order, on every process."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: DistContext) -> None:
    """Wait until every process gets here."""
    if ctx.distributed:
        dist.barrier()


def on_main(ctx: DistContext, action: Callable[[], _T]) -> _T | None:
    """Run ``action`` on rank 0 only, then wait for it on every rank; rank 0 gets its result.

    Used for writing: the other ranks are still in the job while rank 0 writes, so a
    failed write on rank 0 ends them too.
    """
    result = action() if ctx.is_main else None
    barrier(ctx)
    return result
