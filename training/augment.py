"""Augmentation with Pedalboard: each clip goes through a chain of effects drawn for it (room reverb,
speed and pitch, microphone/speaker EQ, compression, distortion, a telephone line, gain), then a
time shift and background audio at a drawn SNR. Every draw comes from the generator it is given,
so a seed reproduces a batch exactly."""

from __future__ import annotations

import numpy as np
import pedalboard as pb

from edge_kws.audio import fit_length, resample

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


def draw_board(cfg: AugmentConfig, rng: np.random.Generator) -> pb.Pedalboard:
    """The effects for one clip, in the order sound meets them: voice, room, line, microphone."""
    def chance(p: float) -> bool:
        return rng.random() < p

    def draw(span: list[float]) -> float:
        return float(rng.uniform(*span))

    board = []
    if chance(cfg.pitch_probability):
        board.append(pb.PitchShift(semitones=draw(cfg.pitch_semitones)))
    if chance(cfg.reverb_probability):
        wet = draw(cfg.reverb_wet)
        board.append(pb.Reverb(room_size=draw(cfg.reverb_room_size), wet_level=wet, dry_level=1 - wet))
    if chance(cfg.telephone_probability):
        board += [pb.Resample(target_sample_rate=8000), pb.HighpassFilter(300), pb.LowpassFilter(3400),
                  pb.Bitcrush(bit_depth=float(rng.uniform(8, 12)))]
    if chance(cfg.eq_probability):
        board += [pb.HighpassFilter(draw(cfg.highpass_hz)), pb.LowpassFilter(draw(cfg.lowpass_hz)),
                  pb.PeakFilter(draw(cfg.peak_hz), draw(cfg.peak_db), q=float(rng.uniform(0.5, 2.0)))]
    if chance(cfg.compressor_probability):
        board.append(pb.Compressor(threshold_db=draw(cfg.compressor_threshold_db), ratio=float(rng.uniform(2, 8))))
    if chance(cfg.distortion_probability):
        board.append(pb.Distortion(drive_db=draw(cfg.distortion_drive_db)))
    board.append(pb.Gain(gain_db=draw(cfg.gain_db)))
    return pb.Pedalboard(board)


def augment_clip(clip: np.ndarray, background: list[np.ndarray], cfg: AugmentConfig, sample_rate: int,
                 rng: np.random.Generator) -> np.ndarray:
    n = len(clip)
    if rng.random() < cfg.speed_probability:  # resampling played back at the old rate: faster and higher
        clip = fit_length(resample(clip, sample_rate * float(rng.uniform(*cfg.speed)), sample_rate), n)
    clip = draw_board(cfg, rng)(clip.astype(np.float32), sample_rate)[:n]
    max_shift = int(sample_rate * cfg.time_shift_ms / 1000)
    if max_shift:
        clip = time_shift(clip, int(rng.integers(-max_shift, max_shift + 1)))
    if background and rng.random() < cfg.background_probability:
        noise = random_segment(background, n, rng)
        speech = float(np.sqrt(np.mean(clip ** 2)))
        if speech > 1e-5:
            level = speech / 10 ** (rng.uniform(*cfg.snr_db) / 20) / (float(np.sqrt(np.mean(noise ** 2))) + 1e-9)
        else:  # a silence clip: the background at a random level of its own
            level = rng.uniform(0, cfg.silence_volume)
        clip = clip + level * noise
    peak = float(np.abs(clip).max())
    return (clip / peak if peak > 1 else clip).astype(np.float32)


def augment_batch(clips: np.ndarray, background: list[np.ndarray], cfg: AugmentConfig,
                  sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    return np.stack([augment_clip(c, background, cfg, sample_rate, rng) for c in clips])


def preview(clips: list[np.ndarray], background: list[np.ndarray], cfg: AugmentConfig, sample_rate: int,
            out, seed: int = 0) -> list:
    """Write each clip and one augmented draw of it as WAVs, and a PNG grid of their spectrograms
    (originals on top), so the chain can be heard and seen before a run; returns the files written."""
    from pathlib import Path

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge_kws.files import atomic_write_audio

    out = Path(out)
    rng = np.random.default_rng(seed)
    augmented = [augment_clip(c, background, cfg, sample_rate, rng) for c in clips]
    written = []
    for i, (clip, aug) in enumerate(zip(clips, augmented)):
        written += [atomic_write_audio(out / f"{i:02d}_original.wav", clip, sample_rate),
                    atomic_write_audio(out / f"{i:02d}_augmented.wav", aug, sample_rate)]
    fig, axes = plt.subplots(2, len(clips), figsize=(2.2 * len(clips), 4.4), squeeze=False)
    for i, pair in enumerate(zip(clips, augmented)):
        for row, audio in enumerate(pair):
            ax = axes[row, i]
            ax.specgram(audio + 1e-7, NFFT=400, Fs=sample_rate, noverlap=240, cmap="magma", vmin=-120)
            ax.set_xticks([])
            ax.set_yticks([] if i else [0, 4000, 8000])
            ax.set_title(f"{i:02d} {'original' if row == 0 else 'augmented'}", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "spectrograms.png", dpi=100)
    plt.close(fig)
    return [*written, out / "spectrograms.png"]
