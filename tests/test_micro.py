"""The microcontroller export: a C array TFLM can use, its ops, its measured arena, the same answers."""

import json
import re

import pytest

from .conftest import run_cli

pytest.importorskip("tflite_micro", reason="tflite-micro ships x86_64 Linux wheels only")


def test_micro_target_writes_c_array_ops_and_a_measured_arena(trained_run, tmp_path):
    out = tmp_path / "bundle"
    proc = run_cli("export", "--run", str(trained_run), "--out", str(out), "--target", "micro")
    assert "TensorFlow Lite Micro: arena" in proc.stdout
    report = json.loads((out / "micro.json").read_text())
    model = (out / "model.tflite").read_bytes()
    assert report["model_bytes"] == len(model)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(report["ops"])
    assert 1000 < report["arena_bytes"] < 200_000 and report["arena_bytes"] % 16 == 0
    check = report["vs_tflite"]
    assert check["steps"] > 100 and check["argmax_agreement"] >= 0.99 and check["max_diff_steps"] <= 4
    source = (out / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char g_model[]" in source
    assert f"g_model_len = {len(model)};" in source
    body = source[source.index("{") + 1:source.index("};")]
    assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == model
    assert "extern const unsigned char g_model[];" in (out / "model_data.h").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["metrics"]["micro"]["arena_bytes"] == report["arena_bytes"]
