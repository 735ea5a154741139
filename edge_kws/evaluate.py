"""Clip-level accuracy of a bundle, run with the TFLite interpreter: the number a device gets."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .audio import AudioError, fit_length, read_audio
from .dataset import list_clips
from .frontend import Frontend
from .runtime import Classifier

log = logging.getLogger(__name__)


def confusion_report(labels: list[str], truth: np.ndarray, predicted: np.ndarray) -> dict:
    """The eval JSON: accuracy, n, labels, per_class {n, recall}, confusion[truth][predicted]."""
    k = len(labels)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = {}
    for i, label in enumerate(labels):
        n = int(confusion[i].sum())
        per_class[label] = {"n": n, "recall": round(float(confusion[i, i] / n), 4) if n else None}
    n = int(confusion.sum())
    return {"accuracy": round(float(np.trace(confusion) / n), 4) if n else None, "n": n,
            "labels": labels, "per_class": per_class, "confusion": confusion.tolist()}


def evaluate(classifier: Classifier, data: str | Path, split: str | None = None) -> dict:
    """Score every clip under data/<label>/ (one split of it, if given); unreadable files are skipped."""
    from tqdm import tqdm

    manifest = classifier.manifest
    labels = manifest.labels
    frontend = Frontend(manifest.frontend)
    clips = list_clips(data, manifest.keywords, split)
    if not clips:
        raise FileNotFoundError(f"{data}: no audio clips found" + (f" in split {split!r}" if split else ""))
    truth, predicted, skipped = [], [], []
    for path, label in tqdm(clips, desc="eval", unit="clip", disable=None):
        try:
            audio = fit_length(read_audio(path, manifest.frontend.sample_rate), manifest.frontend.clip_samples)
        except AudioError as e:
            log.warning("skipped %s", e)
            skipped.append(str(path))
            continue
        truth.append(labels.index(label))
        predicted.append(int(np.argmax(classifier.predict(frontend.features(audio)))))
    report = confusion_report(labels, np.array(truth, int), np.array(predicted, int))
    report["skipped"] = skipped
    return report


def plot_confusion(report: dict, path: str | Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = report["labels"]
    m = np.array(report["confusion"], float)
    rows = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(labels), 0.8 + 0.55 * len(labels)))
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rows[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {report['accuracy']:.3f} on {report['n']} clips")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
