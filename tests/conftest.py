"""Shared fixtures: a tiny spoken-word dataset made here with espeak-ng and flite, and one model
trained and exported on it once per test session (the whole chain, on CPU, in about a minute)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

KEYWORDS = ["yes", "stop"]
OTHER_WORDS = ["house", "bird", "seven"]


def run_cli(*args: str, check: bool = True, cwd=None) -> subprocess.CompletedProcess:
    """The installed command line, as a user runs it, with no standard input."""
    proc = subprocess.run([sys.executable, "-m", "edge_kws.cli", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=900, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"edge-kws {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def tone(freq: float, seconds: float, rate: int = 16000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.tile(0.3 * np.sin(2 * np.pi * freq * t, dtype=np.float64).astype(np.float32), (channels, 1))


def write_audio(path: Path, audio: np.ndarray, rate: int = 16000, bit_depth: int = 16) -> Path:
    from pedalboard.io import AudioFile

    audio = audio[None] if audio.ndim == 1 else audio
    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(path), "w", samplerate=rate, num_channels=audio.shape[0], bit_depth=bit_depth) as f:
        f.write(audio)
    return path


@pytest.fixture(scope="session")
def spoken_data(tmp_path_factory) -> Path:
    from training.synth import synthesize, voices

    root = tmp_path_factory.mktemp("spoken")
    synthesize(KEYWORDS + OTHER_WORDS, root, voices(60, seed=1), seed=1)
    return root


@pytest.fixture(scope="session")
def trained_run(spoken_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    out = folder / "run"
    # A tiny synthetic set has few other words: keep them all, and a fifth as many silence clips.
    config = folder / "train.toml"
    config.write_text("unknown_percentage = 100\nsilence_percentage = 20\n")
    run_cli("train", "--config", str(config), "--data", str(spoken_data), "--keywords", ",".join(KEYWORDS),
            "--out", str(out), "--epochs", "40", "--batch-size", "16", "--seed", "0")
    return out


@pytest.fixture(scope="session")
def bundle(trained_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "bundle"
    proc = run_cli("export", "--run", str(trained_run), "--out", str(out))
    assert "float" in proc.stdout and "int8" in proc.stdout
    return out
