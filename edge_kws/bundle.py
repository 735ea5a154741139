"""The deploy bundle: a folder with `model.tflite` and `manifest.json`.

The manifest is the single source of truth the device reads: labels, frontend parameters, tensor
shapes and quantization, detector defaults, and the model's sha256.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import config
from .detector import DetectorConfig
from .files import replace_dir
from .frontend import FrontendConfig

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL = "model.tflite"
DEFAULT_BUNDLE = Path(__file__).parent / "models" / "default"


class BundleError(Exception):
    """A bundle that cannot be used; the message names the file and what is wrong."""


@dataclass
class TensorSpec:
    shape: list[int]
    dtype: str
    scale: float = 0.0
    zero_point: int = 0


@dataclass
class StreamingSpec:
    """A stateful model: fed `step_frames` new frames per call, its recent inputs kept as state."""
    step_frames: int
    states: list[str]     # state inputs by name; their next values follow the probabilities among the outputs
    window_frames: int    # frames after which the output equals the whole-window model's


@dataclass
class Manifest:
    labels: list[str]
    frontend: FrontendConfig
    input: TensorSpec
    output: TensorSpec
    model_sha256: str
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    frontend_kind: str = "logmel"
    model_file: str = MODEL
    metrics: dict = field(default_factory=dict)
    streaming: StreamingSpec | None = None  # None: the model sees the whole window at once
    format_version: int = FORMAT_VERSION

    @property
    def keywords(self) -> list[str]:
        return [label for label in self.labels if not label.startswith("_")]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = MANIFEST) -> Manifest:
        version = d.get("format_version") if isinstance(d, dict) else None
        if version != FORMAT_VERSION:
            raise BundleError(f"{where}: format_version {version!r} is not supported "
                              f"(this edge-kws reads version {FORMAT_VERSION}); re-export the bundle")
        try:
            return config.from_dict(cls, d, where)
        except config.ConfigError as e:
            raise BundleError(f"malformed manifest: {e}") from None

    def check(self, where: str = MANIFEST) -> None:
        """Consistency of the manifest with itself."""
        fe = self.frontend
        if self.frontend_kind != "logmel":
            raise BundleError(f"{where}: frontend_kind {self.frontend_kind!r} is not supported; expected 'logmel'")
        if self.streaming is None:
            expected_in, what = [1, fe.frames_per_clip, fe.n_mels], "1 x frames_per_clip x n_mels"
        else:
            expected_in, what = [1, self.streaming.step_frames, fe.n_mels], "1 x streaming.step_frames x n_mels"
            step, window = self.streaming.step_frames, self.streaming.window_frames
            if not (0 < step and 0 < window <= fe.frames_per_clip and window % step == 0):
                raise BundleError(f"{where}: streaming.window_frames {window} must be a multiple of "
                                  f"step_frames {step} within 1..{fe.frames_per_clip} (frames_per_clip)")
        if list(self.input.shape) != expected_in:
            raise BundleError(f"{where}: input shape {self.input.shape} does not match the frontend "
                              f"({expected_in}: {what})")
        if list(self.output.shape) != [1, len(self.labels)]:
            raise BundleError(f"{where}: output shape {self.output.shape} does not match "
                              f"{len(self.labels)} labels {self.labels}")
        unknown = sorted(set(self.detector.thresholds) - set(self.keywords))
        if unknown:
            raise BundleError(f"{where}: thresholds given for {unknown}, which are not keywords {self.keywords}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resolve(path: str | Path | None) -> Path:
    return DEFAULT_BUNDLE if path is None else Path(path)


def read_bundle(path: str | Path | None = None) -> tuple[Manifest, bytes]:
    """Read and verify a bundle folder (the shipped default when path is None)."""
    folder = resolve(path)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{folder}: not a bundle (no {MANIFEST}); make one with 'edge-kws export'")
    try:
        manifest = Manifest.from_dict(json.loads(manifest_path.read_text()), str(manifest_path))
    except json.JSONDecodeError as e:
        raise BundleError(f"{manifest_path}: not valid JSON ({e})") from None
    manifest.check(str(manifest_path))
    model_path = folder / manifest.model_file
    if not model_path.is_file():
        raise BundleError(f"{model_path}: missing (named by {manifest_path})")
    model = model_path.read_bytes()
    if sha256(model) != manifest.model_sha256:
        raise BundleError(f"{model_path}: sha256 {sha256(model)[:12]}... does not match the manifest's "
                          f"{manifest.model_sha256[:12]}...; the model was changed after export")
    return manifest, model


def write_bundle(folder: str | Path, manifest: Manifest, model: bytes, extra: dict[str, bytes] | None = None) -> Path:
    """Write a bundle atomically: a complete new folder replaces the old one, or nothing changes."""
    folder = Path(folder)
    manifest.model_sha256 = sha256(model)
    manifest.check()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a bundle is meant to be shared
    try:
        (tmp / manifest.model_file).write_bytes(model)
        (tmp / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
        for name, data in (extra or {}).items():
            (tmp / name).write_bytes(data)
        replace_dir(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
