"""A training run killed mid-way keeps its best model and resumes from its last epoch."""

import json
import os
import signal
import subprocess
import sys
import time

import keras

from .conftest import KEYWORDS, run_cli


def test_killed_run_resumes_from_its_checkpoint(spoken_data, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--data", str(spoken_data), "--keywords", ",".join(KEYWORDS), "--out", str(out),
            "--batch-size", "32", "--seed", "3"]
    proc = subprocess.Popen([sys.executable, "-m", "edge_kws.cli", *args, "--epochs", "40"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    state = out / "checkpoint" / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (state.is_file() and json.loads(state.read_text())["epoch"] >= 2):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = json.loads(state.read_text())["epoch"]
    assert 2 <= done < 40
    keras.models.load_model(out / "model.keras")  # the best model so far is whole

    finished = run_cli(*args, "--epochs", str(done + 2))
    assert f"resuming {out} after epoch {done}" in finished.stderr
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == done + 2
    assert not (out / "checkpoint").exists()
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == done + 2


def test_unfinished_run_with_other_settings_is_not_overwritten(spoken_data, tmp_path):
    out = tmp_path / "run"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "state.json").write_text(json.dumps({"config": {"seed": 99}, "epoch": 3}))
    proc = run_cli("train", "--data", str(spoken_data), "--keywords", "yes", "--out", str(out), check=False)
    assert proc.returncode == 1 and "unfinished run with other settings" in proc.stderr
    assert (out / "checkpoint" / "state.json").is_file()
