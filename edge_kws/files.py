"""Writes that never leave a half-written file or folder behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def replace_dir(new: Path, target: Path) -> None:
    """Swap a finished folder into place; the old one is kept until the new one is there."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_audio(path: str | Path, audio, sample_rate: int, bit_depth: int = 16) -> Path:
    """(channels, n) or (n,) float audio to a WAV (or any format Pedalboard writes, by suffix), through
    a temporary name so no half-written file ever stands under the real one."""
    from pedalboard.io import AudioFile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = audio[None] if audio.ndim == 1 else audio
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        with AudioFile(str(tmp), "w", samplerate=sample_rate, num_channels=audio.shape[0], bit_depth=bit_depth) as f:
            f.write(audio)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
