"""The one feature frontend: 16 kHz audio in, log-mel frames out.

Training computes its features with `Frontend.features` / `Frontend.features_batch`, the device with
`StreamingFrontend.push`; all three run the same `Frontend.frame_features`, so the model sees the same
numbers in both places. Every parameter lives in `FrontendConfig`, which the bundle manifest stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrontendConfig:
    sample_rate: int = 16000
    window_ms: float = 30.0
    hop_ms: float = 20.0
    n_fft: int = 512
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 7600.0
    log_floor: float = 1e-6
    clip_ms: float = 1000.0  # the span of audio the classifier sees at once

    def __post_init__(self) -> None:
        if self.window_samples > self.n_fft:
            raise ValueError(f"frontend: window_ms={self.window_ms} needs {self.window_samples} samples, "
                             f"more than n_fft={self.n_fft}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"frontend: need 0 <= fmin < fmax <= sample_rate/2, got fmin={self.fmin}, "
                             f"fmax={self.fmax}, sample_rate={self.sample_rate}")
        if self.hop_samples < 1 or self.n_mels < 1 or self.clip_samples < self.window_samples:
            raise ValueError(f"frontend: hop, n_mels and clip must be positive and the clip at least one "
                             f"window long: {self}")

    @property
    def window_samples(self) -> int:
        return int(round(self.sample_rate * self.window_ms / 1000))

    @property
    def hop_samples(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_ms / 1000))

    @property
    def frames_per_clip(self) -> int:
        return num_frames(self.clip_samples, self.window_samples, self.hop_samples)


def num_frames(n_samples: int, window: int, hop: int) -> int:
    return 0 if n_samples < window else 1 + (n_samples - window) // hop


def mel_filterbank(cfg: FrontendConfig) -> np.ndarray:
    """Triangular filters on the HTK mel scale, shape (n_fft//2 + 1, n_mels)."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    bins = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


class Frontend:
    """Batch features: a whole clip, or a stack of equal-length clips."""

    def __init__(self, config: FrontendConfig | None = None):
        self.config = config or FrontendConfig()
        n = self.config.window_samples
        # Periodic Hann, as in most speech front-ends (torch.hann_window, tf.signal.hann_window).
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
        self.mel = mel_filterbank(self.config)

    def frame_features(self, frames: np.ndarray) -> np.ndarray:
        """(..., window_samples) windows of audio -> (..., n_mels) log-mel energies."""
        spectrum = np.fft.rfft(frames * self.window, n=self.config.n_fft, axis=-1)
        power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
        return np.log(power @ self.mel + self.config.log_floor).astype(np.float32)

    def frames(self, audio: np.ndarray) -> np.ndarray:
        """Cut (..., samples) audio into (..., n_frames, window_samples) without copying."""
        cfg = self.config
        audio = np.asarray(audio, dtype=np.float32)
        if audio.shape[-1] < cfg.window_samples:
            return np.zeros(audio.shape[:-1] + (0, cfg.window_samples), np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(audio, cfg.window_samples, axis=-1)
        return windows[..., ::cfg.hop_samples, :]

    def features(self, audio: np.ndarray) -> np.ndarray:
        """1-D audio -> (n_frames, n_mels)."""
        return self.frame_features(self.frames(audio))

    def features_batch(self, clips: np.ndarray, chunk: int = 512) -> np.ndarray:
        """(N, samples) clips -> (N, n_frames, n_mels), in chunks to bound memory."""
        clips = np.asarray(clips, dtype=np.float32)
        n_frames = num_frames(clips.shape[1], self.config.window_samples, self.config.hop_samples)
        out = np.empty((len(clips), n_frames, self.config.n_mels), np.float32)
        for start in range(0, len(clips), chunk):
            out[start:start + chunk] = self.frame_features(self.frames(clips[start:start + chunk]))
        return out

    @property
    def silence_frame(self) -> np.ndarray:
        """The features of digital silence: what a window is filled with before audio arrives."""
        return self.frame_features(np.zeros(self.config.window_samples, np.float32))


class StreamingFrontend:
    """Fed blocks of any size, emits each frame as soon as its window is complete."""

    def __init__(self, config: FrontendConfig | None = None):
        self.frontend = Frontend(config)
        self.config = self.frontend.config
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, np.float32)
        self._index = np.zeros((0, self.config.window_samples), np.intp)
        self.frames_emitted = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add mono 16 kHz samples; return the (k, n_mels) frames they completed (k may be 0)."""
        cfg = self.config
        self._pending = np.concatenate([self._pending, np.asarray(block, np.float32).reshape(-1)])
        k = num_frames(len(self._pending), cfg.window_samples, cfg.hop_samples)
        if k == 0:
            return np.zeros((0, cfg.n_mels), np.float32)
        if k > len(self._index):  # one gather with a cached index is cheaper than a strided view per call
            self._index = np.arange(k)[:, None] * cfg.hop_samples + np.arange(cfg.window_samples)
        feats = self.frontend.frame_features(self._pending[self._index[:k]])
        self._pending = self._pending[k * cfg.hop_samples:]
        self.frames_emitted += k
        return feats
