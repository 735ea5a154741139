"""Bad input gets one clear line; the live loop survives device faults, signals and hours of audio."""

import json
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_kws.audio import AudioError, FileSource, read_audio
from edge_kws.bundle import BundleError, Manifest
from edge_kws.data import COMMANDS_WAV
from edge_kws import config
from edge_kws.config import ConfigError
from edge_kws.device_config import DeviceConfig
from edge_kws.listener import Backoff, Listener
from edge_kws.soak import soak
from edge_kws.spotter import Spotter
from training.config import TrainConfig

from .conftest import run_cli, tone, write_audio


def raw_wav(path, payload: bytes, fmt=1, bits=16, declared=None):
    n = len(payload) if declared is None else declared
    header = (b"RIFF" + struct.pack("<I", 36 + n) + b"WAVEfmt " +
              struct.pack("<IHHIIHH", 16, fmt, 1, 16000, 16000 * bits // 8, bits // 8, bits) +
              b"data" + struct.pack("<I", n))
    path.write_bytes(header + payload)
    return path


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_integer_wavs_of_every_depth_read_the_same(tmp_path, bits):
    audio = read_audio(write_audio(tmp_path / "t.wav", tone(440, 0.5)[0], bit_depth=bits))
    np.testing.assert_allclose(audio, tone(440, 0.5)[0], atol=2.0 / 2 ** (bits - 1) + 1e-4)


def test_float_wav_reads(tmp_path):
    audio = read_audio(raw_wav(tmp_path / "f.wav", tone(440, 0.5)[0].tobytes(), fmt=3, bits=32))
    np.testing.assert_allclose(audio, tone(440, 0.5)[0], atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: raw_wav(p, b""), "no audio samples"),
    (lambda p: raw_wav(p, np.zeros(4000, "<i2").tobytes(), declared=32000), "truncated WAV"),
    (lambda p: raw_wav(p, np.array([0, np.nan, 0], "<f4").tobytes(), fmt=3, bits=32), "NaN or infinite"),
    (lambda p: raw_wav(p, np.array([0, np.inf], "<f4").tobytes(), fmt=3, bits=32), "NaN or infinite"),
    (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 3), "cannot read audio"),
])
def test_bad_wavs_are_one_clear_line_and_a_nonzero_exit(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=message):
        read_audio(path)
    proc = run_cli("listen", "--input", str(path), check=False)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("edge-kws")]
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0]
    assert "Traceback" not in proc.stderr


def test_clipped_audio_is_read_with_a_warning(tmp_path, caplog):
    path = write_audio(tmp_path / "loud.wav", np.clip(4 * tone(440, 0.5)[0], -1, 1))
    assert len(read_audio(path)) == 8000
    assert "clipped" in caplog.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), keep_header=st.booleans())
def test_any_bytes_either_read_or_raise_audio_error(tmp_path, data, keep_header):
    path = tmp_path / "fuzz.wav"
    if keep_header:
        raw_wav(path, data, declared=len(data))
    else:
        path.write_bytes(data)
    try:
        audio = read_audio(path)
    except AudioError as e:
        assert str(path) in str(e)
    else:
        assert audio.dtype == np.float32 and np.isfinite(audio).all()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["format_version", "labels", "frontend", "input", "output",
                                        "model_sha256", "detector", "metrics", "other"]), json_values))
def test_any_manifest_dict_is_accepted_or_refused_with_bundle_error(d):
    try:
        Manifest.from_dict(d).check()
    except BundleError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["data", "keywords", "epochs", "frontend", "model", "augment",
                                        "seed", "batch_size", "unknown_key"]), json_values))
def test_any_config_dict_is_accepted_or_refused_with_config_error(d):
    try:
        TrainConfig.load(None, **d)
    except ConfigError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["model", "log_level", "audio", "detector", "actions", "player",
                                        "other"]), json_values))
def test_any_device_config_dict_is_accepted_or_refused_with_config_error(d):
    try:
        config.from_dict(DeviceConfig, d, "edge-kws.toml")
    except ConfigError:
        pass


class FlakyDevice:
    """Stands in for a USB microphone (none exists on CI): fails to open, then delivers, then fails."""

    def __init__(self, script):
        self.script = list(script)

    def __call__(self):
        step = self.script.pop(0)
        if step == "unplugged":
            raise AudioError("input device 'usb mic' not found")
        return FileSource(step)


def test_device_faults_are_retried_with_growing_pauses(tmp_path, caplog, monkeypatch):
    wav = write_audio(tmp_path / "quiet.wav", 0.01 * tone(300, 0.5)[0])
    waits = []
    device = FlakyDevice(["unplugged", "unplugged", wav, "unplugged", wav])
    listener = Listener(Spotter(), device, retry=True, backoff=Backoff(first_s=0.01, max_s=0.03))
    monkeypatch.setattr(listener._stop, "wait", lambda s: waits.append(s))
    listener.run(lambda e: None)
    assert listener.faults == 2 and waits == [0.01, 0.02]
    assert caplog.text.count("retrying") == 2 and "not found" in caplog.text
    assert device.script == ["unplugged", wav]  # the first file ended the run normally


def test_sigterm_stops_listening_cleanly_with_events_flushed(tmp_path):
    wav = str(COMMANDS_WAV)
    proc = subprocess.Popen([sys.executable, "-m", "edge_kws.cli", "listen", "--input", wav, "--realtime"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    first = proc.stdout.readline()  # the first command is said at 1 s
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(first)["keyword"]
    assert "stopped by signal" in err and "Traceback" not in err


def test_soak_delivers_every_block_and_reports_memory():
    report = soak(hours=60 / 3600, speed=5.0)
    assert report.blocks == report.delivered == 3000 and report.dropped == 0
    assert report.audio_s == pytest.approx(60.0)
    assert report.rss_end_mb > 10 and len(report.rss_mb) >= 2


@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_a_1khz_tone_survives_streaming_resampling_at_the_right_frequency(rate):
    from edge_kws.audio import stream_resampler
    resampler = stream_resampler(rate, 16000)
    tone_in = tone(1000, 2.0, rate)[0]
    block = rate // 50  # 20 ms, as a microphone callback delivers it
    out = np.concatenate([resampler.resample_chunk(tone_in[i:i + block]) for i in range(0, len(tone_in), block)])
    assert 32000 - 320 < len(out) <= 32000  # the filter holds back under 20 ms until the stream ends
    steady = out[2000:30000]
    spectrum = np.abs(np.fft.rfft(steady * np.hanning(len(steady))))
    assert abs(np.argmax(spectrum) * 16000 / len(steady) - 1000) < 1.0
    assert np.sqrt(np.mean(steady ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)
