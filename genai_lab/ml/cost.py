"""What training and inference cost: wall and CPU seconds, peak memory, an energy estimate, parameters.

Energy is an estimate, not a measurement (no power meter here): CPU seconds times a per-core power
draw, plus GPU seconds times a GPU power draw, both settings.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

from genai_lab.settings import StrictConfig


class CostSettings(StrictConfig):
    """Power draws behind the energy estimate (inference is timed by `inference_timing`, every model together)."""

    #: average power of one busy CPU core, watts (a laptop core under load: 5-15 W)
    cpu_watts_per_core: float = 10.0
    #: average power of one busy GPU, watts
    gpu_watts: float = 300.0


@dataclass
class CostMeter:
    """Start it before the work, `stop()` after; peak RSS is sampled in a thread, so a peak reached before start does not count."""

    settings: CostSettings = field(default_factory=CostSettings)
    gpus: int = 0
    interval_s: float = 0.2

    def __post_init__(self) -> None:
        self._process = psutil.Process()
        self._started = time.monotonic()
        times = self._process.cpu_times()
        self._cpu_started = times.user + times.system
        self._peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self.result: dict[str, float] | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, self._process.memory_info().rss)

    def stop(self) -> dict[str, float]:
        if self.result is not None:
            return self.result
        self._stop.set()
        self._sampler.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        wall = time.monotonic() - self._started
        times = self._process.cpu_times()
        cpu = times.user + times.system - self._cpu_started
        joules = cpu * self.settings.cpu_watts_per_core + wall * self.gpus * self.settings.gpu_watts
        self.result = {
            "train_seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "peak_rss_mb": round(self._peak / 1e6, 1),
            "energy_kwh": joules / 3.6e6,
        }
        return self.result


def parameter_counts(model) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"params_total": int(total), "params_trainable": int(trainable)}
