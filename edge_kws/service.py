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
