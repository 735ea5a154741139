"""The whole chain on a tiny spoken dataset: train, export int8, evaluate, stream."""

import json

import numpy as np
import pytest

from edge_kws.audio import file_blocks, read_audio
from edge_kws.dataset import list_clips
from edge_kws.spotter import Spotter

from .conftest import KEYWORDS, json_lines, run_cli, write_audio


def test_training_run_folder_holds_model_history_labels(trained_run):
    assert (trained_run / "model.keras").is_file()
    assert (trained_run / "labels.txt").read_text().split() == ["_silence_", "_unknown_", *KEYWORDS]
    history = json.loads((trained_run / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0]
    assert json.loads((trained_run / "metrics.json").read_text())["val_accuracy"] > 0.7
    assert not [p.name for p in trained_run.iterdir() if p.name.startswith(".")]


def test_int8_keeps_the_float_accuracy(bundle):
    metrics = json.loads((bundle / "manifest.json").read_text())["metrics"]
    assert metrics["int8_accuracy"] >= metrics["float_accuracy"] - 0.05
    assert metrics["model_bytes"] < 100_000


def test_eval_on_held_out_voices_writes_json_and_confusion_png(bundle, spoken_data, tmp_path):
    out = tmp_path / "eval.json"
    run_cli("eval", "--model", str(bundle), "--data", str(spoken_data), "--split", "testing", "--json", str(out))
    report = json.loads(out.read_text())
    assert set(report) >= {"accuracy", "n", "labels", "per_class", "confusion"}
    assert report["n"] == len(list_clips(spoken_data, KEYWORDS, "testing"))
    assert report["n"] == sum(map(sum, report["confusion"]))
    assert report["per_class"]["yes"]["n"] > 0
    assert report["accuracy"] > 0.7
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def held_out_stream(spoken_data, path):
    """Held-out keyword and other-word clips, 1.5 s apart over quiet noise; returns (path, truth)."""
    rng = np.random.default_rng(0)
    clips = list_clips(spoken_data, KEYWORDS, "testing") + list_clips(spoken_data, KEYWORDS, "validation")
    clips = [clips[i] for i in rng.permutation(len(clips))][:40]
    parts, truth, t = [np.zeros(8000, np.float32)], [], 0.5
    for p, label in clips:
        parts += [read_audio(p), np.zeros(8000, np.float32)]
        if label in KEYWORDS:
            truth.append((t, label))
        t += 1.5
    audio = np.concatenate(parts)
    audio += 0.002 * rng.standard_normal(len(audio)).astype(np.float32)
    return write_audio(path, audio), truth


def test_listen_finds_the_keywords_in_a_long_file(bundle, spoken_data, tmp_path):
    wav, truth = held_out_stream(spoken_data, tmp_path / "stream.wav")
    proc = run_cli("listen", "--model", str(bundle), "--input", str(wav))
    events = json_lines(proc.stdout)
    assert all(set(e) == {"t", "keyword", "score"} for e in events)
    hits = [any(e["keyword"] == kw and start < e["t"] < start + 1.5 for e in events) for start, kw in truth]
    matched = sum(any(kw == e["keyword"] and start < e["t"] < start + 1.5 for start, kw in truth) for e in events)
    assert len(truth) >= 8
    assert sum(hits) >= 0.7 * len(truth), (truth, events)
    assert len(events) - matched <= 0.35 * len(truth), (truth, events)


@pytest.mark.parametrize("block", [160, 1000, 4801])
def test_detections_do_not_depend_on_the_block_size(bundle, spoken_data, tmp_path, block):
    wav, _ = held_out_stream(spoken_data, tmp_path / "stream.wav")
    reference = [e.to_dict() for e in Spotter(bundle).run(file_blocks(wav, 320))]
    assert [e.to_dict() for e in Spotter(bundle).run(file_blocks(wav, block))] == reference


def test_interrupted_save_keeps_the_last_good_model(trained_run, tmp_path, monkeypatch):
    import keras

    from training.train import save_model_atomic

    model = keras.models.load_model(trained_run / "model.keras")
    target = tmp_path / "model.keras"
    save_model_atomic(model, target)
    good = target.read_bytes()

    def crash(self, path, *a, **k):
        open(path, "wb").write(b"half a model")
        raise KeyboardInterrupt
    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model_atomic(model, target)
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
