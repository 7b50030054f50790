"""Data parallelism for both training loops: one process per GPU, started from inside the Dagster step
(`training_loop.on_devices` starts them and collects the main process's weights and result).

`self_train` and `pretrain` run unchanged in every process. accelerate wraps the model in DistributedDataParallel,
so gradients are averaged across processes at every step. Each process trains on its own share of every epoch's
batches (`shard`). Decisions that must not diverge (a held-out score, a spent time budget, the pool rows a round
adds) are the main process's (`agree`). Only the main process writes checkpoints and logs.

The processes are spawned, not forked. A forked child deadlocks in OpenMP once its parent has run a parallel CPU
kernel, and CUDA cannot be initialised again in a forked child. The children's log records are relayed to the
parent's loggers, so progress still reaches the Dagster run log.

On a machine without GPUs training stays in one process: two processes on 2 cores would share the same cores.
The tests run two CPU processes (gloo) to check the multi-process logic where no GPU is available.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["agree", "check_replicas", "run_in_processes", "shard", "training_gpus", "training_processes"]

T = TypeVar("T")
log = logging.getLogger(__name__)


def training_processes() -> int:
    """Training processes: one per visible GPU (`CUDA_VISIBLE_DEVICES` chooses which), one where there is none."""
    import torch

    return max(1, torch.cuda.device_count()) if torch.cuda.is_available() else 1


def training_gpus(processes: int | None = None) -> int:
    """GPUs a run trains on (for its cost): one per process on a GPU machine, none on the CPU."""
    import torch

    return (processes or training_processes()) if torch.cuda.is_available() else 0


def shard(batches: Sequence[T], rank: int, processes: int) -> list[T]:
    """Process `rank`'s share of an epoch's batches: every `processes`-th one from `rank`, the same count for every
    process (a step where one process has no batch would stall the gradient exchange). The last
    `len(batches) % processes` batches are left out of the epoch. Where there are fewer batches than processes,
    every process takes the first."""
    if processes <= 1:
        return list(batches)
    if not 0 <= rank < processes:
        raise ValueError(f"rank {rank} outside 0..{processes - 1}")
    if len(batches) < processes:
        return list(batches[:1])
    usable = len(batches) - len(batches) % processes
    return list(batches[rank:usable:processes])


def agree(accelerator, value: T) -> T:
    """The main process's `value` on every process (for one process: `value`)."""
    if accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]


def check_replicas(accelerator, state: dict) -> None:
    """Raises unless every process ends with the same weights `state` (name -> tensor): gradients averaged at
    every step keep the replicas equal, and a loop that lets them drift apart must not pass for data-parallel."""
    if accelerator.num_processes == 1:
        return
    import hashlib

    from accelerate.utils import gather_object

    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().float().cpu().numpy().tobytes())
    digests = gather_object([digest.hexdigest()])
    if len(set(digests)) != 1:
        raise RuntimeError(f"the {accelerator.num_processes} training processes ended with different weights ({digests})")


class _Relay(logging.Handler):
    """Hands a record from a training process to the parent's logger of the same name (and so to Dagster)."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(record.name).handle(record)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _end_with_the_parent() -> None:
    """A training process whose step was killed must not train on, holding its GPU (Linux: PR_SET_PDEATHSIG)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _process_main(index: int, processes: int, port: int, cpu: bool, records, function: Callable, args: tuple) -> None:
    _end_with_the_parent()
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(processes),
                       "RANK": str(index), "LOCAL_RANK": str(index)})
    if cpu:  # accelerate's multi-CPU mode (gloo) reads this
        os.environ.update({"ACCELERATE_USE_CPU": "yes", "GLOO_SOCKET_IFNAME": "lo"})
    root = logging.getLogger("genai_lab")
    root.handlers.clear()
    root.propagate = False
    if index == 0:
        root.setLevel(logging.INFO)
        root.addHandler(logging.handlers.QueueHandler(records))
    else:  # the other processes repeat the main one's progress: only their warnings count
        root.setLevel(logging.WARNING)
        root.addHandler(logging.StreamHandler())
    function(*args)


def run_in_processes(function: Callable, args: tuple, processes: int, *, cpu: bool = False) -> None:
    """`function(*args)` in `processes` spawned processes joined into one torch.distributed group (NCCL on GPUs,
    gloo with `cpu`), each with its rank in `RANK`/`LOCAL_RANK`; returns when all finish, raises if one fails.

    `function` must be importable (a module-level function) and `args` picklable. It hands results back through
    files: nothing it returns or changes in memory reaches this process.
    """
    import multiprocessing

    import torch.multiprocessing

    records = multiprocessing.get_context("spawn").Queue()
    listener = logging.handlers.QueueListener(records, _Relay())
    listener.start()
    log.info(f"Training in {processes} processes ({'CPU' if cpu else 'one GPU each'})")
    try:
        torch.multiprocessing.start_processes(_process_main, args=(processes, _free_port(), cpu, records, function, args),
                                              nprocs=processes, start_method="spawn", join=True)
    finally:
        listener.stop()
