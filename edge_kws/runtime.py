"""The TFLite interpreter: LiteRT, else tflite-runtime, else TensorFlow's; never imported eagerly."""

from __future__ import annotations

import importlib
import logging
import platform
import sys

import numpy as np

from .bundle import BundleError, Manifest, read_bundle

log = logging.getLogger(__name__)

INTERPRETERS = [
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite.python.interpreter", "tensorflow"),
]


class RuntimeMissing(Exception):
    pass


def interpreter_class():
    """The first TFLite Interpreter class that imports, in the order of INTERPRETERS."""
    for module, _ in INTERPRETERS:
        try:
            return importlib.import_module(module).Interpreter
        except ImportError:
            continue
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    raise RuntimeMissing(
        f"no TFLite interpreter found (tried {', '.join(m for m, _ in INTERPRETERS)}) for Python {py} on "
        f"{platform.machine()}. Install one: pip install ai-edge-litert  (or: pip install tflite-runtime). "
        "Wheels exist for Python 3.10-3.12 on x86_64 and aarch64; on Python 3.13 (Raspberry Pi OS Trixie) "
        "make a Python 3.11 or 3.12 environment first, e.g.: uv venv --python 3.11")


def _quantize(x: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    if not np.issubdtype(dtype, np.integer) or scale == 0:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    if scale == 0:
        return q.astype(np.float32)
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


class Classifier:
    """A bundle's model: float features in, class probabilities out, whatever the tensors' types."""

    def __init__(self, manifest: Manifest, model: bytes, num_threads: int | None = None):
        self.manifest = manifest
        try:
            self.interpreter = interpreter_class()(model_content=model, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise BundleError(f"{manifest.model_file}: not a usable TFLite model ({e})") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self._check_against_manifest()
        self.in_scale, self.in_zero = self.input["quantization"]
        self.out_scale, self.out_zero = self.output["quantization"]

    @classmethod
    def from_bundle(cls, path=None, **kwargs) -> Classifier:
        return cls(*read_bundle(path), **kwargs)

    def _check_against_manifest(self) -> None:
        for name, actual, spec in [("input", self.input, self.manifest.input),
                                   ("output", self.output, self.manifest.output)]:
            if list(actual["shape"]) != list(spec.shape) or np.dtype(actual["dtype"]).name != spec.dtype:
                raise BundleError(
                    f"{self.manifest.model_file}: model {name} is {list(actual['shape'])} "
                    f"{np.dtype(actual['dtype']).name}, but the manifest says {spec.shape} {spec.dtype}")

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(frames, n_mels) -> (n_labels,) probabilities."""
        q = _quantize(np.asarray(features, np.float32)[None], self.input["dtype"], self.in_scale, self.in_zero)
        self.interpreter.set_tensor(self.input["index"], q)
        self.interpreter.invoke()
        return _dequantize(self.interpreter.get_tensor(self.output["index"])[0], self.out_scale, self.out_zero)

    def predict_batch(self, features: np.ndarray) -> np.ndarray:
        """(N, frames, n_mels) -> (N, n_labels)."""
        out = np.empty((len(features), len(self.manifest.labels)), np.float32)
        for i, f in enumerate(features):
            out[i] = self.predict(f)
        return out

