"""A systemd unit that keeps `edge-kws listen --mic` running on the device."""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from pathlib import Path

UNIT_PATH = Path("/etc/systemd/system/edge-kws.service")


def default_user() -> str:
    """The user who ran sudo, else the current one."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


def render_unit(config: str | Path, user: str, python: str = sys.executable) -> str:
    if user == "root":
        raise ValueError("install-service: the service must not run as root; give --user NAME "
                         "(a user in the 'audio' group)")
    config = Path(config).resolve()
    command = shlex.join([python, "-m", "edge_kws.cli", "listen", "--mic", "--config", str(config)])
    return f"""[Unit]
Description=edge-kws keyword spotter (voice control)
After=sound.target
Wants=sound.target

[Service]
Type=simple
User={user}
SupplementaryGroups=audio
WorkingDirectory={config.parent}
ExecStart={command}
Environment=PYTHONUNBUFFERED=1
# SIGTERM makes edge-kws close the microphone, flush its last events and exit 0.
KillSignal=SIGTERM
TimeoutStopSec=15
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
"""


PI_HOME = Path("/home/pi/edge-kws")


def pi_files(keywords: list[str]) -> dict[str, bytes]:
    """What `export --target rpi` adds to a bundle: a settings file that uses the bundle it sits in,
    a unit for the layout INSTALL.md describes, and INSTALL.md."""
    from .device_config import template

    settings = template(keywords).replace('model = ""', 'model = "."', 1)  # the unit runs in the bundle's folder
    unit = render_unit(PI_HOME / "bundle" / "edge-kws.toml", "pi", str(PI_HOME / "venv" / "bin" / "python"))
    install = f"""# Installing this bundle on a Raspberry Pi

64-bit Raspberry Pi OS (aarch64). The runtime needs Python 3.11 or 3.12 (ai-edge-litert has no wheel for
3.13, Pi OS Trixie's default, nor for 32-bit Pi OS); uv provides one:

    sudo apt-get install -y libportaudio2 pipx && pipx install uv
    mkdir -p {PI_HOME} && cp -r <this folder> {PI_HOME}/bundle
    uv venv --python 3.11 {PI_HOME}/venv && . {PI_HOME}/venv/bin/activate
    uv pip install <edge-kws checkout or wheel>     # the runtime only: no TensorFlow

Check it, then run it at boot:

    cd {PI_HOME}/bundle && edge-kws config --check edge-kws.toml
    edge-kws listen --model . --input <some.wav>   # or --mic; edge-kws bench --model . for its cost
    sudo cp edge-kws.service /etc/systemd/system/ && sudo systemctl daemon-reload
    sudo systemctl enable --now edge-kws && journalctl -u edge-kws -f

For another user or folder, `edge-kws install-service --config <path>/edge-kws.toml --user <name>`
writes the unit for that layout instead. Edit edge-kws.toml for the microphone, thresholds, actions
and music (`edge-kws listen --list-devices` names the inputs).
"""
    return {"edge-kws.toml": settings.encode(), "edge-kws.service": unit.encode(), "INSTALL.md": install.encode()}
