"""Synthetic speech from espeak-ng and flite, written in the Speech Commands layout.

Each clip is named `<voice id>_nohash_0.wav`, so the dataset's speaker-hash split keeps a voice in
one split, and an existing file is reused: the file name is the cache key (voice, rate, pitch, word).
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edge_kws.audio import fit_length, resample, to_mono
from edge_kws.files import atomic_write_audio

log = logging.getLogger(__name__)

ESPEAK_ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029"]


class SynthError(Exception):
    pass


@dataclass(frozen=True)
class Voice:
    engine: str   # "espeak-ng" or "flite"
    name: str     # espeak-ng "accent+variant", or a flite voice
    rate: int     # words per minute (espeak-ng scale; flite's duration is stretched to match)
    pitch: int    # 0..99 (espeak-ng scale; flite's mean F0 is moved to match)

    @property
    def id(self) -> str:
        return f"{self.engine}-{self.name.replace('+', '-')}-r{self.rate}-p{self.pitch}"


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise SynthError(f"{program} not found; install it: sudo apt-get install {program}")
    return path


def espeak_variants() -> list[str]:
    out = subprocess.run([_need("espeak-ng"), "--voices=variant"], capture_output=True, text=True, check=True)
    return sorted({line.split()[3] for line in out.stdout.splitlines()[1:] if len(line.split()) > 3})


def flite_voices() -> list[str]:
    out = subprocess.run([_need("flite"), "-lv"], capture_output=True, text=True, check=True)
    return out.stdout.split(":", 1)[-1].split()


def voices(n_espeak: int, seed: int, flite: bool = True) -> list[Voice]:
    """n_espeak random espeak-ng accent x variant x rate x pitch voices, plus every flite voice."""
    rng = np.random.default_rng(seed)
    variants = espeak_variants()
    chosen = {Voice("espeak-ng", f"{rng.choice(ESPEAK_ACCENTS)}+{rng.choice(variants)}",
                    int(rng.integers(110, 200)), int(rng.integers(20, 80))) for _ in range(n_espeak)}
    if flite and shutil.which("flite"):
        chosen |= {Voice("flite", v, int(rng.integers(120, 190)), int(rng.integers(30, 70))) for v in flite_voices()}
    return sorted(chosen, key=lambda v: v.id)


def speak(word: str, voice: Voice, sample_rate: int = 16000) -> np.ndarray:
    """The word as mono float32 at sample_rate, untrimmed."""
    from pedalboard.io import AudioFile

    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        # Both engines write a file: espeak-ng's --stdout header carries no length.
        if voice.engine == "espeak-ng":
            cmd = [_need("espeak-ng"), "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch),
                   "-w", tmp.name, word]
        elif voice.engine == "flite":
            cmd = [_need("flite"), "-voice", voice.name, "--setf", f"duration_stretch={150 / voice.rate:.3f}",
                   "--setf", f"int_f0_target_mean={70 + 1.6 * voice.pitch:.0f}", "-t", word, "-o", tmp.name]
        else:
            raise SynthError(f"voice engine {voice.engine!r}: expected 'espeak-ng' or 'flite'")
        subprocess.run(cmd, capture_output=True, check=True, timeout=30)
        wav = Path(tmp.name).read_bytes()
    with AudioFile(io.BytesIO(wav)) as f:
        audio, rate = to_mono(f.read(f.frames)), f.samplerate
    return resample(audio, rate, sample_rate)


def place(audio: np.ndarray, clip_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Trim leading/trailing silence, normalise the peak to a random level, put it at a random offset."""
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())
    if len(loud) == 0:
        raise SynthError("synthesised audio is silent")
    audio = audio[loud[0]:loud[-1] + 1]
    audio = audio / np.abs(audio).max() * rng.uniform(0.25, 0.9)
    if len(audio) >= clip_samples:
        return fit_length(audio, clip_samples).astype(np.float32)
    start = int(rng.integers(0, clip_samples - len(audio) + 1))
    out = np.zeros(clip_samples, np.float32)
    out[start:start + len(audio)] = audio
    return out


def synthesize(words: list[str], out: str | Path, voice_list: list[Voice], seed: int = 0,
               sample_rate: int = 16000, clip_ms: float = 1000.0) -> int:
    """One clip per (word, voice) into out/<word>/; returns how many were made (cached ones are not)."""
    out = Path(out)
    clip_samples = int(sample_rate * clip_ms / 1000)
    jobs = []
    for word in words:
        folder = out / word
        folder.mkdir(parents=True, exist_ok=True)
        jobs += [(word, v, folder / f"{v.id}_nohash_{word}.wav") for v in voice_list]
    todo = [j for j in jobs if not j[2].exists()]

    def make(job) -> bool:
        word, voice, path = job
        rng = np.random.default_rng([seed, *path.name.encode()])
        try:
            atomic_write_audio(path, place(speak(word, voice, sample_rate), clip_samples, rng), sample_rate)
            return True
        except (subprocess.CalledProcessError, SynthError) as e:
            log.warning("no clip for %r with %s: %s", word, voice.id, e)
            return False

    with ThreadPoolExecutor(max_workers=2) as pool:
        made = sum(tqdm(pool.map(make, todo), total=len(todo), desc="synth", unit="clip", disable=None))
    log.info("synthesised %d clips into %s (%d were cached)", made, out, len(jobs) - len(todo))
    return made


def say_sequence(words: list[str], voice_list: list[Voice], rng: np.random.Generator, sample_rate: int = 16000,
                 gap_s: float = 1.5) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """The words spoken one after another, each by a random voice, `gap_s` apart; returns the audio
    and (start, end, word) for each, in seconds."""
    parts, said, t = [np.zeros(int(sample_rate * gap_s / 2), np.float32)], [], gap_s / 2
    for word in words:
        speech = place(speak(word, voice_list[rng.integers(len(voice_list))], sample_rate),
                       int(sample_rate * gap_s), rng)
        voiced = np.flatnonzero(speech)
        said.append((round(t + voiced[0] / sample_rate, 3), round(t + (voiced[-1] + 1) / sample_rate, 3), word))
        parts.append(speech)
        t += gap_s
    parts.append(np.zeros(int(sample_rate * gap_s / 2), np.float32))
    return np.concatenate(parts), said
