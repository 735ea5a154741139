"""A trained run folder -> a deploy bundle (int8 model.tflite + manifest.json)."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from edge_kws.bundle import Manifest, TensorSpec, write_bundle
from edge_kws.config import ConfigError
from edge_kws.frontend import Frontend
from edge_kws.runtime import Classifier, interpreter_class
from training.config import TrainConfig
from training.data import load_dataset
from training.train import MODEL_FILE

from .quantize import to_int8_tflite

log = logging.getLogger(__name__)


def _spec(detail: dict) -> TensorSpec:
    scale, zero_point = detail["quantization"]
    return TensorSpec(shape=[int(d) for d in detail["shape"]], dtype=np.dtype(detail["dtype"]).name,
                      scale=float(scale), zero_point=int(zero_point))


def export(run: str | Path, out: str | Path, data: str | None = None, calibration: int = 500) -> Manifest:
    """Quantize the run's model on `calibration` training clips and write the bundle to `out`."""
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
    train = dataset.splits["training"]
    pick = np.random.default_rng(cfg.seed).permutation(len(train.labels))[:calibration]
    tflite = to_int8_tflite(model, frontend.features_batch(train.audio[pick]))

    val = dataset.splits["validation"]
    val_x = frontend.features_batch(val.audio)
    float_acc = float(np.mean(np.argmax(model.predict(val_x, verbose=0), axis=1) == val.labels))
    interpreter = interpreter_class()(model_content=tflite)
    manifest = Manifest(labels=dataset.labels, frontend=cfg.frontend, model_sha256="",
                        input=_spec(interpreter.get_input_details()[0]),
                        output=_spec(interpreter.get_output_details()[0]))
    classifier = Classifier(manifest, tflite)
    int8_acc = float(np.mean(np.argmax(classifier.predict_batch(val_x), axis=1) == val.labels))
    manifest.metrics = {"validation_n": int(len(val.labels)), "float_accuracy": round(float_acc, 4),
                        "int8_accuracy": round(int8_acc, 4), "model_bytes": len(tflite),
                        "params": int(model.count_params())}
    write_bundle(out, manifest, tflite, extra={"labels.txt": ("\n".join(dataset.labels) + "\n").encode()})
    log.info("validation accuracy on %d clips: float %.4f, int8 %.4f (%d bytes) -> %s",
             len(val.labels), float_acc, int8_acc, len(tflite), out)
    return manifest
