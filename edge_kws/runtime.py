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


def quantize(x: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    if not np.issubdtype(dtype, np.integer) or scale == 0:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    if scale == 0:
        return q.astype(np.float32)
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


class Classifier:
    """A bundle's model: float features in, class probabilities out, whatever the tensors' types.

    A whole-window model maps (frames_per_clip, n_mels) to probabilities in one call. A streaming
    model (`manifest.streaming`) is fed `step_frames` new frames per `step` and keeps its state here,
    int8 as the model produced it; `predict` on a whole window resets it and steps through the window.
    """

    def __init__(self, manifest: Manifest, model: bytes, num_threads: int | None = None, xnnpack: bool = True):
        self.manifest = manifest
        cls = interpreter_class()
        options = {} if xnnpack else {
            # The plain reference kernels: what the model costs where no XNNPACK delegate applies.
            "experimental_op_resolver_type": importlib.import_module(cls.__module__).OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
        try:
            self.interpreter = cls(model_content=model, num_threads=num_threads, **options)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise BundleError(f"{manifest.model_file}: not a usable TFLite model ({e})") from None
        if manifest.streaming is None:
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self.state_in, self.state_out = [], []
        else:
            self._bind_streaming_tensors()
        self._check_against_manifest()
        self.in_scale, self.in_zero = self.input["quantization"]
        self.out_scale, self.out_zero = self.output["quantization"]
        self.reset()

    @classmethod
    def from_bundle(cls, path=None, **kwargs) -> Classifier:
        return cls(*read_bundle(path), **kwargs)

    def _bind_streaming_tensors(self) -> None:
        where = self.manifest.model_file
        try:
            runner = self.interpreter.get_signature_runner()
            inputs, outputs = runner.get_input_details(), runner.get_output_details()
            self.input, self.output = inputs["frames"], outputs["output_0"]
            self.state_in = [inputs[name] for name in self.manifest.streaming.states]
            self.state_out = [outputs[f"output_{i + 1}"] for i in range(len(self.state_in))]
        except (KeyError, ValueError) as e:
            raise BundleError(f"{where}: not the streaming model its manifest describes (no tensor {e})") from None
        for name, i, o in zip(self.manifest.streaming.states, self.state_in, self.state_out):
            if list(i["shape"]) != list(o["shape"]) or i["quantization"] != o["quantization"]:
                raise BundleError(f"{where}: state {name!r} comes out as {list(o['shape'])} {o['quantization']} "
                                  f"but goes in as {list(i['shape'])} {i['quantization']}")

    def _check_against_manifest(self) -> None:
        for name, actual, spec in [("input", self.input, self.manifest.input),
                                   ("output", self.output, self.manifest.output)]:
            if list(actual["shape"]) != list(spec.shape) or np.dtype(actual["dtype"]).name != spec.dtype:
                raise BundleError(
                    f"{self.manifest.model_file}: model {name} is {list(actual['shape'])} "
                    f"{np.dtype(actual['dtype']).name}, but the manifest says {spec.shape} {spec.dtype}")

    def reset(self) -> None:
        """Forget a streaming model's past (its states back to zero)."""
        self.states = [quantize(np.zeros(d["shape"], np.float32), d["dtype"], *d["quantization"])
                       for d in self.state_in]

    def step(self, frames: np.ndarray) -> np.ndarray:
        """Streaming: (step_frames, n_mels) new frames -> (n_labels,) probabilities for the window ending here."""
        interp = self.interpreter
        interp.set_tensor(self.input["index"], quantize(np.asarray(frames, np.float32)[None], self.input["dtype"],
                                                         self.in_scale, self.in_zero))
        for d, state in zip(self.state_in, self.states):
            interp.set_tensor(d["index"], state)
        interp.invoke()
        self.states = [interp.get_tensor(d["index"]) for d in self.state_out]
        return dequantize(interp.get_tensor(self.output["index"])[0], self.out_scale, self.out_zero)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(frames_per_clip, n_mels) -> (n_labels,) probabilities."""
        spec = self.manifest.streaming
        if spec is not None:
            self.reset()
            for start in range(0, spec.window_frames, spec.step_frames):
                probs = self.step(features[start:start + spec.step_frames])
            return probs
        q = quantize(np.asarray(features, np.float32)[None], self.input["dtype"], self.in_scale, self.in_zero)
        self.interpreter.set_tensor(self.input["index"], q)
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(self.output["index"])[0], self.out_scale, self.out_zero)

    def predict_batch(self, features: np.ndarray) -> np.ndarray:
        """(N, frames, n_mels) -> (N, n_labels)."""
        out = np.empty((len(features), len(self.manifest.labels)), np.float32)
        for i, f in enumerate(features):
            out[i] = self.predict(f)
        return out
