"""The product in one run, with no microphone or speaker: spoken commands in a room where the
device's own lo-fi music is playing, heard through the real detector, driving the real player.

The room is simulated block by block, because what the microphone hears depends on what the player
does after each command: the player's output goes through a speaker-to-microphone impulse response,
adds to the speech and a little noise, optionally passes the echo canceller, and reaches the Spotter.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .actions import Actions, Ducker
from .audio import resample, stream_resampler, to_mono
from .data import spoken_commands
from .device_config import DEFAULT_ACTIONS
from .echo import EchoCanceller, room_impulse_response
from .files import atomic_write_audio, atomic_write_text
from .player import Player

log = logging.getLogger(__name__)

# (word, when it is said, seconds): a sequence whose effects are each audible before the next.
SCRIPT = [("go", 1.0), ("up", 6.0), ("right", 11.0), ("down", 17.0), ("left", 22.0), ("stop", 28.0),
          ("on", 32.0), ("off", 38.0)]
BLOCK_MS = 20.0


@dataclass
class Room:
    rt60_s: float = 0.35            # a furnished living room
    delay_ms: float = 5.0           # speaker to microphone, about 1.7 m
    speaker_db: float = -12.0       # direct-path gain from the player's output to the microphone
    speech_db: float = -26.0        # RMS of a spoken command at the microphone, dBFS
    noise_db: float = -65.0         # the microphone's own noise floor, dBFS RMS
    seed: int = 0


def db(x: float) -> float:
    return 10 ** (x / 20)


class StreamingFir:
    """FFT overlap-add convolution for blocks of any size: the room's impulse response, streaming."""

    def __init__(self, h: np.ndarray):
        self.h = np.asarray(h, np.float64)
        self.tail = np.zeros(len(h) - 1)
        self._spectra: dict[int, np.ndarray] = {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = len(x) + len(self.h) - 1
        nfft = 1 << (n - 1).bit_length()
        if nfft not in self._spectra:
            self._spectra[nfft] = np.fft.rfft(self.h, nfft)
        y = np.fft.irfft(np.fft.rfft(x, nfft) * self._spectra[nfft], nfft)[:n]
        y[:len(self.tail)] += self.tail
        self.tail = y[len(x):]
        return y[:len(x)].astype(np.float32)


def script_audio(script: list[tuple[str, float]], seconds: float, speech_db: float,
                 sample_rate: int = 16000) -> tuple[np.ndarray, list[dict]]:
    """The commands laid on a silent track at their times, each at `speech_db` RMS."""
    words = {word: clip for clip, word in spoken_commands(sample_rate)}
    audio = np.zeros(int(seconds * sample_rate), np.float32)
    said = []
    for word, t in script:
        clip = words[word]
        clip = clip * db(speech_db) / np.sqrt(np.mean(clip ** 2))
        start = int(t * sample_rate)
        audio[start:start + len(clip)] += clip
        said.append({"word": word, "start": t, "end": round(t + len(clip) / sample_rate, 3)})
    return audio, said


@dataclass
class Simulation:
    mic: np.ndarray            # what the spotter was given, 16 kHz
    heard: np.ndarray          # the room as a listener hears it: the player's output plus the speech
    events: list[dict]
    timeline: list[dict] = field(default_factory=list)  # player state once per block


def simulate(spotter, player: Player, speech: np.ndarray, room: Room, cancel_echo: bool = True,
             duck: bool = True, actions: dict | None = None) -> Simulation:
    """Stream `speech` (16 kHz) plus the room's echo of the player through `spotter`, block by block;
    detections drive `player` through `actions` (the device config's default mapping if None)."""
    rate = spotter.manifest.frontend.sample_rate
    out_rate = player.config.sample_rate
    rng = np.random.default_rng(room.seed)
    rir = room_impulse_response(rate, room.rt60_s, room.delay_ms, rng, direct_gain=db(room.speaker_db))
    echo_path = StreamingFir(rir)
    to_mic_rate = stream_resampler(out_rate, rate)
    canceller = EchoCanceller(sample_rate=rate) if cancel_echo else None
    act = Actions(DEFAULT_ACTIONS if actions is None else actions, player)
    ducker = Ducker(player, spotter.labels) if duck else None
    out_block = int(out_rate * BLOCK_MS / 1000)
    mic_parts, heard_parts, events, timeline = [], [], [], []
    pos = 0
    while pos < len(speech):
        played = player.render(out_block)
        heard_parts.append(played)
        reference = to_mic_rate.resample_chunk(to_mono(played))
        n = min(len(reference), len(speech) - pos)
        reference = reference[:n]
        mic = speech[pos:pos + n] + echo_path(reference) + db(room.noise_db) * rng.standard_normal(n).astype(np.float32)
        if canceller is not None:
            mic = canceller.process(mic, reference)
        mic_parts.append(mic)
        pos += n
        for event in spotter.process(mic):
            act(event)
            state = player.state
            events.append({**event.to_dict(), "action": act.mapping.get(event.keyword),
                           "player": {"status": state.status, "volume": round(state.volume, 2), "track": state.index}})
        if ducker is not None:
            ducker.update(spotter.time, spotter.last_probs)
        state = player.state
        timeline.append({"t": round(pos / rate, 3), "status": state.status, "volume": state.volume,
                         "ducked": state.ducked, "track": state.index})
    speech_out = resample(speech, rate, out_rate)
    heard = np.concatenate(heard_parts, axis=1)
    heard[:, :min(heard.shape[1], len(speech_out))] += speech_out[:heard.shape[1]]
    return Simulation(np.concatenate(mic_parts), np.clip(heard, -1, 1), events, timeline)


def score(said: list[dict], events: list[dict], window_s: float = 1.5) -> dict:
    """Which commands were recognised (right keyword within `window_s` of the word's end), the
    keyword-to-playback latency of each, and the detections that matched nothing."""
    matched, latencies, used = [], [], set()
    for word in said:
        hit = next((i for i, e in enumerate(events) if i not in used and e["keyword"] == word["word"]
                    and word["start"] < e["t"] <= word["end"] + window_s), None)
        matched.append(hit is not None)
        if hit is not None:
            used.add(hit)
            # the player changes from the block after the detection; negative: heard before the word ended
            latencies.append(events[hit]["t"] + BLOCK_MS / 1000 - word["end"])
    return {"said": len(said), "recognised": sum(matched), "false_or_wrong": len(events) - len(used),
            "latency_ms_mean": round(1000 * float(np.mean(latencies)), 1) if latencies else None,
            "latency_ms_max": round(1000 * float(np.max(latencies)), 1) if latencies else None,
            "per_command": [{**w, "recognised": m} for w, m in zip(said, matched)]}


def plot_timeline(sim: Simulation, said: list[dict], path: str | Path, sample_rate: int = 16000) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True, height_ratios=[3, 1.2])
    ax.specgram(sim.mic + 1e-7, NFFT=512, Fs=sample_rate, noverlap=352, cmap="magma", vmin=-130)
    ax.set_ylim(0, 5000)
    ax.set_ylabel("Hz (microphone)")
    for w in said:
        ax.axvspan(w["start"], w["end"], color="white", alpha=0.15)
        ax.text(w["start"], 4700, w["word"], color="white", fontsize=9)
    for e in sim.events:
        ax.axvline(e["t"], color="lime", lw=1.5)
        ax.text(e["t"] + 0.1, 4200, f"{e['keyword']} {e['score']:.2f}", color="lime", fontsize=8)
    t = np.array([s["t"] for s in sim.timeline])
    level = np.array([s["volume"] * (s["status"] == "playing") for s in sim.timeline])
    bx.step(t, level, where="post", label="volume while playing")
    bx.fill_between(t, 0, 1, where=[s["ducked"] for s in sim.timeline], color="orange", alpha=0.3,
                    step="post", label="ducked")
    bx.step(t, np.array([s["track"] for s in sim.timeline]) / 10, where="post", ls=":", label="track / 10")
    bx.set_ylim(0, 1.05)
    bx.set_xlabel("seconds")
    bx.legend(loc="upper right", fontsize=8, ncol=3)
    ax.set_title("edge-kws demo: spoken commands over the device's own music")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_demo(out: str | Path, spotter, player: Player, room: Room | None = None, cancel_echo: bool = True,
             duck: bool = True) -> dict:
    """Simulate SCRIPT and write out.wav, events.jsonl and timeline.png into `out`; return the summary."""
    room = room or Room()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rate = spotter.manifest.frontend.sample_rate
    seconds = SCRIPT[-1][1] + 4.0
    speech, said = script_audio(SCRIPT, seconds, room.speech_db, rate)
    sim = simulate(spotter, player, speech, room, cancel_echo=cancel_echo, duck=duck)
    atomic_write_audio(out / "out.wav", sim.heard, player.config.sample_rate)
    atomic_write_text(out / "events.jsonl", "".join(json.dumps(e) + "\n" for e in sim.events))
    plot_timeline(sim, said, out / "timeline.png", rate)
    summary = score(said, sim.events)
    summary["room"] = asdict(room)
    summary["echo_cancellation"], summary["ducking"] = cancel_echo, duck
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary


def measure_music(bundle, player_config, minutes: float = 10.0, repeats: int = 3, room: Room | None = None) -> list[dict]:
    """False accepts per hour with the device's own music as the only sound, and the share of the ten
    commands recognised over that music, with and without echo cancellation and ducking. Detections
    do not act on the player here, so the music plays throughout (the hardest case)."""
    from .spotter import Spotter

    room = room or Room()
    rate = 16000
    words = [word for _, word in spoken_commands(rate)]
    script = [(w, 1.0 + 4.0 * (i + len(words) * r)) for r in range(repeats) for i, w in enumerate(words)]
    commands, said = script_audio(script, script[-1][1] + 4.0, room.speech_db, rate)
    rows = []
    for cancel_echo, duck in [(False, False), (False, True), (True, False), (True, True)]:
        row = {"echo_cancellation": cancel_echo, "ducking": duck}
        for name, speech in (("music", np.zeros(int(minutes * 60 * rate), np.float32)), ("commands", commands)):
            player = Player(player_config)
            player.play()
            sim = simulate(Spotter(bundle, stride_frames=2), player, speech, room, cancel_echo, duck, actions={})
            if name == "music":
                row["music_at_spotter_dbfs"] = round(float(20 * np.log10(np.sqrt(np.mean(sim.mic ** 2)) + 1e-12)), 1)
                row["false_accepts"] = len(sim.events)
                row["false_accepts_per_hour"] = round(len(sim.events) * 60 / minutes, 1)
            else:
                s = score(said, sim.events)
                row["hit_rate"] = round(s["recognised"] / s["said"], 3)
                row["false_or_wrong_during_commands"] = s["false_or_wrong"]
        log.info("music test: %s", row)
        rows.append(row)
    return rows
