"""The music player and the lo-fi composer, driven headless: render audio, measure it."""

import logging
import struct
import sys
import threading
import types

import numpy as np
import pytest

from edge_kws.audio import AudioError
from edge_kws.lofi import BPM_RANGE, PROGRESSIONS, TAIL_S, TICKS_PER_BEAT, TrackSpec, compose, render, write_midi, \
    write_wav
from edge_kws.player import LofiChain, Player, PlayerConfig

from .conftest import tone, write_audio

SR = 44100
BLOCK = 512


def play_for(player: Player, seconds: float) -> np.ndarray:
    """Render `seconds` of output the way an audio callback would: block by block."""
    blocks = [player.render(BLOCK) for _ in range(int(np.ceil(seconds * SR / BLOCK)))]
    return np.concatenate(blocks, axis=1)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio.mean(axis=0)))
    return float(np.fft.rfftfreq(audio.shape[1], 1 / SR)[spectrum.argmax()])


def band_share(audio: np.ndarray, low: float, high: float) -> float:
    power = np.abs(np.fft.rfft(audio.mean(axis=0))) ** 2
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / SR)
    return float(power[(freqs >= low) & (freqs < high)].sum() / power.sum())


def max_jump(audio: np.ndarray) -> float:
    return float(np.abs(np.diff(audio, axis=1)).max())


@pytest.fixture
def music(tmp_path):
    """Two tones: a.wav 440 Hz stereo at 44.1 kHz, b.wav 660 Hz mono at 48 kHz (resampled, upmixed)."""
    folder = tmp_path / "music"
    write_audio(folder / "a.wav", tone(440, 4, SR, channels=2), SR)
    write_audio(folder / "b.wav", tone(660, 4, 48000), 48000)
    return folder


def playing(folder, **settings) -> Player:
    player = Player(PlayerConfig(music_dir=str(folder), lofi_amount=0.0, **settings))
    player.play()
    play_for(player, 0.2)  # past the fade-in
    return player


def test_volume_steps_change_rms_by_their_ratio(music):
    player = playing(music, volume=0.7, volume_step=0.1)
    before = rms(play_for(player, 0.5))
    player.volume_down()
    play_for(player, 0.1)
    lower = rms(play_for(player, 0.5))
    assert lower / before == pytest.approx(0.6 / 0.7, rel=0.02)
    player.volume_up()
    player.volume_up()
    play_for(player, 0.1)
    assert rms(play_for(player, 0.5)) / lower == pytest.approx(0.8 / 0.6, rel=0.02)
    assert player.state.volume == pytest.approx(0.8)


def test_stop_fades_out_without_a_jump_then_is_exactly_silent(music):
    player = playing(music)
    before = play_for(player, 0.3)
    player.stop()
    after = play_for(player, 0.5)
    fade = int(player.config.fade_ms * SR / 1000)
    assert np.all(after[:, fade:] == 0)
    assert rms(after[:, : fade // 4]) > 0.5 * rms(before)  # a fade, not a cut
    joined = np.concatenate([before[:, -1:], after[:, : fade + 1]], axis=1)
    assert max_jump(joined) <= 1.05 * max_jump(before)
    assert player.state.status == "stopped" and player.state.position_s == 0
    player.play()
    play_for(player, 0.2)
    assert 0.1 < player.state.position_s < 0.3  # stop rewound to the top


def test_pause_keeps_the_position(music):
    player = playing(music)
    player.pause()
    assert np.all(play_for(player, 0.3)[:, -SR // 10:] == 0)
    paused_at = player.state.position_s
    play_for(player, 0.3)
    assert player.state.position_s == paused_at and player.state.status == "paused"
    player.play()
    play_for(player, 0.2)
    assert player.state.position_s > paused_at


def test_next_and_previous_switch_tracks_with_a_fade(music):
    player = playing(music)
    first = play_for(player, 0.5)
    assert peak_hz(first) == pytest.approx(440, abs=3)
    player.next()
    switch = play_for(player, 0.2)
    second = play_for(player, 0.5)
    assert player.state.index == 1 and player.state.track == "b.wav"
    assert peak_hz(second) == pytest.approx(660, abs=3)
    assert max_jump(switch) <= 1.05 * max(max_jump(first), max_jump(second))
    player.previous()
    play_for(player, 0.2)
    assert player.state.index == 0 and peak_hz(play_for(player, 0.5)) == pytest.approx(440, abs=3)
    player.previous()  # wraps round to the last track
    play_for(player, 0.2)
    assert player.state.index == 1


def test_without_repeat_the_playlist_ends_in_silence(tmp_path):
    write_audio(tmp_path / "a.wav", tone(440, 0.3, SR), SR)
    write_audio(tmp_path / "b.wav", tone(660, 0.3, SR), SR)
    player = Player(PlayerConfig(music_dir=str(tmp_path), lofi_amount=0.0, repeat=False))
    player.play()
    audio = play_for(player, 1.0)
    end_of_a = int(0.3 * SR)
    assert rms(audio[:, end_of_a:end_of_a + 200]) > 0.1  # b.wav's first samples follow a.wav's last
    assert peak_hz(audio[:, end_of_a:int(0.6 * SR)]) == pytest.approx(660, abs=5)
    assert np.all(audio[:, int(0.7 * SR):] == 0)
    assert player.state.status == "stopped" and player.state.index == 0


def test_without_music_it_plays_generated_lofi_and_next_changes_it(tmp_path):
    config = PlayerConfig(music_dir=str(tmp_path / "absent"), generated_bars=2, generated_tracks=3)
    player = Player(config)
    assert [t.name.split()[0] for t in player.tracks] == ["lofi-0", "lofi-1", "lofi-2"]
    player.play()
    first = play_for(player, 1.0)
    assert rms(first) > 0.01
    player.next()
    play_for(player, 0.1)
    assert player.state.index == 1 and player.state.track.startswith("lofi-1")
    second = play_for(player, 1.0)
    assert rms(second) > 0.01 and not np.allclose(first, second, atol=1e-3)
    player.previous()
    play_for(player, 0.1)
    assert player.state.index == 0

    again = Player(config)  # the output is a function of the config and the calls alone
    again.play()
    assert np.array_equal(play_for(again, 1.0), first)


def test_lofi_amount_takes_away_high_frequencies(tmp_path):
    noise = np.random.default_rng(0).standard_normal((2, 3 * SR)).astype(np.float32) * 0.1
    write_audio(tmp_path / "noise.wav", noise, SR)
    player = playing(tmp_path)
    clean = band_share(play_for(player, 1.0), 4000, SR / 2)
    player.set_lofi(1.0)
    play_for(player, 0.2)
    worn = band_share(play_for(player, 1.0), 4000, SR / 2)
    assert clean > 0.5
    assert worn < 0.1 * clean
    assert player.state.lofi == 1.0


def test_lofi_chain_output_does_not_depend_on_the_block_size():
    audio = tone(300, 1, SR, channels=2)

    def stream(block: int) -> np.ndarray:
        chain = LofiChain(SR, amount=0.8)
        return np.concatenate([chain.process(audio[:, i:i + block]) for i in range(0, SR, block)], axis=1)

    small, large = stream(300), stream(1024)
    assert small.shape == large.shape == audio.shape
    np.testing.assert_allclose(small, large, atol=1e-5)


def test_duck_lowers_the_music_by_duck_db(music):
    player = playing(music, duck_db=-18.0)
    before = rms(play_for(player, 0.5))
    player.duck(True)
    play_for(player, 0.1)
    assert 20 * np.log10(rms(play_for(player, 0.5)) / before) == pytest.approx(-18.0, abs=0.3)
    assert player.state.ducked
    player.duck(False)
    play_for(player, 0.1)
    assert rms(play_for(player, 0.5)) == pytest.approx(before, rel=0.02)


def test_controls_from_another_thread_while_rendering(music):
    player = playing(music)
    done = threading.Event()

    def press_buttons():
        for k in range(200):
            [player.volume_up, player.volume_down, player.next, player.duck, player.pause, player.play][k % 6]()
        done.set()

    thread = threading.Thread(target=press_buttons)
    thread.start()
    while not done.is_set():
        assert np.isfinite(player.render(BLOCK)).all()
    thread.join()


def test_composer_is_deterministic_per_seed_and_differs_across_seeds():
    spec = TrackSpec(seed=5, bars=2)
    track = compose(spec)
    assert compose(TrackSpec(seed=5, bars=2)) == track
    assert compose(TrackSpec(seed=6, bars=2)).notes != track.notes
    audio = render(track)
    assert audio.dtype == np.float32 and audio.shape == (2, int((track.seconds + TAIL_S) * SR))
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert np.array_equal(render(compose(spec)), audio)
    assert band_share(audio, 20, 200) > 0.2  # kick and bass


def test_composer_tempo_harmony_and_parts():
    for seed in range(40):
        track = compose(TrackSpec(seed=seed, bars=8))
        assert BPM_RANGE[0] <= track.bpm <= BPM_RANGE[1]
        assert track.progression in PROGRESSIONS
        assert all(chord.endswith(("7", "9")) for chord in track.chords)
        assert {n.instrument for n in track.notes} == {"keys", "bass", "drums", "melody"}
        assert all(35 <= n.pitch <= 60 for n in track.notes if n.instrument == "bass")
        hats = [n.start % 1 for n in track.notes if n.pitch == 42 and n.instrument == "drums"]
        assert any(abs(h - track.swing) < 0.05 for h in hats)  # off-beats swung, not straight
    plain = compose(TrackSpec(seed=3, bars=8, melody=False))
    assert not [n for n in plain.notes if n.instrument == "melody"]
    # One stream per part: leaving out the melody or fixing the tempo keeps everything else.
    full = compose(TrackSpec(seed=3, bars=8))
    assert [n for n in full.notes if n.instrument != "melody"] == plain.notes
    fast = compose(TrackSpec(seed=3, bars=8, bpm=120))
    assert fast.bpm == 120 and fast.notes == full.notes


def test_unreadable_music_is_logged_by_name_and_the_rest_plays(music, caplog):
    (music / "broken.mp3").write_bytes(b"not an mp3 at all " * 100)
    (music / "notes.txt").write_text("not music, not a track")
    with caplog.at_level(logging.WARNING, logger="edge_kws.player"):
        player = Player(PlayerConfig(music_dir=str(music), lofi_amount=0.0))
    assert [p.name for p in player.tracks] == ["a.wav", "b.wav"]
    assert "broken.mp3" in caplog.text and "notes.txt" not in caplog.text

    # A file that goes bad after the scan is skipped when its turn comes.
    (music / "a.wav").write_bytes(b"RIFF" + b"\0" * 64)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edge_kws.player"):
        player.play()
        audio = play_for(player, 0.5)
    assert "a.wav" in caplog.text
    assert player.state.track == "b.wav" and peak_hz(audio) == pytest.approx(660, abs=3)


def parse_smf(data: bytes) -> tuple[tuple[int, int, int], list[list[tuple[int, int, bytes]]]]:
    """A strict reader for what a Standard MIDI File must hold: (format, tracks, division), and each
    track's (absolute tick, status, data) events; it fails on anything malformed."""
    assert data[:4] == b"MThd" and struct.unpack(">I", data[4:8])[0] == 6
    header = struct.unpack(">HHH", data[8:14])
    pos, tracks = 14, []
    while pos < len(data):
        assert data[pos:pos + 4] == b"MTrk"
        end = pos + 8 + struct.unpack(">I", data[pos + 4:pos + 8])[0]
        pos += 8
        tick, events = 0, []
        while pos < end:
            delta = 0
            while True:
                delta = (delta << 7) | (data[pos] & 0x7F)
                pos += 1
                if not data[pos - 1] & 0x80:
                    break
            tick += delta
            status = data[pos]
            assert status & 0x80, "running status is not written"
            if status == 0xFF:
                length = data[pos + 2]
                events.append((tick, data[pos + 1], data[pos + 3:pos + 3 + length]))
                pos += 3 + length
            else:
                size = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                events.append((tick, status, data[pos + 1:pos + 1 + size]))
                pos += 1 + size
        assert pos == end and events[-1][1:] == (0x2F, b""), "each track ends with End of Track"
        tracks.append(events)
    assert len(tracks) == header[1]
    return header, tracks


def test_midi_export_is_a_valid_format_1_file(tmp_path):
    track = compose(TrackSpec(seed=2, bars=4))
    (fmt, count, division), tracks = parse_smf(write_midi(track, tmp_path / "t.mid").read_bytes())
    assert fmt == 1 and count == 5 and division == TICKS_PER_BEAT
    tempo = next(data for _, kind, data in tracks[0] if kind == 0x51)
    assert int.from_bytes(tempo, "big") == round(60_000_000 / track.bpm)
    note_ons = {}
    for events in tracks[1:]:
        for _, status, data in events:
            if status & 0xF0 == 0x90:
                note_ons.setdefault(status & 0x0F, []).append(data[0])
    assert sum(len(v) for v in note_ons.values()) == len(track.notes)
    assert sorted(note_ons[9]) == sorted(n.pitch for n in track.notes if n.instrument == "drums")  # channel 10


def test_write_wav_round_trips(tmp_path):
    from pedalboard.io import AudioFile

    track = compose(TrackSpec(seed=1, bars=1, sample_rate=22050))
    path = write_wav(track, tmp_path / "out" / "t.wav")
    with AudioFile(str(path)) as f:
        assert f.samplerate == 22050 and f.num_channels == 2
        assert f.frames == int((track.seconds + TAIL_S) * 22050)
    assert [p.name for p in path.parent.iterdir()] == ["t.wav"]


def test_open_output_feeds_render_and_counts_underflows(music, monkeypatch):
    streams = []

    class Stream:
        def __init__(self, **settings):
            if settings["device"] == "missing":
                raise RuntimeError("Error querying device")
            self.settings = settings
            streams.append(self)

        def start(self):
            pass

    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(OutputStream=Stream))
    player = playing(music)
    player.open_output()
    callback = streams[0].settings["callback"]
    outdata = np.zeros((BLOCK, 2), np.float32)
    callback(outdata, BLOCK, None, types.SimpleNamespace(output_underflow=True))
    assert rms(outdata) > 0.05 and player.state.underflows == 1
    with pytest.raises(AudioError, match="PortAudio cannot open output device 'missing'"):
        player.open_output("missing")


def test_bad_settings_name_the_setting():
    with pytest.raises(ValueError, match="volume"):
        PlayerConfig(volume=1.5)
    with pytest.raises(ValueError, match="duck_db"):
        PlayerConfig(duck_db=6)
