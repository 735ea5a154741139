"""Pedalboard augmentation: reproducible draws, the asked SNR, effects that do what they say."""

import json
from dataclasses import replace

import numpy as np
import pytest

from edge_kws.config import ConfigError
from training.augment import augment_batch, augment_clip
from training.config import AugmentConfig, TrainConfig

from .conftest import run_cli

RATE = 16000
OFF = AugmentConfig(time_shift_ms=0, background_probability=0, speed_probability=0, pitch_probability=0,
                    reverb_probability=0, eq_probability=0, compressor_probability=0,
                    distortion_probability=0, telephone_probability=0, gain_db=[0.0, 0.0])


def voiced(seconds=1.0):
    """A buzzy vowel-like clip with energy up to 8 kHz."""
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * np.hanning(len(t))).astype(np.float32)


def high_share(x):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    return spectrum[len(spectrum) // 2:].sum() / spectrum.sum()  # above 4 kHz


def test_same_seed_same_batch_other_seed_other_batch():
    clips = np.stack([voiced(), voiced()])
    bg = [np.random.default_rng(0).standard_normal(RATE * 3).astype(np.float32)]
    cfg = AugmentConfig()
    a = augment_batch(clips, bg, cfg, RATE, np.random.default_rng(7))
    b = augment_batch(clips, bg, cfg, RATE, np.random.default_rng(7))
    c = augment_batch(clips, bg, cfg, RATE, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == clips.shape and np.abs(a).max() <= 1.0


def test_background_is_mixed_at_the_drawn_snr():
    clip = voiced()
    noise = np.random.default_rng(1).standard_normal(RATE * 3).astype(np.float32)
    cfg = replace(OFF, background_probability=1.0, snr_db=[10.0, 10.0])
    out = augment_clip(clip, [noise], cfg, RATE, np.random.default_rng(0))
    added = out - clip
    assert 10 * np.log10(np.mean(clip ** 2) / np.mean(added ** 2)) == pytest.approx(10.0, abs=0.1)


@pytest.mark.parametrize("effect, factor", [(dict(eq_probability=1.0, lowpass_hz=[2500.0, 2500.0]), 0.5),
                                            (dict(telephone_probability=1.0), 0.1)])
def test_band_limiting_effects_remove_high_frequencies(effect, factor):
    out = augment_clip(voiced(), [], replace(OFF, **effect), RATE, np.random.default_rng(0))
    assert high_share(out) < factor * high_share(voiced())


def test_reverb_lengthens_the_sound_and_speed_shortens_it():
    clip = np.zeros(RATE, np.float32)
    clip[2000:6000] = voiced(0.25)
    reverb = augment_clip(clip, [], replace(OFF, reverb_probability=1.0, reverb_room_size=[0.8, 0.8],
                                            reverb_wet=[0.4, 0.4]), RATE, np.random.default_rng(0))
    assert np.abs(reverb[7000:9000]).max() > 0.01 > np.abs(clip[7000:9000]).max()
    fast = augment_clip(clip, [], replace(OFF, speed_probability=1.0, speed=[1.15, 1.15]), RATE,
                        np.random.default_rng(0))
    def span(x):
        loud = np.flatnonzero(np.abs(x) > 0.05)
        return loud[-1] - loud[0]
    assert span(fast) == pytest.approx(span(clip) / 1.15, rel=0.03)


def test_bad_augment_settings_name_the_key():
    with pytest.raises(ConfigError, match="augment.reverb_probability"):
        TrainConfig.load(None, augment={"reverb_probability": 1.5})
    with pytest.raises(ConfigError, match="augment.snr_db"):
        TrainConfig.load(None, augment={"snr_db": [20.0, 5.0]})


def test_augment_preview_writes_wavs_and_a_spectrogram_grid(spoken_data, tmp_path):
    out = tmp_path / "preview"
    info = json.loads(run_cli("augment-preview", "--data", str(spoken_data), "--out", str(out), "--n", "3").stdout)
    assert info["files"] == 7
    assert len(list(out.glob("*_augmented.wav"))) == 3
    assert (out / "spectrograms.png").read_bytes()[:4] == b"\x89PNG"
