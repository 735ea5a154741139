"""Everything a training run is given, in one dataclass loaded from TOML or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from edge_kws import config
from edge_kws.frontend import FrontendConfig


@dataclass
class AugmentConfig:
    """Each effect: the share of clips it is applied to, and the range its setting is drawn from."""
    time_shift_ms: float = 100.0          # clips move by up to this much either way
    background_probability: float = 0.8   # share of clips that get background audio mixed in
    snr_db: list[float] = field(default_factory=lambda: [0.0, 30.0])  # speech over background
    silence_volume: float = 1.0           # _silence_ clips' background gain is drawn from 0..this
    speed_probability: float = 0.5       # tempo and pitch together, as speaking faster does
    speed: list[float] = field(default_factory=lambda: [0.85, 1.15])
    pitch_probability: float = 0.1        # Pedalboard PitchShift: costly (about 10 ms a clip), so rare
    pitch_semitones: list[float] = field(default_factory=lambda: [-3.0, 3.0])
    reverb_probability: float = 0.4
    reverb_room_size: list[float] = field(default_factory=lambda: [0.05, 0.8])
    reverb_wet: list[float] = field(default_factory=lambda: [0.05, 0.4])
    eq_probability: float = 0.6           # microphone and speaker colouring: high/low-pass and a peak
    highpass_hz: list[float] = field(default_factory=lambda: [40.0, 400.0])
    lowpass_hz: list[float] = field(default_factory=lambda: [2500.0, 7900.0])
    peak_hz: list[float] = field(default_factory=lambda: [250.0, 4000.0])
    peak_db: list[float] = field(default_factory=lambda: [-10.0, 10.0])
    compressor_probability: float = 0.2
    compressor_threshold_db: list[float] = field(default_factory=lambda: [-30.0, -10.0])
    distortion_probability: float = 0.1
    distortion_drive_db: list[float] = field(default_factory=lambda: [3.0, 18.0])
    telephone_probability: float = 0.1    # 8 kHz resampling, 300-3400 Hz band, bit-crush
    gain_db: list[float] = field(default_factory=lambda: [-12.0, 6.0])

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name.endswith("probability") and not 0 <= value <= 1:
                raise ValueError(f"augment.{name} = {value}: expected 0..1")
            if isinstance(value, list) and (len(value) != 2 or value[0] > value[1]):
                raise ValueError(f"augment.{name} = {value}: expected [low, high]")


@dataclass
class ModelConfig:
    width: int = 64       # channels of every convolution (DS-CNN-S in "Hello Edge" uses 64)
    blocks: int = 4       # depthwise-separable blocks after the first convolution
    dropout: float = 0.2


@dataclass
class TrainConfig:
    data: str = ""
    keywords: list[str] = field(default_factory=list)
    out: str = "runs/model"
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    epochs: int = 40
    batch_size: int = 100
    learning_rate: float = 0.001
    patience: int = 6                # early stopping: epochs without a better validation loss
    seed: int = 0
    validation_percentage: float = 10.0  # used when the data has no split lists
    testing_percentage: float = 10.0
    silence_percentage: float = 10.0     # _silence_ clips, as a share of the keyword clips
    unknown_percentage: float = 10.0     # _unknown_ clips kept, as a share of the keyword clips

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0 or self.patience < 0:
            raise ValueError("epochs, batch_size and learning_rate must be positive, patience >= 0")
        for name in ("validation_percentage", "testing_percentage", "silence_percentage", "unknown_percentage"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must be within 0..100")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides) -> TrainConfig:
        """The file's settings (if any), then every override that is not None."""
        d = config.read_file(path) if path else {}
        d.update({k: v for k, v in overrides.items() if v is not None})
        return config.from_dict(cls, d, str(path or "train config"))
