"""A Speech Commands folder loaded into memory as 1 s clips per split, labelled as the paper does."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edge_kws.audio import AudioError, fit_length, read_audio
from edge_kws.dataset import SILENCE, SPLITS, UNKNOWN, class_labels, list_clips

from .background import load_background, random_segment
from .config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class Split:
    audio: np.ndarray   # (N, clip_samples) float32
    labels: np.ndarray  # (N,) int, indices into Dataset.labels


@dataclass
class Dataset:
    labels: list[str]
    splits: dict[str, Split]
    background: list[np.ndarray]
    skipped: list[str]


def load_clips(paths: list[Path], sample_rate: int, clip_samples: int, desc: str = "") -> tuple[np.ndarray, list[int], list[str]]:
    """Read, mono-mix, resample and pad/crop each file; unreadable ones are logged, named and skipped."""
    audio = np.zeros((len(paths), clip_samples), np.float32)
    kept, skipped = [], []
    for i, path in enumerate(tqdm(paths, desc=desc or "load", unit="clip", disable=None, leave=False)):
        try:
            audio[len(kept)] = fit_length(read_audio(path, sample_rate), clip_samples)
            kept.append(i)
        except AudioError as e:
            log.warning("skipped %s", e)
            skipped.append(str(path))
    return audio[:len(kept)], kept, skipped


def silence_clips(n: int, background: list[np.ndarray], clip_samples: int, volume: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Background segments at random low gains; a tenth of them digital silence."""
    out = np.zeros((n, clip_samples), np.float32)
    for i in range(n):
        if rng.random() >= 0.1:
            out[i] = rng.uniform(0, volume) * random_segment(background, clip_samples, rng)
    return out


def load_split(cfg: TrainConfig, split: str, labels: list[str], background: list[np.ndarray],
               rng: np.random.Generator) -> tuple[Split, list[str]]:
    fe = cfg.frontend
    clips = list_clips(cfg.data, cfg.keywords, split, cfg.validation_percentage, cfg.testing_percentage)
    keyword = [(p, lab) for p, lab in clips if lab not in (UNKNOWN, SILENCE)]
    unknown = [(p, lab) for p, lab in clips if lab == UNKNOWN]
    given_silence = [(p, lab) for p, lab in clips if lab == SILENCE]
    n_unknown = min(len(unknown), math.ceil(len(keyword) * cfg.unknown_percentage / 100))
    unknown = [unknown[i] for i in sorted(rng.choice(len(unknown), n_unknown, replace=False))]
    chosen = keyword + unknown + given_silence
    audio, kept, skipped = load_clips([p for p, _ in chosen], fe.sample_rate, fe.clip_samples, split)
    y = np.array([labels.index(chosen[i][1]) for i in kept], np.int64)
    n_silence = max(0, math.ceil(len(keyword) * cfg.silence_percentage / 100) - len(given_silence))
    audio = np.concatenate([audio, silence_clips(n_silence, background, fe.clip_samples,
                                                 cfg.augment.silence_volume, rng)])
    y = np.concatenate([y, np.full(n_silence, labels.index(SILENCE), np.int64)])
    counts = ", ".join(f"{label} {int((y == i).sum())}" for i, label in enumerate(labels))
    log.info("%s: %d clips (%s)", split, len(y), counts)
    return Split(audio, y), skipped


def load_dataset(cfg: TrainConfig, splits: tuple[str, ...] = SPLITS) -> Dataset:
    if not cfg.data:
        raise ValueError("data: no data folder given (--data DIR or data = \"...\" in the config)")
    if not cfg.keywords:
        raise ValueError("keywords: none given (--keywords yes,no,... or keywords = [...] in the config)")
    labels = class_labels(cfg.keywords)
    background = load_background(cfg.data, cfg.frontend.sample_rate, cfg.seed)
    out, skipped = {}, []
    for i, split in enumerate(splits):
        out[split], bad = load_split(cfg, split, labels, background, np.random.default_rng([cfg.seed, i]))
        skipped += bad
    if skipped:
        log.warning("%d unreadable file(s) skipped: %s", len(skipped), ", ".join(skipped[:10]))
    return Dataset(labels, out, background, skipped)
