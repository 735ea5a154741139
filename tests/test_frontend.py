import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_kws.frontend import Frontend, FrontendConfig, StreamingFrontend

from .conftest import tone


def stream_in_blocks(config: FrontendConfig, audio: np.ndarray, sizes: list[int]) -> np.ndarray:
    stream = StreamingFrontend(config)
    out, pos, i = [], 0, 0
    while pos < len(audio):
        n = sizes[i % len(sizes)]
        out.append(stream.push(audio[pos:pos + n]))
        pos, i = pos + n, i + 1
    return np.concatenate(out)


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=8), seed=st.integers(0, 2**31))
def test_streaming_frames_equal_batch_frames_for_any_block_sizes(sizes, seed):
    config = FrontendConfig()
    audio = np.random.default_rng(seed).uniform(-1, 1, 16000 + seed % 3000).astype(np.float32)
    batch = Frontend(config).features(audio)
    streamed = stream_in_blocks(config, audio, sizes)
    assert streamed.shape == batch.shape
    np.testing.assert_allclose(streamed, batch, atol=1e-5, rtol=0)


def test_one_second_gives_the_configured_frame_count_and_batch_matches_single():
    config = FrontendConfig()
    fe = Frontend(config)
    clips = np.random.default_rng(0).uniform(-0.5, 0.5, (3, config.clip_samples)).astype(np.float32)
    batch = fe.features_batch(clips, chunk=2)
    assert batch.shape == (3, config.frames_per_clip, config.n_mels) == (3, 49, 40)
    for clip, feats in zip(clips, batch):
        np.testing.assert_allclose(fe.features(clip), feats, atol=1e-5)


def test_a_tone_lights_the_mel_band_that_holds_its_frequency():
    config = FrontendConfig()
    fe = Frontend(config)
    feats = fe.features(tone(1000.0, 1.0)[0])
    centres = np.argmax(fe.mel, axis=0) * config.sample_rate / config.n_fft
    loudest = int(np.argmax(feats.mean(axis=0)))
    assert abs(centres[loudest] - 1000.0) < 100.0


def test_silence_maps_to_the_log_floor():
    fe = Frontend()
    np.testing.assert_allclose(fe.silence_frame, np.log(fe.config.log_floor), rtol=1e-6)


@pytest.mark.parametrize("bad", [dict(window_ms=40.0, n_fft=256), dict(fmax=9000.0), dict(clip_ms=10.0)])
def test_impossible_settings_are_refused_with_the_setting_named(bad):
    with pytest.raises(ValueError, match="frontend"):
        FrontendConfig(**bad)
