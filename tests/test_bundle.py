"""The runtime refuses a bundle it cannot trust, with a message that says why."""

import json
import shutil

import pytest

from edge_kws.bundle import BundleError, read_bundle, write_bundle
from edge_kws.runtime import Classifier

from .conftest import run_cli


@pytest.fixture
def copy(bundle, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(bundle, dst)
    return dst


def edit_manifest(folder, change):
    path = folder / "manifest.json"
    m = json.loads(path.read_text())
    change(m)
    path.write_text(json.dumps(m))


def test_manifest_holds_what_the_device_needs(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["format_version"] == 1
    assert m["labels"] == ["_silence_", "_unknown_", "yes", "stop"]
    assert m["frontend"]["n_mels"] == 40 and m["frontend"]["sample_rate"] == 16000
    assert m["input"]["shape"] == [1, 2, 40] and m["input"]["dtype"] == "int8" and m["input"]["scale"] > 0
    assert m["streaming"]["step_frames"] == 2 and len(m["streaming"]["states"]) == 6
    assert m["output"]["shape"] == [1, 4] and m["output"]["dtype"] == "int8"
    assert 0 < m["detector"]["threshold"] < 1
    assert len(m["model_sha256"]) == 64
    assert 0 <= m["metrics"]["int8_accuracy"] <= 1 and 0 <= m["metrics"]["float_accuracy"] <= 1


def test_changed_model_is_refused_by_sha256(copy):
    model = copy / "model.tflite"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        read_bundle(copy)


def test_other_format_version_is_refused(copy):
    edit_manifest(copy, lambda m: m.update(format_version=99))
    with pytest.raises(BundleError, match="format_version 99"):
        read_bundle(copy)


def test_labels_that_do_not_match_the_output_are_refused(copy):
    edit_manifest(copy, lambda m: m["labels"].append("extra"))
    with pytest.raises(BundleError, match="output shape"):
        read_bundle(copy)


def test_frontend_that_does_not_match_the_input_is_refused(copy):
    edit_manifest(copy, lambda m: m["frontend"].update(n_mels=32))
    with pytest.raises(BundleError, match="input shape"):
        read_bundle(copy)


def test_manifest_shapes_checked_against_the_model_itself(copy):
    def lie(m):
        m["input"]["shape"] = [1, 4, 40]
        m["streaming"]["step_frames"] = 4
    edit_manifest(copy, lie)
    with pytest.raises(BundleError, match="manifest says"):
        Classifier.from_bundle(copy)


def test_a_file_that_is_not_tflite_is_refused(copy):
    manifest, _ = read_bundle(copy)
    write_bundle(copy, manifest, b"this is not a flatbuffer" * 10)
    with pytest.raises(BundleError, match="not a usable TFLite model"):
        Classifier.from_bundle(copy)


def test_cli_reports_a_bad_bundle_in_one_line(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    proc = run_cli("listen", "--model", str(tmp_path), "--input", "x.wav", check=False)
    assert proc.returncode == 1
    assert "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


def test_failed_write_keeps_the_previous_bundle(copy, monkeypatch):
    manifest, model = read_bundle(copy)
    import edge_kws.bundle as b

    def explode(new, target):
        raise OSError("disk full")
    monkeypatch.setattr(b, "replace_dir", explode)
    with pytest.raises(OSError):
        write_bundle(copy, manifest, model + b"\0")
    assert read_bundle(copy)[1] == model
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]
