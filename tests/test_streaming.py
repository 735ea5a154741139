"""The streaming model computes only new frames, and says what the whole-window model says."""

import json

import keras
import numpy as np
import pytest

from edge_kws.audio import read_audio
from edge_kws.frontend import Frontend
from edge_kws.runtime import Classifier
from training.config import TrainConfig
from training.models import STEP, streaming_ds_cnn, window_frames, zero_states

from .conftest import KEYWORDS, run_cli


@pytest.fixture(scope="module")
def window_bundle(trained_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("window") / "bundle"
    run_cli("export", "--run", str(trained_run), "--out", str(out), "--window")
    return out


@pytest.fixture(scope="module")
def long_features(spoken_data):
    """20 s of held-out words and quiet noise, as frontend frames."""
    from edge_kws.dataset import list_clips
    rng = np.random.default_rng(5)
    clips = [read_audio(p) for p, _ in list_clips(spoken_data, KEYWORDS, "testing")][:12]
    audio = np.concatenate([np.concatenate([c, np.zeros(int(rng.integers(100, 9000)), np.float32)]) for c in clips])
    audio += 0.003 * rng.standard_normal(len(audio)).astype(np.float32)
    return Frontend().features(audio)


def windows(n_frames: int, span: int):
    """(end, start) of each window a streaming step completes: steps end at even frame counts."""
    for end in range(span, n_frames - 1, STEP):
        yield end, end - span


def test_float_streaming_equals_the_window_model(trained_run, long_features):
    cfg = TrainConfig.load(trained_run / "config.json")
    full = keras.models.load_model(trained_run / "model.keras")
    fe = cfg.frontend
    stream = streaming_ds_cnn(full, fe.frames_per_clip, fe.n_mels, cfg.model)
    span = window_frames(fe.frames_per_clip)
    states, got = zero_states(stream), {}
    for start in range(0, len(long_features) - STEP + 1, STEP):
        out = stream.predict_on_batch([long_features[None, start:start + STEP], *states])
        states = [np.asarray(s) for s in out[1:]]
        got[start + STEP] = np.asarray(out[0])[0]
    ends = list(windows(len(long_features), span))
    assert len(ends) > 300
    batch = np.stack([long_features[s:s + fe.frames_per_clip] for _, s in ends])
    expected = full.predict(batch, verbose=0)
    np.testing.assert_allclose(np.stack([got[e] for e, _ in ends]), expected, atol=1e-4)


def test_int8_streaming_equals_int8_on_each_window_and_agrees_with_the_window_model(
        bundle, window_bundle, long_features):
    stream, window = Classifier.from_bundle(bundle), Classifier.from_bundle(window_bundle)
    spec = stream.manifest.streaming
    assert spec.step_frames == STEP and spec.window_frames == 48
    step_out = {}
    for start in range(0, len(long_features) - STEP + 1, STEP):
        step_out[start + STEP] = stream.step(long_features[start:start + STEP])
    fresh, agree = [], []
    for end, start in windows(len(long_features), spec.window_frames):
        win = long_features[start:start + 49]
        fresh.append(np.abs(stream.predict(win) - step_out[end]).max() / stream.out_scale)
        agree.append(np.argmax(window.predict(win)) == np.argmax(step_out[end]))
    assert max(fresh) <= 1.0            # carried state == state rebuilt from the window alone
    assert np.mean(agree) >= 0.99, np.mean(agree)


def test_streaming_bundle_manifest_and_window_bundle_shapes(bundle, window_bundle):
    s = json.loads((bundle / "manifest.json").read_text())
    w = json.loads((window_bundle / "manifest.json").read_text())
    assert s["input"]["shape"] == [1, STEP, 40] and w["input"]["shape"] == [1, 49, 40]
    assert s["streaming"]["states"][0] == "state_conv0" and w["streaming"] is None
    assert s["output"] == {**w["output"], "scale": s["output"]["scale"], "zero_point": s["output"]["zero_point"]}
