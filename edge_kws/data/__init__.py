"""Audio shipped with edge-kws: ten spoken commands by synthetic voices the default model was not
trained on (scripts/make_example.py), for the demo, the soak test and a first `listen`."""

from pathlib import Path

COMMANDS_WAV = Path(__file__).parent / "commands.wav"
COMMANDS_JSON = Path(__file__).parent / "commands.json"  # [{"t": start s, "end": end s, "word": ...}]
