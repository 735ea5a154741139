"""Folders in the Speech Commands layout: one folder per word, optional split lists.

Labels follow the dataset's paper (Warden 2018): the chosen keywords, `_unknown_` for every other
word, `_silence_` for no speech. Splits come from `validation_list.txt` / `testing_list.txt` when the
folder has them, else from the same stable hash of the speaker id the dataset's own code uses.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SILENCE = "_silence_"
UNKNOWN = "_unknown_"
BACKGROUND = "_background_noise_"
SPLITS = ("training", "validation", "testing")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
_MAX_PER_CLASS = 2 ** 27 - 1


def class_labels(keywords: list[str]) -> list[str]:
    return [SILENCE, UNKNOWN, *keywords]


def parse_keywords(text: str | list[str]) -> list[str]:
    words = [w.strip() for w in text.split(",")] if isinstance(text, str) else list(text)
    words = [w for w in words if w]
    if not words:
        raise ValueError("keywords: expected a comma-separated list of words, e.g. yes,no,up,down")
    bad = [w for w in words if w.startswith("_") or w != w.strip() or "/" in w]
    if bad or len(set(words)) != len(words):
        raise ValueError(f"keywords: {words} must be distinct folder names not starting with '_'")
    return words


def label_for_folder(name: str, keywords: list[str]) -> str | None:
    """The class of a word folder; None for the background-noise folder."""
    if name == BACKGROUND:
        return None
    if name in keywords or name in (SILENCE, UNKNOWN):
        return name
    return UNKNOWN


def which_set(filename: str, validation_percentage: float, testing_percentage: float) -> str:
    """The dataset's own stable split: a hash of the speaker id, so a speaker is in one split only."""
    speaker = re.sub(r"_nohash_.*$", "", Path(filename).name)
    h = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    percent = (h % (_MAX_PER_CLASS + 1)) * (100.0 / _MAX_PER_CLASS)
    if percent < validation_percentage:
        return "validation"
    if percent < testing_percentage + validation_percentage:
        return "testing"
    return "training"


def _read_list(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()} if path.is_file() else set()


def list_clips(root: str | Path, keywords: list[str], split: str | None = None,
               validation_percentage: float = 10.0, testing_percentage: float = 10.0) -> list[tuple[Path, str]]:
    """(path, label) for every audio file under root/<word>/, optionally only one split."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data folder not found; expected one folder per word "
                                "(Speech Commands layout)")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split {split!r}: expected one of {SPLITS}")
    lists = {"validation": _read_list(root / "validation_list.txt"),
             "testing": _read_list(root / "testing_list.txt")}
    use_lists = bool(lists["validation"] or lists["testing"])
    clips = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = label_for_folder(folder.name, keywords)
        if label is None:
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            if split is not None:
                rel = path.relative_to(root).as_posix()
                if use_lists:
                    clip_split = next((s for s, names in lists.items() if rel in names), "training")
                else:
                    clip_split = which_set(path.name, validation_percentage, testing_percentage)
                if clip_split != split:
                    continue
            clips.append((path, label))
    return clips
