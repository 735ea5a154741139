"""Soak test: hours of audio through the live loop (queue, Listener, Spotter, detector), faster than
real time, watching for dropped blocks and memory growth."""

from __future__ import annotations

import logging
import os
import resource
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .audio import BlockQueue, read_audio
from .listener import Listener
from .noise import colored_noise, mains_hum
from .spotter import Spotter

log = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def rss_mb() -> float:
    """Resident memory now (Linux), else the peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


def soak_audio(sample_rate: int, seed: int, loop: np.ndarray | None = None, seconds: float = 60.0) -> np.ndarray:
    """A minute of changing background (white, pink, brown noise, hum, at varying levels), with the
    `loop` audio mixed in when given, so the detector has something to find."""
    rng = np.random.default_rng(seed)
    n = int(sample_rate * seconds)
    part = n // 4
    audio = np.concatenate([rng.uniform(0.005, 0.1) * colored_noise(part, e, rng) for e in (0.0, 1.0, 2.0)]
                           + [0.05 * mains_hum(n - 3 * part, sample_rate, rng)])
    if loop is not None and len(loop):
        audio += np.resize(loop, n)
    return np.clip(audio, -1, 1).astype(np.float32)


class GeneratedSource:
    """Delivers `seconds` of audio through a BlockQueue from a producer thread paced at `speed` times
    real time, as a microphone callback would: a consumer that falls behind loses blocks, counted."""

    def __init__(self, audio: np.ndarray, seconds: float, sample_rate: int = 16000, block_ms: float = 20.0,
                 speed: float = 20.0, queue_blocks: int = 500, rss_every_s: float = 60.0):
        self.audio, self.sample_rate, self.speed = audio, sample_rate, speed
        self.block = int(sample_rate * block_ms / 1000)
        self.total_blocks = int(seconds * sample_rate / self.block)
        self.queue = BlockQueue(queue_blocks)
        self.rss_every_blocks = max(1, int(rss_every_s * sample_rate / self.block))
        self.rss: list[tuple[float, float]] = []
        self.consumed = 0
        self._done = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._produce, daemon=True)

    def _produce(self) -> None:
        start, block_s = time.monotonic(), self.block / self.sample_rate
        n_audio = len(self.audio) // self.block
        for i in range(self.total_blocks):
            if self._closed.is_set():
                break
            due = start + i * block_s / self.speed
            time.sleep(max(0.0, due - time.monotonic()))
            j = i % n_audio
            self.queue.put(self.audio[j * self.block:(j + 1) * self.block])
        self._done.set()

    def __enter__(self) -> GeneratedSource:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed.set()

    def blocks(self):
        while True:
            block = self.queue.get(timeout=0.5)
            if block is None:
                if self._done.is_set():
                    return
                continue
            if self.consumed % self.rss_every_blocks == 0:
                self.rss.append((self.consumed * self.block / self.sample_rate, rss_mb()))
            self.consumed += 1
            yield block


@dataclass
class SoakReport:
    audio_s: float
    wall_s: float
    cpu_s: float
    blocks: int
    delivered: int
    dropped: int
    detections: int
    rss_start_mb: float
    rss_end_mb: float
    rss_growth_mb: float   # end minus the level after warm-up (the first tenth of the run)
    speed: float
    rss_mb: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def soak(hours: float, bundle: str | Path | None = None, speed: float = 20.0, loop: str | Path | None = None,
         seed: int = 0, block_ms: float = 20.0) -> SoakReport:
    spotter = Spotter(bundle, stride_frames=2)
    rate = spotter.manifest.frontend.sample_rate
    audio = soak_audio(rate, seed, read_audio(loop, rate) if loop else None)
    seconds = hours * 3600
    source = GeneratedSource(audio, seconds, rate, block_ms, speed)
    listener = Listener(spotter, lambda: source)
    wall, cpu = time.monotonic(), time.process_time()
    listener.run(lambda event: None)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    source.rss.append((source.consumed * source.block / rate, rss_mb()))
    warm = next(mb for t, mb in source.rss if t >= seconds / 10) if len(source.rss) > 2 else source.rss[0][1]
    return SoakReport(
        audio_s=round(source.consumed * source.block / rate, 2), wall_s=round(wall, 2), cpu_s=round(cpu, 2),
        blocks=source.total_blocks, delivered=source.consumed, dropped=source.queue.dropped,
        detections=listener.detections, rss_start_mb=round(source.rss[0][1], 2),
        rss_end_mb=round(source.rss[-1][1], 2), rss_growth_mb=round(source.rss[-1][1] - warm, 2),
        speed=speed, rss_mb=[(round(t, 1), round(mb, 2)) for t, mb in source.rss])


def plot_rss(report: SoakReport, path: str | Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, mb = zip(*report.rss_mb)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(np.array(t) / 3600, mb)
    ax.set_xlabel("audio hours")
    ax.set_ylabel("RSS (MB)")
    ax.set_title(f"soak: {report.audio_s / 3600:.2f} h audio, {report.dropped} dropped blocks, "
                 f"growth {report.rss_growth_mb:+.2f} MB")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
