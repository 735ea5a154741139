"""Noise generators: background audio for training and for soak tests of the live loop."""

from __future__ import annotations

import numpy as np


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
