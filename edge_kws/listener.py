"""The device's main loop: an audio source into a Spotter, detections out, device faults survived."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from .audio import AudioError
from .detector import Detection
from .spotter import Spotter

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    first_s: float = 1.0
    max_s: float = 30.0


class Listener:
    """Runs `spotter` over the blocks of the source that `open_source()` opens.

    With `retry`, a source that fails to open or stops delivering (a USB microphone unplugged, a
    PortAudio error) is reported and reopened after a growing pause, so the device keeps listening.
    `stop()` (from a signal handler, say) ends `run` after the current block.
    """

    def __init__(self, spotter: Spotter, open_source: Callable[[], AbstractContextManager],
                 retry: bool = False, backoff: Backoff | None = None):
        self.spotter = spotter
        self.open_source = open_source
        self.retry = retry
        self.backoff = backoff or Backoff()
        self.faults = 0
        self.detections = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self, on_detect: Callable[[Detection], None], on_block: Callable[[], None] | None = None) -> None:
        """Until the source ends or `stop()`; `on_block` is called after every block (e.g. to duck music)."""
        delay = self.backoff.first_s
        while not self._stop.is_set():
            try:
                with self.open_source() as source:
                    for block in source.blocks():
                        delay = self.backoff.first_s
                        for event in self.spotter.process(block):
                            self.detections += 1
                            on_detect(event)
                        if on_block is not None:
                            on_block()
                        if self._stop.is_set():
                            return
                return  # the source ended: a file was read to its end
            except AudioError as e:
                if not self.retry:
                    raise
                self.faults += 1
                log.warning("%s; retrying in %.1f s (fault %d)", e, delay, self.faults)
                self._stop.wait(delay)
                delay = min(2 * delay, self.backoff.max_s)
