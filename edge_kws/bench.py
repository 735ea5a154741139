"""Latency and CPU cost of a bundle on this machine: per invoke, per hop of the whole streaming path,
and CPU seconds per second of audio, measured with process CPU time."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from .noise import colored_noise
from .soak import peak_rss_mb
from .spotter import Spotter


def _percentiles(us: np.ndarray) -> dict:
    return {"min": round(float(us.min()), 1), "p50": round(float(np.percentile(us, 50)), 1),
            "p95": round(float(np.percentile(us, 95)), 1), "p99": round(float(np.percentile(us, 99)), 1)}


def bench(bundle=None, threads: int | None = None, xnnpack: bool = True, invokes: int = 2000,
          audio_s: float = 120.0, block_ms: float = 20.0, seed: int = 0) -> dict:
    spotter = Spotter(bundle, num_threads=threads, xnnpack=xnnpack)
    manifest, classifier = spotter.manifest, spotter.classifier
    fe = manifest.frontend
    rng = np.random.default_rng(seed)
    frames = manifest.streaming.step_frames if manifest.streaming else fe.frames_per_clip
    x = rng.normal(-8.0, 3.0, (frames, fe.n_mels)).astype(np.float32)
    call = classifier.step if manifest.streaming else classifier.predict
    for _ in range(200):
        call(x)
    us = np.empty(invokes)
    for i in range(invokes):
        t = time.perf_counter_ns()
        call(x)
        us[i] = (time.perf_counter_ns() - t) / 1000

    # The whole streaming path as the device runs it: audio blocks in, frontend, model, detector.
    spotter.reset()
    audio = np.resize(0.1 * colored_noise(fe.sample_rate * 10, 1.0, rng), int(audio_s * fe.sample_rate))
    block = int(fe.sample_rate * block_ms / 1000)
    hop_us = np.empty(len(audio) // block)
    cpu = time.process_time()
    for i in range(len(hop_us)):
        t = time.perf_counter_ns()
        spotter.process(audio[i * block:(i + 1) * block])
        hop_us[i] = (time.perf_counter_ns() - t) / 1000
    cpu = time.process_time() - cpu
    return {
        "cpu_per_audio_s": round(cpu / (len(hop_us) * block / fe.sample_rate), 6),
        "model": str(bundle or "default"), "kind": "streaming" if manifest.streaming else "whole window",
        "model_bytes": len(spotter.model), "invoke_every_ms": fe.hop_ms * spotter.stride_frames,
        "invoke_us": _percentiles(us), "invokes": invokes,
        "block_ms": block_ms, "block_us": _percentiles(hop_us), "audio_s": round(len(hop_us) * block / fe.sample_rate, 1),
        "xnnpack": xnnpack, "threads": threads, "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "invoke_us_all": us.round(1).tolist(),
    }


def plot_latency(report: dict, path: str | Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    us = np.array(report["invoke_us_all"])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(us, bins=60, range=(us.min(), np.percentile(us, 99.5)))
    for q in ("p50", "p95", "p99"):
        ax.axvline(report["invoke_us"][q], color="k", ls=":", lw=1)
        ax.text(report["invoke_us"][q], ax.get_ylim()[1] * 0.9, q, fontsize=8)
    ax.set_xlabel("microseconds per invoke")
    ax.set_ylabel("invokes")
    ax.set_title(f"{report['kind']} model, {report['model_bytes']} bytes, XNNPACK {'on' if report['xnnpack'] else 'off'}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
