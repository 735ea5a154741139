"""Train a DS-CNN on a Speech Commands folder. The output folder holds the run:

- model.keras: the best model so far (by validation loss), replaced atomically after each better epoch;
- checkpoint/: the latest epoch's model and state while the run is unfinished (the run resumes from it);
- history.json, labels.txt, config.json (every setting, frontend included), metrics.json.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from edge_kws.files import atomic_write_text, replace_dir
from edge_kws.frontend import Frontend

from .augment import augment_batch
from .config import TrainConfig
from .data import Dataset, Split, load_dataset
from .models import ds_cnn

log = logging.getLogger(__name__)
MODEL_FILE = "model.keras"
CHECKPOINT = "checkpoint"
STATE_FILE = "state.json"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class AugmentedClips(keras.utils.PyDataset):
    """Training batches: clips augmented afresh each epoch, then turned into features."""

    def __init__(self, split: Split, dataset: Dataset, cfg: TrainConfig, frontend: Frontend):
        # Two threads: Pedalboard and numpy release the GIL, so augmentation uses both cores.
        super().__init__(workers=2, use_multiprocessing=False)
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


class Checkpoint(keras.callbacks.Callback):
    """After every epoch, atomically: the best model so far (by validation loss) to model.keras, and
    the latest model with its optimizer state, plus the run's state, to checkpoint/. A run that is
    interrupted resumes from there. Early stopping lives here too, since its count must survive that."""

    def __init__(self, out: Path, patience: int, state: dict):
        super().__init__()
        self.out, self.patience, self.state = out, patience, state

    def on_epoch_end(self, epoch, logs=None) -> None:
        state = self.state
        for k, v in (logs or {}).items():
            state["history"].setdefault(k, []).append(float(v))
        state["epoch"] = epoch + 1
        if logs["val_loss"] < state["best_val_loss"]:
            state["best_val_loss"], state["wait"] = float(logs["val_loss"]), 0
            save_model_atomic(self.model, self.out / MODEL_FILE)
        else:
            state["wait"] += 1
        tmp = Path(tempfile.mkdtemp(prefix=f".{CHECKPOINT}.", dir=self.out))
        try:
            save_model_atomic(self.model, tmp / MODEL_FILE)
            (tmp / STATE_FILE).write_text(json.dumps(state))
            replace_dir(tmp, self.out / CHECKPOINT)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if state["wait"] >= self.patience:
            self.model.stop_training = True


class ProgressBar(keras.callbacks.Callback):
    """One tqdm bar over epochs, with the latest losses and accuracies."""

    def __init__(self, epochs: int, done: int = 0):
        super().__init__()
        self.bar = tqdm(total=epochs, initial=done, desc="train", unit="epoch", disable=None)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items() if "loss" in k or "acc" in k})
        self.bar.update()

    def on_train_end(self, logs=None) -> None:
        self.bar.close()


def resume_state(out: Path, cfg: TrainConfig) -> dict | None:
    """The state of an unfinished run of the same settings in `out`, if there is one."""
    path = out / CHECKPOINT / STATE_FILE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    same = {**state["config"], "epochs": cfg.epochs} == json.loads(json.dumps(cfg.to_dict()))
    if not same:
        raise ValueError(f"{out}: holds an unfinished run with other settings; run it again with the same "
                         f"settings to resume it, or give another --out")
    return state


def train(cfg: TrainConfig) -> Path:
    """Train per `cfg`, resuming an unfinished run in the same output folder; return that folder."""
    seed_everything(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state = resume_state(out, cfg)
    data = load_dataset(cfg)
    if len(data.splits["training"].labels) == 0 or len(data.splits["validation"].labels) == 0:
        raise ValueError(f"{cfg.data}: the training and validation splits both need clips")
    frontend = Frontend(cfg.frontend)
    fe = cfg.frontend
    if state:
        log.info("resuming %s after epoch %d", out, state["epoch"])
        model = keras.models.load_model(out / CHECKPOINT / MODEL_FILE)
    else:
        state = {"config": cfg.to_dict(), "epoch": 0, "best_val_loss": float("inf"), "wait": 0, "history": {}}
        feats = frontend.features_batch(data.splits["training"].audio[:2000])
        model = ds_cnn(fe.frames_per_clip, fe.n_mels, len(data.labels), cfg.model,
                       feats.mean(axis=(0, 1)), feats.var(axis=(0, 1)) + 1e-6)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    val = data.splits["validation"]
    val_x = frontend.features_batch(val.audio)
    atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    atomic_write_text(out / "labels.txt", "\n".join(data.labels) + "\n")
    if state["epoch"] < cfg.epochs and state["wait"] < cfg.patience:
        batches = AugmentedClips(data.splits["training"], data, cfg, frontend)
        batches.epoch = state["epoch"]
        model.fit(batches, validation_data=(val_x, val.labels), epochs=cfg.epochs, initial_epoch=state["epoch"],
                  verbose=0, callbacks=[keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(1, cfg.patience // 2)),
                                        Checkpoint(out, cfg.patience, state),
                                        ProgressBar(cfg.epochs, state["epoch"])])
    model = keras.models.load_model(out / MODEL_FILE)  # the best epoch's
    hist = state["history"]
    atomic_write_text(out / "history.json", json.dumps(hist, indent=1) + "\n")
    metrics = {"val_accuracy": float(model.evaluate(val_x, val.labels, verbose=0)[1]),
               "epochs_run": len(hist["loss"]), "params": int(model.count_params()),
               "skipped_files": data.skipped}
    test = data.splits["testing"]
    if len(test.labels):
        metrics["test_accuracy"] = float(model.evaluate(frontend.features_batch(test.audio), test.labels, verbose=0)[1])
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    shutil.rmtree(out / CHECKPOINT, ignore_errors=True)
    log.info("trained %s: validation accuracy %.3f%s", out, metrics["val_accuracy"],
             f", test {metrics['test_accuracy']:.3f}" if "test_accuracy" in metrics else "")
    return out
