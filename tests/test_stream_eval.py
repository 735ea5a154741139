"""Streaming accuracy on long streams: placement, scoring, the threshold sweep and the command."""

import json

import numpy as np
import pytest

from edge_kws.stream_eval import build_stream, score

from .conftest import run_cli


def test_placed_words_are_where_the_stream_says_at_the_asked_snr():
    rng = np.random.default_rng(0)
    word = np.sin(np.arange(8000) / 3).astype(np.float32)
    bg = 0.01 * rng.standard_normal(16000 * 60).astype(np.float32)
    audio, placed = build_stream([(word, "yes")], bg, 10.0, 16000, rng)
    assert len(placed) >= 8
    for w in placed:
        seg = audio[int(w["start"] * 16000):int(w["end"] * 16000)]
        snr = 10 * np.log10(np.mean(seg ** 2) / np.mean(bg ** 2))
        assert 9.5 < snr < 10.6
        assert w["end"] - w["start"] == pytest.approx(0.5)


def test_score_counts_each_word_once():
    placed = [{"word": "yes", "start": 1.0, "end": 1.5}, {"word": "no", "start": 5.0, "end": 5.4}]
    assert score([(1.6, "yes"), (1.7, "yes"), (5.2, "yes"), (9.0, "no")], placed) == (1, 3)


def test_eval_stream_reports_a_det_sweep(bundle, spoken_data, tmp_path):
    out = tmp_path / "streams.json"
    summary = json.loads(run_cli("eval-stream", "--model", str(bundle), "--data", str(spoken_data),
                                 "--minutes", "0.5", "--snr", "20", "--json", str(out)).stdout)
    report = json.loads(out.read_text())
    assert report["placed"] == summary["placed"] > 10
    assert {c["background"] for c in report["conditions"]} == {"noise", "babble", "music"}
    det = report["det"]
    assert all(r["hits"] + r["misses"] == report["placed"] for r in det)
    assert det[-1]["false_accepts"] <= det[0]["false_accepts"]   # the strictest threshold accepts least
    assert summary["at_default_threshold"]["hits"] > report["placed"] / 3
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
