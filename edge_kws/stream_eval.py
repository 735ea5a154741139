"""Streaming accuracy: keyword clips placed at known times in long background audio (music, babble,
noise) at several SNRs, run through the live spotter faster than real time, scored as hits, misses and
false accepts per hour over a sweep of thresholds (a DET curve), as TensorFlow's
test_streaming_accuracy and the Porcupine benchmark do."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .audio import AudioError, read_audio
from .data import spoken_commands
from .dataset import SILENCE, UNKNOWN, list_clips
from .detector import Detector
from .noise import colored_noise
from .spotter import Spotter

log = logging.getLogger(__name__)

BACKGROUNDS = ("noise", "babble", "music")
MATCH_AFTER_S = 1.0  # a detection this long after a word's end still counts for it


def load_clips(data: str | Path | None, keywords: list[str], rate: int, split: str | None) -> tuple[list, list]:
    """(audio, word) for keyword clips and for other words (babble); the packaged commands by default."""
    if data is None:
        words = spoken_commands(rate)
        return [w for w in words if w[1] in keywords], [w for w in words if w[1] not in keywords]
    keyword, other = [], []
    for path, label in list_clips(data, keywords, split):
        if label == SILENCE:
            continue
        try:
            clip = _trim(read_audio(path, rate))
        except AudioError as e:
            log.warning("skipped %s", e)
            continue
        (other if label == UNKNOWN else keyword).append((clip, label if label != UNKNOWN else path.parent.name))
    return keyword, other


def _trim(clip: np.ndarray, frame: int = 160) -> np.ndarray:
    """The voiced part of a 1 s clip: 10 ms frames within 30 dB of the loudest."""
    energy = np.sqrt(np.mean(clip[:len(clip) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    voiced = np.flatnonzero(energy > energy.max() * 10 ** (-30 / 20))
    return clip[voiced[0] * frame:(voiced[-1] + 1) * frame] if len(voiced) else clip


def background(kind: str, seconds: float, rate: int, other: list, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * rate)
    if kind == "noise":
        return colored_noise(n, rng.uniform(0, 2), rng)
    if kind == "babble":
        if not other:
            raise ValueError("babble needs non-keyword speech: give --data with other words")
        out = np.zeros(n, np.float32)
        for _ in range(int(seconds * 6)):  # about six overlapping words a second: a room of talkers
            clip = other[rng.integers(len(other))][0]
            start = int(rng.integers(0, max(1, n - len(clip))))
            out[start:start + len(clip)] += clip[:n - start] * rng.uniform(0.3, 1.0)
        return out
    if kind == "music":
        from .player import Player, PlayerConfig
        player = Player(PlayerConfig(sample_rate=rate, channels=1, seed=int(rng.integers(1 << 16)),
                                     generated_tracks=2, volume=1.0))
        player.play()
        return player.render(n)[0]
    raise ValueError(f"background {kind!r}: expected one of {', '.join(BACKGROUNDS)}")


def build_stream(keyword: list, bg: np.ndarray, snr_db: float, rate: int, rng: np.random.Generator,
                 gap_s: tuple[float, float] = (2.0, 5.0)) -> tuple[np.ndarray, list[dict]]:
    """Keyword clips laid over `bg` at random gaps, each scaled to `snr_db` over the background's RMS."""
    audio = bg.copy()
    bg_rms = float(np.sqrt(np.mean(bg ** 2))) + 1e-9
    placed, t = [], rng.uniform(*gap_s)
    while True:
        clip, word = keyword[rng.integers(len(keyword))]
        start = int(t * rate)
        if start + len(clip) >= len(audio):
            break
        gain = bg_rms * 10 ** (snr_db / 20) / (float(np.sqrt(np.mean(clip ** 2))) + 1e-9)
        audio[start:start + len(clip)] += gain * clip
        placed.append({"word": word, "start": round(t, 3), "end": round(t + len(clip) / rate, 3)})
        t += len(clip) / rate + rng.uniform(*gap_s)
    peak = np.abs(audio).max()
    return (audio / peak * 0.9 if peak > 1 else audio).astype(np.float32), placed


def posteriors(spotter: Spotter, audio: np.ndarray, block: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """The spotter's class probabilities at every step over `audio`, with their times: the live path,
    recorded, so every threshold can be scored without running the model again."""
    spotter.reset()
    probs, times = [], []
    for i in range(0, len(audio), block):
        before = spotter.frontend.frames_emitted
        spotter.process(audio[i:i + block])
        if spotter.frontend.frames_emitted // spotter.stride_frames > before // spotter.stride_frames:
            probs.append(spotter.last_probs.copy())
            times.append(spotter.time)
    return np.array(probs), np.array(times)


def score(events: list[tuple[float, str]], placed: list[dict]) -> tuple[int, int]:
    """(hits, false accepts): a detection of a placed word's keyword between its start and
    MATCH_AFTER_S after its end is a hit (once per word); every other detection is a false accept."""
    used, hits = set(), 0
    for w in placed:
        k = next((i for i, (t, kw) in enumerate(events) if i not in used and kw == w["word"]
                  and w["start"] < t <= w["end"] + MATCH_AFTER_S), None)
        if k is not None:
            used.add(k)
            hits += 1
    return hits, len(events) - len(used)


def sweep(spotter: Spotter, probs: np.ndarray, times: np.ndarray, placed: list[dict],
          thresholds: np.ndarray) -> list[dict]:
    """Detector re-run on recorded posteriors, one threshold at a time (per-keyword ones dropped)."""
    rows = []
    base = spotter.detector.config
    step_ms = spotter.manifest.frontend.hop_ms * spotter.stride_frames
    for th in thresholds:
        det = Detector(spotter.labels, replace(base, threshold=float(th), thresholds={}), step_ms)
        events = [(e.t, e.keyword) for p, t in zip(probs, times) if (e := det.update(p, t)) is not None]
        hits, fa = score(events, placed)
        rows.append({"threshold": round(float(th), 3), "hits": hits, "misses": len(placed) - hits, "false_accepts": fa})
    return rows


def evaluate_streams(bundle, data=None, split: str | None = "testing", minutes: float = 10.0,
                     snrs: tuple[float, ...] = (20.0, 10.0, 5.0), kinds: tuple[str, ...] = BACKGROUNDS,
                     seed: int = 0) -> dict:
    spotter = Spotter(bundle)
    rate = spotter.manifest.frontend.sample_rate
    keyword, other = load_clips(data, spotter.manifest.keywords, rate, split)
    if not keyword:
        raise ValueError(f"{data or 'packaged commands'}: no clips of the model's keywords {spotter.manifest.keywords}")
    thresholds = np.round(np.arange(0.30, 1.0, 0.025), 3)
    rng = np.random.default_rng(seed)
    conditions, total = [], None
    for kind in kinds:
        for snr in tqdm(snrs, desc=kind, unit="stream", disable=None):
            audio, placed = build_stream(keyword, background(kind, minutes * 60, rate, other, rng), snr, rate, rng)
            probs, times = posteriors(spotter, audio)
            rows = sweep(spotter, probs, times, placed, thresholds)
            hours = len(audio) / rate / 3600
            conditions.append({"background": kind, "snr_db": snr, "hours": round(hours, 4),
                               "placed": len(placed), "det": rows})
            total = rows if total is None else [{k: (a[k] + b[k] if k != "threshold" else a[k]) for k in a}
                                                for a, b in zip(total, rows)]
    hours = sum(c["hours"] for c in conditions)
    placed = sum(c["placed"] for c in conditions)
    det = [{**r, "miss_rate": round(r["misses"] / placed, 4), "fa_per_hour": round(r["false_accepts"] / hours, 2)}
           for r in total]
    default = spotter.detector.config.threshold
    at_default = min(det, key=lambda r: abs(r["threshold"] - default))
    return {"hours": round(hours, 3), "placed": placed, "keywords": spotter.manifest.keywords,
            "clips": str(data or "packaged commands"), "at_default_threshold": at_default,
            "det": det, "conditions": conditions}


def plot_det(report: dict, path: str | Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for c in report["conditions"]:
        hours = c["hours"]
        ax.plot([max(r["false_accepts"] / hours, 0.05) for r in c["det"]], [r["misses"] / c["placed"] for r in c["det"]],
                lw=0.8, alpha=0.6, label=f"{c['background']} {c['snr_db']:g} dB")
    ax.plot([max(r["fa_per_hour"], 0.05) for r in report["det"]], [r["miss_rate"] for r in report["det"]],
            "k-", lw=2, label="all")
    ax.set_xscale("log")
    ax.set_xlabel("false accepts per hour (0 drawn at 0.05)")
    ax.set_ylabel("miss rate")
    ax.set_title(f"DET over thresholds: {report['hours']:.2f} h, {report['placed']} keywords")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
