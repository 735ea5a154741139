"""Audio shipped with edge-kws: ten spoken commands by synthetic voices the default model was not
trained on (scripts/make_example.py), for the demo, the soak test and a first `listen`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COMMANDS_WAV = Path(__file__).parent / "commands.wav"
COMMANDS_JSON = Path(__file__).parent / "commands.json"  # [{"t": start s, "end": end s, "word": ...}]


def spoken_commands(sample_rate: int = 16000) -> list[tuple[np.ndarray, str]]:
    """(audio, word) for each command in the recording, in its order, cut to the word itself."""
    from ..audio import read_audio

    audio = read_audio(COMMANDS_WAV, sample_rate)
    return [(audio[int(w["t"] * sample_rate):int(w["end"] * sample_rate)], w["word"])
            for w in json.loads(COMMANDS_JSON.read_text())]
