"""Background audio for augmentation and `_silence_` clips: the user's own, or generated here."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge_kws.audio import AudioError, read_audio
from edge_kws.dataset import BACKGROUND

log = logging.getLogger(__name__)


def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), peak-normalised to 0.5."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spectrum / f ** (exponent / 2), n)
    return (0.5 * noise / np.abs(noise).max()).astype(np.float32)


def mains_hum(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """50 or 60 Hz hum with harmonics, under a little white noise."""
    t = np.arange(n) / sample_rate
    base = rng.choice([50.0, 60.0])
    hum = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    hum = hum / np.abs(hum).max() * 0.4 + 0.05 * rng.standard_normal(n)
    return hum.astype(np.float32)


def generated_background(sample_rate: int, seed: int, seconds: float = 10.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(sample_rate * seconds)
    return [*(colored_noise(n, e, rng) for e in (0.0, 1.0, 2.0)), mains_hum(n, sample_rate, rng)]


def load_background(data_dir: str | Path, sample_rate: int, seed: int) -> list[np.ndarray]:
    """The data folder's `_background_noise_` files if it has any, else generated noise."""
    folder = Path(data_dir) / BACKGROUND
    clips = []
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        try:
            clips.append(read_audio(path, sample_rate))
        except AudioError as e:
            log.warning("skipped background %s", e)
    if clips:
        return clips
    log.info("no %s in %s: using generated noise (white, pink, brown, hum)", BACKGROUND, data_dir)
    return generated_background(sample_rate, seed)


def random_segment(background: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples from a randomly chosen background clip (looped if it is shorter)."""
    clip = background[rng.integers(len(background))]
    if len(clip) < n:
        clip = np.tile(clip, n // len(clip) + 1)
    start = rng.integers(len(clip) - n + 1)
    return clip[start:start + n]
