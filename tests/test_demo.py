"""The demo and the player's command line, headless."""

import json

import numpy as np
import pytest
from pedalboard.io import AudioFile

from edge_kws.demo import SCRIPT, StreamingFir, score

from .conftest import run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    proc = run_cli("demo", "--out", str(out))
    return out, proc.stdout


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def test_demo_writes_audio_events_timeline_and_a_summary(demo):
    out, stdout = demo
    with AudioFile(str(out / "out.wav")) as f:
        assert f.samplerate == 44100 and f.num_channels == 2
        assert f.duration == pytest.approx(SCRIPT[-1][1] + 4.0, abs=0.1)
    assert (out / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events and all({"t", "keyword", "score", "action", "player"} <= set(e) for e in events)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["said"] == len(SCRIPT) and summary["recognised"] >= len(SCRIPT) // 2
    assert summary["latency_ms_max"] < 1000
    assert f"recognised {summary['recognised']} of {len(SCRIPT)}" in stdout


def test_the_commands_effects_are_audible(demo):
    out, _ = demo
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    with AudioFile(str(out / "out.wav")) as f:
        audio, rate = f.read(f.frames), f.samplerate
    go = next(e["t"] for e in events if e["action"] == "play")
    assert rms(audio[:, :int(0.9 * rate)]) < 1e-4          # nothing plays before "go" is said
    assert rms(audio[:, int((go + 0.5) * rate):int((go + 3) * rate)]) > 1e-3   # music, if ducked
    stop = next((e["t"] for e in events if e["action"] == "stop"), None)
    if stop is not None:
        resume = next((w_t for w, w_t in SCRIPT if w_t > stop + 0.5), None)
        end = int(((resume or SCRIPT[-1][1] + 4.0) - 0.1) * rate)
        assert rms(audio[:, int((stop + 0.3) * rate):end]) < 1e-4   # silence after a stop, until the next word


def test_streaming_room_convolution_equals_whole_convolution():
    rng = np.random.default_rng(0)
    h, x = rng.standard_normal(900), rng.standard_normal(5000).astype(np.float32)
    fir, out, pos = StreamingFir(h), [], 0
    for n in [1, 320, 17, 2000, 2662]:
        out.append(fir(x[pos:pos + n]))
        pos += n
    np.testing.assert_allclose(np.concatenate(out), np.convolve(x, h)[:5000], atol=1e-4)


def test_score_matches_each_word_once_and_counts_the_rest():
    said = [{"word": "go", "start": 1.0, "end": 1.4}, {"word": "stop", "start": 5.0, "end": 5.5}]
    events = [{"t": 1.5, "keyword": "go"}, {"t": 1.9, "keyword": "go"}, {"t": 3.0, "keyword": "off"}]
    s = score(said, events)
    assert (s["recognised"], s["false_or_wrong"]) == (1, 2)
    assert s["latency_ms_mean"] == pytest.approx(120.0)


def test_play_renders_a_seeded_track_to_wav_and_midi(tmp_path):
    wav, mid = tmp_path / "t.wav", tmp_path / "t.mid"
    info = json.loads(run_cli("play", "--track", "5", "--out", str(wav), "--midi", str(mid)).stdout)
    assert 70 <= info["bpm"] <= 90 and mid.read_bytes()[:4] == b"MThd"
    with AudioFile(str(wav)) as f:
        assert f.duration == pytest.approx(info["seconds"], abs=2.0)
    again = tmp_path / "again.wav"
    run_cli("play", "--track", "5", "--out", str(again))
    assert again.read_bytes() == wav.read_bytes()


def test_play_renders_the_playlist_headless(tmp_path):
    out = tmp_path / "p.wav"
    run_cli("play", "--out", str(out), "--seconds", "3", "--volume", "0.3")
    with AudioFile(str(out)) as f:
        audio = f.read(f.frames)
    assert audio.shape == (2, 3 * 44100) and 0.003 < rms(audio) < 0.3
