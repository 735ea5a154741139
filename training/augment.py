"""Per-batch augmentation: time shift and background audio, every draw from a seeded generator."""

from __future__ import annotations

import numpy as np

from .background import random_segment
from .config import AugmentConfig


def time_shift(audio: np.ndarray, shift: int) -> np.ndarray:
    """Move a clip by `shift` samples (positive: later), filling with zeros."""
    out = np.zeros_like(audio)
    if shift >= 0:
        out[shift:] = audio[:len(audio) - shift]
    else:
        out[:shift] = audio[-shift:]
    return out


def augment_batch(clips: np.ndarray, background: list[np.ndarray], cfg: AugmentConfig,
                  sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    max_shift = int(sample_rate * cfg.time_shift_ms / 1000)
    out = np.empty_like(clips)
    for i, clip in enumerate(clips):
        clip = time_shift(clip, int(rng.integers(-max_shift, max_shift + 1))) if max_shift else clip.copy()
        if background and rng.random() < cfg.background_probability:
            clip = clip + rng.uniform(0, cfg.background_volume) * random_segment(background, len(clip), rng)
        out[i] = np.clip(clip, -1.0, 1.0)
    return out
