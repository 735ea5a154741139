"""Turns a stream of class posteriors into keyword events that fire once per utterance."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class DetectorConfig:
    smoothing_ms: float = 100.0   # posteriors are averaged over this much recent audio
    threshold: float = 0.6        # smoothed score a keyword needs, unless `thresholds` names it
    thresholds: dict[str, float] = field(default_factory=dict)
    min_margin: float = 0.1       # the keyword must beat _silence_ and _unknown_ by this much
    refractory_ms: float = 1000.0  # after an event, no event for this long, and none until the
                                   # keyword's score has fallen below its threshold again

    def __post_init__(self) -> None:
        for name, value in [("threshold", self.threshold), *self.thresholds.items()]:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"detector: threshold for {name!r} is {value}; expected 0..1")
        if self.smoothing_ms < 0 or self.refractory_ms < 0 or not -1.0 <= self.min_margin <= 1.0:
            raise ValueError(f"detector: smoothing_ms and refractory_ms must be >= 0 and min_margin "
                             f"within -1..1: {self}")

    def threshold_for(self, keyword: str) -> float:
        return self.thresholds.get(keyword, self.threshold)

@dataclass
class Detection:
    t: float        # audio time (s) of the end of the window that fired: the end of the word
    keyword: str
    score: float

    def to_dict(self) -> dict:
        return {"t": round(self.t, 3), "keyword": self.keyword, "score": round(self.score, 4)}


class Detector:
    def __init__(self, labels: list[str], config: DetectorConfig, step_ms: float):
        self.labels = labels
        self.config = config
        self.keyword_idx = [i for i, label in enumerate(labels) if not label.startswith("_")]
        self.other_idx = [i for i, label in enumerate(labels) if label.startswith("_")]
        self.thresholds = np.array([config.threshold_for(labels[i]) for i in self.keyword_idx])
        self.window = max(1, int(round(config.smoothing_ms / step_ms)))
        self.reset()

    def reset(self) -> None:
        self.history: deque[np.ndarray] = deque()
        self.total = np.zeros(len(self.labels))  # running sum of `history`, so smoothing costs O(labels)
        self.last_event_t = -np.inf
        self.held: int | None = None  # index (into keyword_idx) of the keyword still above threshold

    def update(self, probs: np.ndarray, t: float) -> Detection | None:
        """Feed one posterior vector at audio time t (s); return an event or None."""
        probs = np.asarray(probs, np.float64)
        self.history.append(probs)
        self.total += probs
        if len(self.history) > self.window:
            self.total -= self.history.popleft()
        smoothed = self.total / len(self.history)
        scores = smoothed[self.keyword_idx]
        # The classifier sees a whole clip, so a word stays in view long after it ends: re-arm only
        # once the keyword that fired has dropped below its threshold.
        if self.held is not None and scores[self.held] < self.thresholds[self.held]:
            self.held = None
        if self.held is not None or (t - self.last_event_t) * 1000 < self.config.refractory_ms:
            return None
        best = int(np.argmax(scores - self.thresholds))
        score = float(scores[best])
        other = float(smoothed[self.other_idx].max()) if self.other_idx else 0.0
        if score < self.thresholds[best] or score - other < self.config.min_margin:
            return None
        self.last_event_t, self.held = t, best
        return Detection(t=t, keyword=self.labels[self.keyword_idx[best]], score=score)
