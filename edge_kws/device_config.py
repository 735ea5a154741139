"""The device's one settings file, `edge-kws.toml`: model, microphone, thresholds, actions, music."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from . import config
from .bundle import read_bundle
from .config import ConfigError
from .detector import DetectorConfig
from .player import PlayerConfig

DEFAULT_PATH = Path("edge-kws.toml")
PLAYER_ACTIONS = ("play", "pause", "stop", "next", "previous", "volume_up", "volume_down")
RUN_PREFIX = "run:"
DEFAULT_ACTIONS = {"go": "play", "on": "play", "stop": "stop", "off": "stop", "up": "volume_up",
                   "down": "volume_down", "left": "previous", "right": "next", "yes": "play", "no": "next"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass
class AudioSettings:
    device: str = ""        # input device index or (part of) its name; "" for the system default
    rate: int = 0           # capture rate in Hz; 0 for the device's own default (often 44100 or 48000)
    block_ms: float = 20.0

    def __post_init__(self) -> None:
        if self.rate < 0 or not 1 <= self.block_ms <= 1000:
            raise ValueError(f"rate {self.rate!r} must be 0 or a rate in Hz, block_ms {self.block_ms!r} within 1..1000")


@dataclass
class DeviceConfig:
    model: str = ""         # bundle folder; "" for the model shipped with edge-kws
    log_level: str = "INFO"
    audio: AudioSettings = field(default_factory=AudioSettings)
    detector: dict = field(default_factory=dict)   # overrides of the bundle's detector settings
    actions: dict = field(default_factory=dict)  # empty: DEFAULT_ACTIONS for the keywords the model has
    player: PlayerConfig = field(default_factory=PlayerConfig)

    def __post_init__(self) -> None:
        if self.log_level.upper() not in LOG_LEVELS:
            raise ValueError(f"log_level {self.log_level!r}: expected one of {', '.join(LOG_LEVELS)}")
        known = {f.name for f in fields(DetectorConfig)}
        for key in self.detector:
            if key not in known:
                raise ValueError(f"detector.{key}: unknown setting; allowed: {', '.join(sorted(known))}")
        for keyword, action in self.actions.items():
            if not (action in PLAYER_ACTIONS or (isinstance(action, str) and action.startswith(RUN_PREFIX)
                                                 and action[len(RUN_PREFIX):].strip())):
                raise ValueError(f"actions.{keyword} = {action!r}: expected one of {', '.join(PLAYER_ACTIONS)} "
                                 f"or \"{RUN_PREFIX} <shell command>\"")

    @property
    def bundle(self) -> str | None:
        return self.model or None

    def actions_for(self, keywords: list[str]) -> dict[str, str]:
        return self.actions or {k: v for k, v in DEFAULT_ACTIONS.items() if k in keywords}

    def check(self, where: str, bundle: str | None = None) -> list[str]:
        """Everything that needs the model (`bundle`, else this file's): it loads, the actions and
        thresholds name its keywords. Returns a line for each thing that was checked."""
        manifest, _ = read_bundle(bundle or self.bundle)
        try:
            replace(manifest.detector, **self.detector)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}: detector: {e}") from None
        for section, names in (("actions", self.actions), ("detector.thresholds", self.detector.get("thresholds", {}))):
            unknown = sorted(set(names) - set(manifest.keywords))
            if unknown:
                raise ConfigError(f"{where}: {section} names {unknown}, which are not keywords of the model "
                                  f"({', '.join(manifest.keywords)})")
        music = self.player.music_dir
        if music and not Path(music).is_dir():
            raise ConfigError(f"{where}: player.music_dir {music!r} is not a folder")
        return [f"model: {bundle or self.model or 'shipped default'} ({len(manifest.keywords)} keywords)",
                f"actions: {len(self.actions_for(manifest.keywords))} keywords mapped",
                f"music: {music or 'generated lo-fi'}"]


def load(path: str | Path | None = None) -> DeviceConfig:
    """The settings file (edge-kws.toml by default); with no file, every default."""
    path = Path(path) if path else DEFAULT_PATH
    if not path.exists():
        if path != DEFAULT_PATH:
            raise ConfigError(f"{path}: no such config file (make one with: edge-kws config --init {path})")
        return DeviceConfig()
    return config.from_dict(DeviceConfig, config.read_file(path), str(path))


def log_level(cfg: DeviceConfig) -> int:
    return getattr(logging, cfg.log_level.upper())


def template(keywords: list[str] | None = None) -> str:
    """A commented edge-kws.toml with every default spelled out; its actions cover `keywords` (all
    ten commands when None)."""
    d = DeviceConfig()
    detector = DetectorConfig()
    lines = [
        "# edge-kws device settings. Check with: edge-kws config --check",
        "",
        "# Bundle folder made by 'edge-kws export'; empty for the model shipped with edge-kws.",
        f'model = "{d.model}"',
        "# DEBUG, INFO, WARNING or ERROR.",
        f'log_level = "{d.log_level}"',
        "",
        "[audio]",
        "# Input device index or (part of) its name, see 'edge-kws listen --list-devices'; empty: default.",
        f'device = "{d.audio.device}"',
        "# Capture rate in Hz; 0 uses the device's own. Audio is resampled to the model's 16 kHz.",
        f"rate = {d.audio.rate}",
        f"block_ms = {d.audio.block_ms}",
        "",
        "[detector]",
        "# Overrides of the model's own settings (its manifest.json); remove a line to keep the model's.",
        f"# threshold = {detector.threshold}",
        "# thresholds = { stop = 0.7 }",
        f"# smoothing_ms = {detector.smoothing_ms}",
        f"# refractory_ms = {detector.refractory_ms}",
        f"# min_margin = {detector.min_margin}",
        "",
        "[actions]",
        f"# keyword = one of {', '.join(PLAYER_ACTIONS)}, or \"{RUN_PREFIX} <shell command>\"",
        "# (the command gets EDGE_KWS_KEYWORD and EDGE_KWS_SCORE in its environment).",
        "# With no [actions] table, this default mapping applies to the keywords the model knows.",
        *(f'{k} = "{v}"' for k, v in DEFAULT_ACTIONS.items() if keywords is None or k in keywords),
        "",
        "[player]",
        "# A folder of wav/flac/mp3/ogg files; empty: generated lo-fi tracks.",
        *(f"{k} = {_toml_value(v)}" for k, v in asdict(d.player).items()),
    ]
    return "\n".join(lines) + "\n"


def _toml_value(v) -> str:
    if v is None:
        return '""'
    if isinstance(v, bool):
        return str(v).lower()
    return f'"{v}"' if isinstance(v, str) else repr(v)
