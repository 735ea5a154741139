from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_kws.audio import FileSource, resample, to_mono
from edge_kws.demo import StreamingFir
from edge_kws.echo import EchoCancelledSource, EchoCanceller, PlaybackReference, room_impulse_response
from edge_kws.player import Player, PlayerConfig

from .conftest import write_audio

RATE = 16000


def music(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Lo-fi-ish playback at -20 dBFS RMS: plucked three-note chords from a pentatonic scale, a new
    chord every quarter second, each note with its harmonics, a bass line, hi-hat ticks and hiss."""
    n = int(seconds * RATE)
    out = np.zeros(n)
    note = RATE // 4
    tt = np.arange(note) / RATE
    pluck = np.exp(-6 * tt) * (1 - np.exp(-300 * tt))
    for start in range(0, n, note):
        length = min(note, n - start)
        chord = rng.choice([57, 60, 62, 64, 67, 69, 72, 74, 76], 3, replace=False)
        bass = rng.choice([33, 36, 38, 40, 43])
        for midi, gain in [*((m, 1.0) for m in chord), (bass, 1.5)]:
            f0 = 440.0 * 2 ** ((midi - 69) / 12)
            for k in range(1, int(7000 / f0) + 1):
                phase = rng.uniform(0, 2 * np.pi)
                partial = np.sin(2 * np.pi * k * f0 * tt[:length] + phase)
                out[start:start + length] += gain / k * pluck[:length] * partial
        tick = min(RATE // 40, length)
        out[start:start + tick] += 0.3 * rng.standard_normal(tick) * np.exp(-np.arange(tick) / (RATE / 400))
    out += 0.02 * rng.standard_normal(n)
    return 0.1 * out / np.sqrt(np.mean(out ** 2))


def speech_like(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Syllable-sized bursts (150-300 ms, with 50-150 ms gaps) of noise shaped by three formants that
    move from burst to burst, band-limited to 300-3400 Hz. Unit RMS."""
    n = int(seconds * RATE)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = min(int(rng.uniform(0.15, 0.3) * RATE), n - pos)
        shape = sum(np.exp(-0.5 * ((freqs - rng.uniform(lo, hi)) / 120) ** 2)
                    for lo, hi in [(300, 900), (900, 2200), (2200, 3200)])
        shape *= (freqs > 300) & (freqs < 3400)
        burst = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)[:length]
        out[pos:pos + length] = burst * np.hanning(length)
        pos += length + int(rng.uniform(0.05, 0.15) * RATE)
    return out / np.sqrt(np.mean(out ** 2))


def scene(seconds: float = 10.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Playback reference, the echo path (RT60 0.3 s, speaker 1 m away, about -22 dBFS of echo at the
    mic) and -70 dBFS of mic noise."""
    rng = np.random.default_rng(seed)
    reference = music(seconds, rng).astype(np.float32)
    rir = room_impulse_response(RATE, 0.3, 3.0, rng, direct_gain=0.5)
    return reference, rir, 10 ** (-70 / 20) * rng.standard_normal(len(reference))


def echo_of(reference: np.ndarray, rir: np.ndarray) -> np.ndarray:
    return np.convolve(reference, rir)[:len(reference)]


def cancel(mic: np.ndarray, reference: np.ndarray, call: int = 160) -> np.ndarray:
    """The canceller's output over whole signals fed in `call`-sized pieces, moved back by the latency
    to line up with the input, and as long (the last `latency` samples are zeros)."""
    aec = EchoCanceller()
    out = np.concatenate([aec.process(mic[i:i + call], reference[i:i + call]) for i in range(0, len(mic), call)])
    return np.concatenate([out[aec.latency:], np.zeros(aec.latency, out.dtype)])


def erle_db(echo: np.ndarray, residual: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(echo ** 2) / np.mean(residual ** 2)))


def seconds(start: float, end: float) -> slice:
    return slice(int(start * RATE), int(end * RATE))


def test_converged_canceller_removes_at_least_15_db_of_music_echo():
    reference, rir, noise = scene()
    echo = echo_of(reference, rir)
    out = cancel((echo + noise).astype(np.float32), reference)
    last = seconds(5, 9.99)
    erle = erle_db(echo[last], out[last] - noise[last])
    assert erle >= 15.0, f"ERLE {erle:.1f} dB"


def test_speech_over_the_music_passes_through_and_does_not_make_the_filter_diverge():
    reference, rir, noise = scene()
    echo = echo_of(reference, rir)
    near = np.zeros_like(echo)
    talk = seconds(6, 8)
    # The talker 6 dB louder than the music's echo in the bursts, as someone saying a keyword would be.
    near[talk] = 2 * np.sqrt(np.mean(echo ** 2)) * speech_like(2.0, np.random.default_rng(1))
    out = cancel((echo + near + noise).astype(np.float32), reference)
    correlation = np.corrcoef(out[talk], near[talk])[0, 1]
    after = seconds(8.5, 9.99)
    erle_after = erle_db(echo[after], out[after] - noise[after])
    assert correlation > 0.9, f"output/near-end correlation {correlation:.3f}"
    assert erle_after >= 10.0, f"ERLE after double talk {erle_after:.1f} dB"


@lru_cache(maxsize=1)
def short_scene_in_fixed_blocks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reference, rir, noise = scene(seconds=1.5)
    mic = (echo_of(reference, rir) + noise).astype(np.float32)
    aec = EchoCanceller()
    fixed = np.concatenate([aec.process(mic[i:i + aec.block], reference[i:i + aec.block])
                            for i in range(0, len(mic), aec.block)])
    return mic, reference, fixed


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 1000), min_size=1, max_size=6))
def test_any_call_sizes_give_the_output_of_whole_blocks(sizes):
    mic, reference, expected = short_scene_in_fixed_blocks()
    aec = EchoCanceller()
    out, pos, i = [], 0, 0
    while pos < len(mic):
        n = sizes[i % len(sizes)]
        out.append(aec.process(mic[pos:pos + n], reference[pos:pos + n]))
        assert len(out[-1]) == len(mic[pos:pos + n])
        pos, i = pos + n, i + 1
    np.testing.assert_allclose(np.concatenate(out), expected, atol=1e-6, rtol=0)


def test_silent_reference_leaves_the_mic_unchanged_after_the_latency():
    mic = (0.3 * speech_like(2.0, np.random.default_rng(2))).astype(np.float32)
    aec = EchoCanceller()
    out = np.concatenate([aec.process(mic[i:i + 333], np.zeros(len(mic[i:i + 333]), np.float32))
                          for i in range(0, len(mic), 333)])
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    assert 0 < aec.latency <= aec.block
    np.testing.assert_array_equal(out[:aec.latency], 0.0)
    np.testing.assert_array_equal(out[aec.latency:], mic[:-aec.latency])


def test_reference_falling_silent_after_convergence_passes_the_mic_and_keeps_the_echo_path():
    reference, rir, noise = scene(seconds=6.0)
    reference[seconds(2, 4)] = 0.0
    echo = echo_of(reference, rir)
    out = cancel((echo + noise).astype(np.float32), reference)
    assert np.all(np.isfinite(out))
    # Once the echo and the filter's memory of the music have died away, only the room is left.
    quiet = seconds(2.4, 4)
    np.testing.assert_allclose(out[quiet], noise[quiet], atol=1e-6)
    back = seconds(4.3, 5.99)
    erle = erle_db(echo[back], out[back] - noise[back])
    assert erle >= 15.0, f"ERLE {erle:.1f} dB right after the music came back"


@pytest.mark.parametrize("rt60", [0.2, 0.3, 0.6])
def test_impulse_response_decays_60_db_in_the_asked_rt60(rt60):
    rir = room_impulse_response(RATE, rt60, 3.0, np.random.default_rng(3), direct_gain=0.7)
    assert np.argmax(np.abs(rir)) == round(3.0 * RATE / 1000)
    assert np.isclose(np.abs(rir).max(), 0.7)
    # Schroeder backward integration, then the T20 slope (-5 to -25 dB) extrapolated to 60 dB.
    edc = np.cumsum(rir[::-1].astype(np.float64) ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db <= -5) & (edc_db >= -25)
    slope = np.polyfit(np.flatnonzero(fit) / RATE, edc_db[fit], 1)[0]
    measured = -60 / slope
    assert abs(measured - rt60) <= 0.3 * rt60, f"asked RT60 {rt60} s, measured {measured:.3f} s"


def test_microphone_source_with_the_players_echo_comes_out_cancelled(tmp_path):
    """The live wiring: the output callback's blocks feed PlaybackReference; the microphone source,
    wrapped in EchoCancelledSource, delivers blocks with the music subtracted."""
    player = Player(PlayerConfig(generated_tracks=1, generated_bars=4))
    player.play()
    reference = PlaybackReference(44100, 16000, queue_blocks=2000)
    played = [player.render(441) for _ in range(800)]  # 8 s, as the output callback would see it
    for block in played:
        reference.queue.put(block)
    music = resample(to_mono(np.concatenate(played, axis=1)), 44100, 16000)
    rir = room_impulse_response(16000, 0.3, 20.0, np.random.default_rng(1), direct_gain=0.3)
    mic = StreamingFir(rir)(music) + 1e-4 * np.random.default_rng(2).standard_normal(len(music)).astype(np.float32)
    wav = write_audio(tmp_path / "mic.wav", mic.astype(np.float32))
    with EchoCancelledSource(FileSource(wav), reference) as source:
        cleaned = np.concatenate(list(source.blocks()))
    tail = slice(len(mic) // 2, len(mic))
    assert 10 * np.log10(np.mean(mic[tail] ** 2) / np.mean(cleaned[tail] ** 2)) > 15
