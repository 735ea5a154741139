"""A seeded lo-fi composer: a seed names a track, and the same seed always gives the same notes and audio.

`compose` writes the notes: a jazzy progression (ii-V-I or vi-IV-I-V, with 7ths and 9ths) on a soft
electric piano, a bass on the chord roots, a swung kick/snare/hat pattern at 70-90 BPM and, optionally,
a major-pentatonic melody. `render` synthesises them with numpy and runs the mix through
`player.LofiChain`; `write_wav` and `write_midi` save a track.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import atomic_write_audio, atomic_write_bytes

log = logging.getLogger(__name__)

BPM_RANGE = (70.0, 90.0)
BEATS_PER_BAR = 4
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
FLAT_KEYS = {1, 3, 5, 6, 8, 10}  # Db Eb F Gb Ab Bb major are written with flats, the rest with sharps
PENTATONIC = (0, 2, 4, 7, 9)
INSTRUMENTS = ("keys", "bass", "melody", "drums")
KICK, SNARE, HAT = 36, 38, 42  # General MIDI drum keys, so the .mid file plays on any GM synth
DEFAULT_LOFI = 0.5  # how much of the lo-fi chain `render` applies unless told otherwise
TAIL_S = 1.5  # room after the last bar for the final notes to ring out

# Chord qualities as semitones above the root: the 7th chord; a 9th chord adds 14.
QUALITIES = {"maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "7": (0, 4, 7, 10)}
# One chord a bar: (numeral, semitones above the tonic, quality). ii-V-I resolves and rests on I.
PROGRESSIONS = {
    "ii-V-I": (("ii", 2, "m7"), ("V", 7, "7"), ("I", 0, "maj7"), ("I", 0, "maj7")),
    "vi-IV-I-V": (("vi", 9, "m7"), ("IV", 5, "maj7"), ("I", 0, "maj7"), ("V", 7, "7")),
}
# Chord rhythms inside a bar as (start beat, length in beats), before swing.
KEYS_RHYTHMS = (((0, 4),), ((0, 2.5), (2.5, 1.5)), ((0, 1.5), (1.5, 2.5)), ((0, 3), (3.5, 0.5)))
KICK_PATTERNS = ((0, 2.5), (0, 1.5, 2.5), (0, 2, 2.5), (0, 0.5, 2.5))


@dataclass
class TrackSpec:
    """What names a track: the seed, and how long, how fast and at what rate to make it."""

    seed: int
    bars: int = 8
    bpm: float | None = None  # None: drawn from the seed in BPM_RANGE
    sample_rate: int = 44100
    melody: bool = True

    def __post_init__(self):
        if self.bars < 1:
            raise ValueError(f"bars: {self.bars}; expected 1 or more")
        if self.bpm is not None and not 20 <= self.bpm <= 300:
            raise ValueError(f"bpm: {self.bpm}; expected 20 to 300")
        if self.sample_rate < 8000:
            raise ValueError(f"sample_rate: {self.sample_rate}; expected 8000 Hz or more")


@dataclass(frozen=True)
class Note:
    start: float  # beats from the top of the track, swing included
    duration: float  # beats
    pitch: int  # MIDI note number; for drums the General MIDI drum key
    velocity: int  # 1-127
    instrument: str  # one of INSTRUMENTS


@dataclass(frozen=True)
class Track:
    spec: TrackSpec
    bpm: float
    swing: float  # where the off-beat eighth lands, as a fraction of the beat (0.5 is straight)
    key: str
    progression: str
    chords: list[str]  # one chord symbol a bar
    notes: list[Note]

    @property
    def name(self) -> str:
        return f"lofi-{self.spec.seed} ({self.key} major, {self.progression}, {self.bpm:.0f} BPM)"

    @property
    def beats(self) -> float:
        return self.spec.bars * BEATS_PER_BAR

    @property
    def seconds(self) -> float:
        return self.beats * 60.0 / self.bpm


def compose(spec: TrackSpec) -> Track:
    """The notes of the track `spec.seed` names."""
    # One random stream per part, so leaving out the melody or fixing the tempo changes nothing else.
    form, keys_rng, bass_rng, drum_rng, melody_rng = (np.random.default_rng(s)
                                                      for s in np.random.SeedSequence(spec.seed).spawn(5))
    drawn_bpm = round(float(form.uniform(*BPM_RANGE)), 1)
    swing = float(form.uniform(0.56, 0.66))
    tonic = int(form.integers(12))
    name = str(form.choice(sorted(PROGRESSIONS)))
    progression = PROGRESSIONS[name]
    ninths = form.random(len(progression)) < 0.6
    # (root pitch class, quality, has a 9th) for each chord of the progression, then one a bar
    slots = [((tonic + degree) % 12, quality, bool(ninth)) for (_, degree, quality), ninth in zip(progression, ninths)]
    chords = [slots[bar % len(slots)] for bar in range(spec.bars)]
    names = FLAT_NAMES if tonic in FLAT_KEYS else SHARP_NAMES
    roots = [root for root, _, _ in chords]
    notes = _keys([_voicing(*c) for c in chords], swing, keys_rng) + _bass(roots, swing, bass_rng)
    notes += _drums(spec.bars, swing, drum_rng)
    if spec.melody:
        notes += _melody(tonic, spec.bars, swing, melody_rng)
    return Track(spec=spec, bpm=float(spec.bpm) if spec.bpm is not None else drawn_bpm, swing=swing,
                 key=names[tonic], progression=name, chords=[_chord_symbol(names, *c) for c in chords],
                 notes=sorted(notes, key=lambda n: (n.start, n.instrument, n.pitch)))


def _chord_symbol(names: tuple[str, ...], root: int, quality: str, ninth: bool) -> str:
    return names[root] + {"maj7": "maj", "m7": "m", "7": ""}[quality] + ("9" if ninth else "7")


def _voicing(root: int, quality: str, ninth: bool) -> list[int]:
    """Root in the octave below middle C; a 9th chord drops its 5th, as a pianist's left hand would."""
    intervals = QUALITIES[quality]
    if ninth:
        intervals = (intervals[0], intervals[1], intervals[3], 14)
    return [48 + root + i for i in intervals]


def _swing_beat(beat: float, swing: float) -> float:
    whole, frac = divmod(beat, 1.0)
    return whole + swing if abs(frac - 0.5) < 1e-6 else beat


def _note(start: float, length: float, pitch: int, velocity: int, instrument: str, swing: float,
          nudge: float = 0.0) -> Note:
    """A note written on the straight grid, played swung: every off-beat eighth (start or end) lands at
    `swing` of its beat; `nudge` (beats) then moves the whole note, as a player's feel would."""
    begin = _swing_beat(start, swing)
    end = _swing_beat(start + length, swing)
    return Note(max(0.0, begin + nudge), max(end - begin, 0.05), pitch, int(np.clip(velocity, 1, 127)), instrument)


def _keys(voicings: list[list[int]], swing: float, rng: np.random.Generator) -> list[Note]:
    favourite = KEYS_RHYTHMS[int(rng.integers(len(KEYS_RHYTHMS)))]
    notes = []
    for bar, chord in enumerate(voicings):
        rhythm = KEYS_RHYTHMS[0] if rng.random() < 0.25 else favourite
        for start, length in rhythm:
            velocity = int(rng.integers(58, 80))
            notes += [_note(bar * BEATS_PER_BAR + start, length, pitch, velocity - 3 * k, "keys", swing,
                            nudge=0.03 * k)  # a slight upward strum
                      for k, pitch in enumerate(chord)]
    return notes


def _bass(roots: list[int], swing: float, rng: np.random.Generator) -> list[Note]:
    notes = []
    for bar, root in enumerate(roots):
        low = 36 + root  # C2-B2: 65-123 Hz fundamentals
        top = bar * BEATS_PER_BAR
        notes.append(_note(top, 1.5, low, int(rng.integers(85, 105)), "bass", swing))
        second = low + int(rng.choice([0, 7, 12]))
        notes.append(_note(top + 2.5, 1.0, second, int(rng.integers(70, 90)), "bass", swing))
        nxt = 36 + roots[(bar + 1) % len(roots)]
        if nxt != low and rng.random() < 0.5:  # a chromatic step into the next chord's root
            step = nxt + int(rng.choice([-1, 1]))
            notes.append(_note(top + 3.5, 0.5, step, int(rng.integers(60, 80)), "bass", swing))
    return notes


def _drums(bars: int, swing: float, rng: np.random.Generator) -> list[Note]:
    kicks = KICK_PATTERNS[int(rng.integers(len(KICK_PATTERNS)))]

    def hit(beat: float, pitch: int, velocity: int) -> Note:
        # A lazy feel: every hit a few milliseconds off the grid.
        return _note(top + beat, 0.25, pitch, velocity + int(rng.integers(-8, 9)), "drums", swing,
                     nudge=float(rng.normal(0, 0.01)))

    notes = []
    for bar in range(bars):
        top = bar * BEATS_PER_BAR
        notes += [hit(b, KICK, 100) for b in kicks]
        notes += [hit(b, SNARE, 92) for b in (1, 3)]
        if bar % 4 == 3:
            notes.append(hit(3.5, SNARE, 45))  # a ghost note turning the phrase around
        notes += [hit(e / 2, HAT, 70 if e % 2 == 0 else 50) for e in range(8) if rng.random() > 0.1]
    return notes


def _melody(tonic: int, bars: int, swing: float, rng: np.random.Generator) -> list[Note]:
    """A two-bar motif on the major pentatonic, repeated with a new ending each time, after an intro."""
    scale = [p for p in range(64, 86) if (p - tonic) % 12 in PENTATONIC]
    step = int(rng.integers(len(scale) // 3, 2 * len(scale) // 3))
    motif = []
    for slot in range(16):  # eighth notes over two bars
        if rng.random() < 0.4:
            step = int(np.clip(step + rng.choice([-2, -1, -1, 1, 1, 2]), 0, len(scale) - 1))
            motif.append((slot / 2, step))
    if not motif:
        motif = [(0.0, step)]
    start_bar = 2 if bars >= 4 else 0
    notes = []
    for phrase_bar in range(start_bar, bars - 1, 2):
        phrase = list(motif)
        if phrase_bar > start_bar:  # a new ending, so each repeat answers the first phrase
            phrase[-2:] = [(beat, int(np.clip(s + rng.integers(-2, 3), 0, len(scale) - 1))) for beat, s in phrase[-2:]]
        for k, (beat, s) in enumerate(phrase):
            end = phrase[k + 1][0] if k + 1 < len(phrase) else 8.0
            notes.append(_note(phrase_bar * BEATS_PER_BAR + beat, min(end - beat, 1.5), scale[s],
                               int(rng.integers(55, 76)), "melody", swing))
    return notes


# --- synthesis --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Voice:
    partials: tuple[tuple[float, float, float], ...]  # (frequency multiple, amplitude, decay time s)
    attack: float  # seconds
    release: float  # seconds after the note's end
    level: float
    pan: float  # -1 left .. 1 right


# Soft electric-piano-ish: a few harmonics that die away faster the higher they are, and a faint
# inharmonic "tine" that gives the attack its bell.
VOICES = {
    "keys": Voice(((1, 1.0, 2.0), (2, 0.4, 1.0), (3, 0.12, 0.5), (4, 0.06, 0.3), (7.1, 0.05, 0.04)),
                  attack=0.004, release=0.18, level=0.26, pan=0.0),
    "bass": Voice(((1, 1.0, 1.5), (2, 0.25, 0.6), (3, 0.08, 0.3)), attack=0.008, release=0.08, level=0.4, pan=0.0),
    "melody": Voice(((1, 1.0, 1.2), (2, 0.2, 0.6), (3, 0.1, 0.3), (5.4, 0.03, 0.03)),
                    attack=0.006, release=0.25, level=0.36, pan=-0.25),
}
DRUM_LEVELS = {KICK: (0.6, 0.0), SNARE: (0.45, 0.08), HAT: (0.3, 0.3)}  # (level, pan)


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def _tone(voice: Voice, freq: float, seconds: float, velocity: int, sr: int) -> np.ndarray:
    n_hold, n_release = int(seconds * sr), int(voice.release * sr)
    n = n_hold + n_release
    brightness = 0.5 + velocity / 127  # harder hits sound brighter
    out = np.zeros(n)
    for multiple, amp, decay in voice.partials:
        f = freq * multiple
        if f < sr / 2:
            # A decaying sine is Im(z**k) for one complex z; a running product of z is several times
            # cheaper than exp and sin at every sample, and stays accurate over a note's length.
            z = np.exp(complex(-1 / (decay * sr), 2 * np.pi * f / sr))
            out += (amp if multiple == 1 else amp * brightness) * np.cumprod(np.full(n, z)).imag
    env = np.ones(n)
    n_attack = max(1, int(voice.attack * sr))
    env[:n_attack] = np.linspace(0.0, 1.0, n_attack, endpoint=False)
    env[n_hold:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, n_release)))  # release without a click
    return out * env * (velocity / 100)


def _drum(pitch: int, velocity: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    if pitch == KICK:
        t = np.arange(int(0.45 * sr)) / sr
        freq = 45 + 75 * np.exp(-t / 0.04)  # the pitch drop that makes a kick a kick
        body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.28)
        click = rng.standard_normal(len(t)) * np.exp(-t / 0.002) * 0.3
        out = body + click
    elif pitch == SNARE:
        t = np.arange(int(0.3 * sr)) / sr
        rattle = np.diff(rng.standard_normal(len(t) + 1)) * 0.5 * np.exp(-t / 0.08)
        out = rattle + 0.6 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)
    else:
        t = np.arange(int(0.12 * sr)) / sr
        out = np.diff(rng.standard_normal(len(t) + 2), n=2) * 0.25 * np.exp(-t / 0.03)  # high-passed noise
    return out * (velocity / 100)


def _pan_gains(pan: float) -> np.ndarray:
    angle = (np.clip(pan, -1, 1) + 1) * np.pi / 4  # constant power
    return np.array([np.cos(angle), np.sin(angle)]) * np.sqrt(2)


def _normalize(audio: np.ndarray, peak: float) -> np.ndarray:
    top = float(np.abs(audio).max())
    return audio * (peak / top) if top > 0 else audio


def render(track: Track, sample_rate: int | None = None, lofi: float = DEFAULT_LOFI) -> np.ndarray:
    """The track as float32 stereo, shape (2, samples), through `lofi` (0-1) of the lo-fi chain."""
    from .player import LofiChain  # here, not at the top: player imports this module

    sr = sample_rate or track.spec.sample_rate
    beat_s = 60.0 / track.bpm
    mix = np.zeros((2, int((track.seconds + TAIL_S) * sr)))
    noise = np.random.default_rng(track.spec.seed)  # drum noise is part of the track too
    for note in track.notes:
        if note.instrument == "drums":
            level, pan = DRUM_LEVELS[note.pitch]
            audio = _drum(note.pitch, note.velocity, sr, noise)
        else:
            voice = VOICES[note.instrument]
            level = voice.level
            # Keys spread a little by pitch, lower notes left, higher right, like a piano seen from the bench.
            pan = voice.pan + (np.clip((note.pitch - 60) / 30, -0.4, 0.4) if note.instrument == "keys" else 0.0)
            audio = _tone(voice, midi_to_hz(note.pitch), note.duration * beat_s, note.velocity, sr)
        start = int(round(note.start * beat_s * sr))
        audio = audio[: mix.shape[1] - start]
        mix[:, start:start + len(audio)] += (level * _pan_gains(pan))[:, None] * audio
    mix = _normalize(mix, 0.5).astype(np.float32)
    if lofi > 0:
        mix = LofiChain(sr, amount=lofi, seed=track.spec.seed).process(mix)
    return _normalize(mix, 0.8).astype(np.float32)


def write_wav(track: Track, path: str | Path, sample_rate: int | None = None, lofi: float = DEFAULT_LOFI) -> Path:
    """Render and save as 16-bit WAV (or any format Pedalboard writes, by suffix); returns the path."""
    sr = sample_rate or track.spec.sample_rate
    audio = render(track, sr, lofi)
    path = atomic_write_audio(path, audio, sr)
    log.info("wrote %s: %s, %.1f s", path, track.name, audio.shape[1] / sr)
    return path


# --- MIDI -------------------------------------------------------------------------------------------

TICKS_PER_BEAT = 480
MIDI_PROGRAMS = {"keys": 4, "bass": 33, "melody": 11}  # GM: Electric Piano 1, Fingered Bass, Vibraphone
DRUM_CHANNEL = 9  # channel 10 as musicians count


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits a byte, high bit set on all but the last."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + _vlq(len(data)) + data


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack(">I", len(data)) + data


def _track_chunk(events: list[tuple[int, int, bytes]]) -> bytes:
    """(tick, order, message) events -> an MTrk chunk; at one tick, lower `order` goes first."""
    data, now = b"", 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        data += _vlq(tick - now) + message
        now = tick
    return _chunk(b"MTrk", data + _vlq(0) + _meta(0x2F, b""))


def midi_bytes(track: Track) -> bytes:
    """A format-1 Standard MIDI File: a tempo track, then one track per instrument, drums on channel 10."""
    tempo = round(60_000_000 / track.bpm)  # microseconds per beat
    conductor = [(0, 0, _meta(0x03, track.name.encode())), (0, 1, _meta(0x51, tempo.to_bytes(3, "big"))),
                 (0, 2, _meta(0x58, bytes([4, 2, 24, 8])))]  # 4/4, a click every quarter
    chunks = [_track_chunk(conductor)]
    for channel, instrument in enumerate(i for i in INSTRUMENTS if any(n.instrument == i for n in track.notes)):
        channel = DRUM_CHANNEL if instrument == "drums" else channel
        events = [(0, 0, _meta(0x03, instrument.encode()))]
        if instrument in MIDI_PROGRAMS:
            events.append((0, 1, bytes([0xC0 | channel, MIDI_PROGRAMS[instrument]])))
        for note in (n for n in track.notes if n.instrument == instrument):
            on = round(note.start * TICKS_PER_BEAT)
            off = max(on + 1, round((note.start + note.duration) * TICKS_PER_BEAT))
            # Note-offs sort before note-ons at the same tick, so a repeated pitch is not cut short.
            events.append((on, 3, bytes([0x90 | channel, note.pitch, note.velocity])))
            events.append((off, 2, bytes([0x80 | channel, note.pitch, 0])))
        chunks.append(_track_chunk(events))
    header = _chunk(b"MThd", struct.pack(">HHH", 1, len(chunks), TICKS_PER_BEAT))
    return header + b"".join(chunks)


def write_midi(track: Track, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_bytes(path, midi_bytes(track))
    log.info("wrote %s: %s, %d notes", path, track.name, len(track.notes))
    return path
