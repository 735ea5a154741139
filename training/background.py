"""Background audio for augmentation and `_silence_` clips: the user's own, or generated here."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge_kws.audio import AudioError, read_audio
from edge_kws.dataset import BACKGROUND
from edge_kws.noise import colored_noise, mains_hum

log = logging.getLogger(__name__)


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
