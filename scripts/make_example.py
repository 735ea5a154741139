"""Writes edge_kws/data/commands.wav: spoken commands by voices the default model was not trained on,
over quiet pink noise and hum, and commands.json beside it with when each word starts and ends."""

import json
from pathlib import Path

import numpy as np

from training.background import generated_background
from edge_kws.files import atomic_write_audio
from training.synth import say_sequence, voices

WORDS = ["yes", "go", "up", "stop", "left", "down", "right", "no", "on", "off"]
out = Path(__file__).resolve().parent.parent / "edge_kws" / "data"
out.mkdir(exist_ok=True)
rng = np.random.default_rng(2026)
speech, said = say_sequence(WORDS, voices(12, seed=2026, flite=False), rng)
white, pink, brown, hum = generated_background(16000, seed=7, seconds=len(speech) / 16000)
audio = np.clip(speech + 0.03 * (pink + hum), -1, 1).astype(np.float32)
atomic_write_audio(out / "commands.wav", audio, 16000)
(out / "commands.json").write_text(json.dumps([{"t": t, "end": end, "word": w} for t, end, w in said], indent=1) + "\n")
print(json.dumps(said))
