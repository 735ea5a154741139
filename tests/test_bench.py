import json

from .conftest import run_cli


def test_bench_reports_latency_cpu_and_a_histogram(bundle, tmp_path):
    out = tmp_path / "bench.json"
    for extra in ([], ["--no-xnnpack"]):
        summary = json.loads(run_cli("bench", "--model", str(bundle), "--invokes", "300", "--audio-seconds", "10",
                                     "--json", str(out), *extra).stdout)
        assert summary["kind"] == "streaming" and summary["invoke_every_ms"] == 40.0
        assert summary["xnnpack"] is (not extra)
        lat = summary["invoke_us"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p95"] <= lat["p99"]
        assert 0 < summary["cpu_per_audio_s"] < 1 and summary["audio_s"] == 10.0
        assert summary["model_bytes"] == (bundle / "model.tflite").stat().st_size
    report = json.loads(out.read_text())
    assert len(report["invoke_us_all"]) == 300
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
