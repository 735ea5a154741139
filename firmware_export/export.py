"""A trained run folder -> a deploy bundle (int8 model.tflite + manifest.json)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import keras
import numpy as np

from edge_kws.bundle import Manifest, StreamingSpec, TensorSpec, write_bundle
from edge_kws.config import ConfigError
from edge_kws.frontend import Frontend
from edge_kws.runtime import Classifier, interpreter_class
from edge_kws.service import pi_files
from training.config import TrainConfig
from training.data import load_dataset
from training.models import STEP, state_names, streaming_ds_cnn, window_frames, zero_states
from training.train import MODEL_FILE

from .micro import micro_report
from .quantize import to_int8_tflite

log = logging.getLogger(__name__)


def _spec(detail: dict) -> TensorSpec:
    scale, zero_point = detail["quantization"]
    return TensorSpec(shape=[int(d) for d in detail["shape"]], dtype=np.dtype(detail["dtype"]).name,
                      scale=float(scale), zero_point=int(zero_point))


def streaming_calibration(stream: keras.Model, features: np.ndarray, limit: int, seed: int):
    """Inputs for every step of every clip, states included, as the float streaming model produces
    them from a zero state (batched over clips); `limit` of them at random, so calibration stays quick."""
    states = zero_states(stream)
    states = [np.repeat(s, len(features), axis=0) for s in states]
    names = [t.name for t in stream.inputs]
    steps = []
    for start in range(0, features.shape[1] - STEP + 1, STEP):
        inputs = [features[:, start:start + STEP], *states]
        steps.append(inputs)
        states = [np.asarray(s) for s in stream.predict_on_batch(inputs)[1:]]
    pairs = [(s, i) for s in range(len(steps)) for i in range(len(features))]
    chosen = np.random.default_rng(seed).permutation(len(pairs))[:limit]

    def samples():
        for k in chosen:
            s, i = pairs[k]
            yield {name: np.asarray(x[i:i + 1], np.float32) for name, x in zip(names, steps[s])}
    return samples


def export(run: str | Path, out: str | Path, data: str | None = None, calibration: int = 500,
           streaming: bool = True, target: str = "bundle") -> Manifest:
    """Quantize the run's model on `calibration` training clips and write the bundle to `out`: the
    streaming model by default, the whole-window one with `streaming=False`. Target "micro" adds
    model_data.h/.cc for TensorFlow Lite Micro and micro.json (ops, arena, check); "rpi" adds a
    settings file, a systemd unit and INSTALL.md for a Raspberry Pi."""
    run = Path(run)
    for name in (MODEL_FILE, "config.json"):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run / name}: missing; expected the output folder of 'edge-kws train'")
    try:
        cfg = TrainConfig.load(run / "config.json", data=data)
    except ConfigError as e:
        raise ConfigError(f"{run / 'config.json'}: {e}") from None
    model = keras.models.load_model(run / MODEL_FILE)
    dataset = load_dataset(cfg, ("training", "validation"))
    frontend = Frontend(cfg.frontend)
    fe = cfg.frontend
    train = dataset.splits["training"]
    pick = np.random.default_rng(cfg.seed).permutation(len(train.labels))[:calibration]
    calib = frontend.features_batch(train.audio[pick])
    spec = None
    if streaming:
        try:
            stream = streaming_ds_cnn(model, fe.frames_per_clip, fe.n_mels, cfg.model)
        except ValueError as e:
            raise ValueError(f"{run / MODEL_FILE}: cannot be streamed ({e}); retrain it with this version") from None
        spec = StreamingSpec(step_frames=STEP, states=state_names(stream), window_frames=window_frames(fe.frames_per_clip))
        tflite = to_int8_tflite(stream, streaming_calibration(stream, calib, 20 * calibration, cfg.seed))
    else:
        tflite = to_int8_tflite(model, lambda: ({"features": x[None]} for x in calib))

    val = dataset.splits["validation"]
    val_x = frontend.features_batch(val.audio)
    float_acc = float(np.mean(np.argmax(model.predict(val_x, verbose=0), axis=1) == val.labels))
    interpreter = interpreter_class()(model_content=tflite)
    details = interpreter.get_signature_runner()
    inputs, outputs = details.get_input_details(), details.get_output_details()
    manifest = Manifest(labels=dataset.labels, frontend=fe, model_sha256="", streaming=spec,
                        input=_spec(inputs["frames" if streaming else "features"]), output=_spec(outputs["output_0"]))
    classifier = Classifier(manifest, tflite)
    int8_acc = float(np.mean(np.argmax(classifier.predict_batch(val_x), axis=1) == val.labels))
    manifest.metrics = {"validation_n": int(len(val.labels)), "float_accuracy": round(float_acc, 4),
                        "int8_accuracy": round(int8_acc, 4), "model_bytes": len(tflite),
                        "params": int(model.count_params())}
    extra = {"labels.txt": ("\n".join(dataset.labels) + "\n").encode()}
    if target == "rpi":
        extra |= pi_files(manifest.keywords)
    elif target == "micro":
        report, files = micro_report(manifest, tflite, val_x[:100])
        manifest.metrics["micro"] = {k: report[k] for k in ("arena_bytes", "vs_tflite")}
        extra |= files | {"micro.json": (json.dumps(report, indent=1) + "\n").encode()}
    write_bundle(out, manifest, tflite, extra=extra)
    log.info("validation accuracy on %d clips: float %.4f, int8 %.4f (%d bytes, %s) -> %s", len(val.labels),
             float_acc, int8_acc, len(tflite), "streaming" if streaming else "whole window", out)
    return manifest
