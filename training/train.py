"""Train a DS-CNN on a Speech Commands folder. The output folder holds the run:

- model.keras: the best model so far (by validation loss), replaced atomically after each better epoch;
- history.json, labels.txt, config.json (every setting, frontend included), metrics.json.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from edge_kws.files import atomic_write_text
from edge_kws.frontend import Frontend

from .augment import augment_batch
from .config import TrainConfig
from .data import Dataset, Split, load_dataset
from .models import ds_cnn

log = logging.getLogger(__name__)
MODEL_FILE = "model.keras"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class AugmentedClips(keras.utils.PyDataset):
    """Training batches: clips augmented afresh each epoch, then turned into features."""

    def __init__(self, split: Split, dataset: Dataset, cfg: TrainConfig, frontend: Frontend):
        super().__init__()
        self.split, self.background, self.cfg, self.frontend = split, dataset.background, cfg, frontend
        self.epoch = 0
        self.order = self._shuffle()

    def _shuffle(self) -> np.ndarray:
        return np.random.default_rng([self.cfg.seed, self.epoch]).permutation(len(self.split.labels))

    def __len__(self) -> int:
        return -(-len(self.split.labels) // self.cfg.batch_size)

    def __getitem__(self, index: int):
        idx = self.order[index * self.cfg.batch_size:(index + 1) * self.cfg.batch_size]
        rng = np.random.default_rng([self.cfg.seed, self.epoch, index])
        audio = augment_batch(self.split.audio[idx], self.background, self.cfg.augment,
                              self.cfg.frontend.sample_rate, rng)
        return self.frontend.features_batch(audio), self.split.labels[idx]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._shuffle()


def save_model_atomic(model: keras.Model, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class KeepBest(keras.callbacks.Callback):
    """Writes the model whenever validation loss improves, so an interrupted run keeps its best."""

    def __init__(self, path: Path):
        super().__init__()
        self.path, self.best = path, np.inf

    def on_epoch_end(self, epoch, logs=None) -> None:
        if logs and logs.get("val_loss", np.inf) < self.best:
            self.best = logs["val_loss"]
            save_model_atomic(self.model, self.path)


class ProgressBar(keras.callbacks.Callback):
    """One tqdm bar over epochs, with the latest losses and accuracies."""

    def __init__(self, epochs: int):
        super().__init__()
        self.bar = tqdm(total=epochs, desc="train", unit="epoch", disable=None)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items() if "loss" in k or "acc" in k})
        self.bar.update()

    def on_train_end(self, logs=None) -> None:
        self.bar.close()


def train(cfg: TrainConfig) -> Path:
    """Train per `cfg`; return the output folder."""
    seed_everything(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(cfg)
    if len(data.splits["training"].labels) == 0 or len(data.splits["validation"].labels) == 0:
        raise ValueError(f"{cfg.data}: the training and validation splits both need clips")
    frontend = Frontend(cfg.frontend)
    fe = cfg.frontend
    sample = data.splits["training"].audio[:2000]
    feats = frontend.features_batch(sample)
    model = ds_cnn(fe.frames_per_clip, fe.n_mels, len(data.labels), cfg.model,
                   feats.mean(axis=(0, 1)), feats.var(axis=(0, 1)) + 1e-6)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    val = data.splits["validation"]
    val_x = frontend.features_batch(val.audio)
    atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    atomic_write_text(out / "labels.txt", "\n".join(data.labels) + "\n")
    history = model.fit(
        AugmentedClips(data.splits["training"], data, cfg, frontend),
        validation_data=(val_x, val.labels), epochs=cfg.epochs, verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True),
                   keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(1, cfg.patience // 2)),
                   KeepBest(out / MODEL_FILE), ProgressBar(cfg.epochs)])
    save_model_atomic(model, out / MODEL_FILE)
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    atomic_write_text(out / "history.json", json.dumps(hist, indent=1) + "\n")
    metrics = {"val_accuracy": float(model.evaluate(val_x, val.labels, verbose=0)[1]),
               "epochs_run": len(hist["loss"]), "params": int(model.count_params()),
               "skipped_files": data.skipped}
    test = data.splits["testing"]
    if len(test.labels):
        metrics["test_accuracy"] = float(model.evaluate(frontend.features_batch(test.audio), test.labels, verbose=0)[1])
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    log.info("trained %s: validation accuracy %.3f%s", out, metrics["val_accuracy"],
             f", test {metrics['test_accuracy']:.3f}" if "test_accuracy" in metrics else "")
    return out
