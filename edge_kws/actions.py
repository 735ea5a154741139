"""What a detection does: a player control, or a shell command, per keyword."""

from __future__ import annotations

import logging
import os
import subprocess

from .detector import Detection
from .device_config import RUN_PREFIX

log = logging.getLogger(__name__)


class Actions:
    """Calls `player.<action>()` or starts `run: <command>` for each detection of a mapped keyword.

    Commands run in the background through the shell, so a slow command never stalls listening;
    finished ones are reaped on the next detection.
    """

    def __init__(self, mapping: dict[str, str], player=None):
        self.mapping = mapping
        self.player = player
        self._running: list[subprocess.Popen] = []

    def __call__(self, event: Detection) -> None:
        action = self.mapping.get(event.keyword)
        if action is None:
            return
        self._running = [p for p in self._running if p.poll() is None]
        if action.startswith(RUN_PREFIX):
            env = {**os.environ, "EDGE_KWS_KEYWORD": event.keyword, "EDGE_KWS_SCORE": f"{event.score:.4f}"}
            self._running.append(subprocess.Popen(action[len(RUN_PREFIX):].strip(), shell=True, env=env,
                                                  stdin=subprocess.DEVNULL))
            log.info("%s: started %r", event.keyword, action)
        elif self.player is not None:
            getattr(self.player, action)()
            log.info("%s: %s", event.keyword, action)

    def wait(self, timeout: float = 5.0) -> None:
        """Let running commands finish (used on shutdown, so their effects are not lost)."""
        for p in self._running:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("command still running at shutdown: %s", p.args)


class Ducker:
    """Lowers the music while a command seems to be starting, so the microphone hears the speaker
    over the speaker: any keyword's posterior above `threshold` ducks, `release_ms` of quiet restores."""

    def __init__(self, player, labels: list[str], threshold: float = 0.3, release_ms: float = 1500.0):
        self.player = player
        self.keyword_idx = [i for i, label in enumerate(labels) if not label.startswith("_")]
        self.threshold, self.release_s = threshold, release_ms / 1000
        self.ducked, self.last_active = False, -float("inf")

    def update(self, t: float, probs) -> None:
        if max(probs[i] for i in self.keyword_idx) > self.threshold:
            self.last_active = t
            if not self.ducked:
                self.player.duck(True)
                self.ducked = True
        elif self.ducked and t - self.last_active > self.release_s:
            self.player.duck(False)
            self.ducked = False
