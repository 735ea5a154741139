"""The device side: its settings file, actions, and the systemd unit."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_kws import device_config
from edge_kws.actions import Actions
from edge_kws.config import ConfigError
from edge_kws.data import COMMANDS_WAV
from edge_kws.detector import Detection
from edge_kws.service import render_unit

from .conftest import json_lines, run_cli


def test_init_writes_a_commented_file_that_checks_ok(tmp_path):
    path = tmp_path / "edge-kws.toml"
    assert run_cli("config", "--init", str(path)).returncode == 0
    assert path.read_text().startswith("#") and "[actions]" in path.read_text()
    proc = run_cli("config", "--check", str(path))
    assert proc.stdout.strip().endswith(": ok")
    assert device_config.load(path) == device_config.DeviceConfig(actions=device_config.DEFAULT_ACTIONS)
    again = run_cli("config", "--init", str(path), check=False)
    assert again.returncode == 1 and "--force" in again.stderr


@pytest.mark.parametrize("text, named", [
    ("colour = 3\n", "colour: unknown setting"),
    ("log_level = \"LOUD\"\n", "log_level 'LOUD'"),
    ("[audio]\nrate = -5\n", "rate -5"),
    ("[detector]\nthreshhold = 0.5\n", "detector.threshhold"),
    ("[detector]\nthreshold = 2.0\n", "threshold"),
    ("[actions]\nyes = \"dance\"\n", "actions.yes = 'dance'"),
    ("[actions]\nbanana = \"play\"\n", "banana"),
    ("[player]\nvolume = 3\n", "volume"),
    ("[player]\nmusic_dir = \"/no/such/folder\"\n", "music_dir"),
    ("model = \"/no/such/bundle\"\n", "not a bundle"),
])
def test_check_names_the_key_the_value_and_what_is_allowed(tmp_path, text, named):
    path = tmp_path / "edge-kws.toml"
    path.write_text(text)
    proc = run_cli("config", "--check", str(path), check=False)
    assert proc.returncode == 1
    assert named in proc.stderr and "Traceback" not in proc.stderr


def test_missing_named_config_is_an_error_but_no_default_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert device_config.load() == device_config.DeviceConfig()
    with pytest.raises(ConfigError, match="config --init"):
        device_config.load(tmp_path / "other.toml")


def test_listen_uses_the_config_thresholds_and_runs_shell_actions(tmp_path):
    marker = tmp_path / "heard.txt"
    path = tmp_path / "edge-kws.toml"
    path.write_text(f'[actions]\nyes = "run: echo $EDGE_KWS_KEYWORD >> {marker}"\n')
    example = str(COMMANDS_WAV)
    events = json_lines(run_cli("listen", "--input", example, "--config", str(path)).stdout)
    assert "yes" in [e["keyword"] for e in events]
    assert marker.read_text().split() == ["yes"] * [e["keyword"] for e in events].count("yes")
    path.write_text("[detector]\nthreshold = 1.0\n")
    assert json_lines(run_cli("listen", "--input", example, "--config", str(path)).stdout) == []


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda: self.calls.append(name)


def test_player_actions_follow_the_mapping():
    player = Recorder()
    actions = Actions(device_config.DEFAULT_ACTIONS, player)
    for word in ["go", "up", "left", "stop", "house"]:
        actions(Detection(t=0.0, keyword=word, score=0.9))
    assert player.calls == ["play", "volume_up", "previous", "stop"]


def test_unit_runs_listen_as_a_user_in_the_audio_group_and_verifies(tmp_path):
    cfg = tmp_path / "edge-kws.toml"
    cfg.write_text("")
    unit = render_unit(cfg, "pi")
    assert "User=pi" in unit and "SupplementaryGroups=audio" in unit and "Restart=on-failure" in unit
    assert f"listen --mic --config {cfg}" in unit and sys.executable in unit
    if shutil.which("systemd-analyze"):
        path = tmp_path / "edge-kws.service"
        path.write_text(unit)
        proc = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0 and "edge-kws.service" not in proc.stderr, proc.stderr


def test_unit_refuses_root(tmp_path):
    with pytest.raises(ValueError, match="must not run as root"):
        render_unit(tmp_path / "x.toml", "root")


def test_listen_refuses_at_start_a_config_whose_actions_name_no_keyword(tmp_path):
    path = tmp_path / "edge-kws.toml"
    path.write_text('[actions]\nbanana = "play"\n')
    proc = run_cli("listen", "--input", str(COMMANDS_WAV), "--config", str(path), check=False)
    assert proc.returncode == 1 and "banana" in proc.stderr and proc.stdout == ""


def test_rpi_bundle_installs_without_tensorflow_and_listens_and_benches(trained_run, tmp_path):
    """The Pi path: the bundle from `export --target rpi`, the base package alone in a fresh virtual
    environment (as INSTALL.md says), and listen, bench and config --check run from the bundle."""
    bundle = tmp_path / "bundle"
    run_cli("export", "--run", str(trained_run), "--out", str(bundle), "--target", "rpi")
    unit = (bundle / "edge-kws.service").read_text()
    assert "User=pi" in unit and "/home/pi/edge-kws/venv/bin/python -m edge_kws.cli listen --mic --config " \
        "/home/pi/edge-kws/bundle/edge-kws.toml" in unit
    assert "uv venv --python 3.11" in (bundle / "INSTALL.md").read_text()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    root = Path(__file__).resolve().parent.parent
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(root)], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=900)
    assert pip.returncode == 0, pip.stderr[-2000:]
    listed = subprocess.run([str(venv / "bin" / "pip"), "list"], capture_output=True, text=True).stdout.lower()
    assert "tensorflow" not in listed and "keras" not in listed
    cli = str(venv / "bin" / "edge-kws")

    def run(*args):
        proc = subprocess.run([cli, *args], capture_output=True, text=True, cwd=bundle, stdin=subprocess.DEVNULL,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    assert run("config", "--check", "edge-kws.toml").strip().endswith("ok")
    run("listen", "--config", "edge-kws.toml", "--input", str(COMMANDS_WAV))
    assert json.loads(run("bench", "--model", ".", "--invokes", "200", "--audio-seconds", "5"))["cpu_per_audio_s"] > 0
