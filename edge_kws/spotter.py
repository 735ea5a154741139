"""The streaming loop: audio blocks in, keyword detections out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from .bundle import read_bundle
from .detector import Detection, Detector
from .frontend import StreamingFrontend
from .runtime import Classifier


class Spotter:
    """One bundle, listening: feed `process` audio blocks of any size, get detections back.

    A whole-window model runs every `stride_frames` new frames on the last `clip_ms` of features. A
    streaming model runs every `streaming.step_frames` frames (its own stride) on just those frames,
    its state holding the rest. Either way, before audio arrives the past is the features of silence.
    """

    def __init__(self, bundle: str | Path | None = None, detector: dict | None = None,
                 threshold: float | None = None, stride_frames: int = 1, num_threads: int | None = None,
                 xnnpack: bool = True):
        manifest, model = read_bundle(bundle)
        self.manifest, self.model = manifest, model
        self.labels = manifest.labels
        self.classifier = Classifier(manifest, model, num_threads=num_threads, xnnpack=xnnpack)
        self.frontend = StreamingFrontend(manifest.frontend)
        fe = manifest.frontend
        if stride_frames < 1:
            raise ValueError(f"stride: {stride_frames} frames; expected 1 or more")
        self.stride_frames = manifest.streaming.step_frames if manifest.streaming else stride_frames
        detector = replace(manifest.detector, **(detector or {}))  # overrides of the manifest's settings
        if threshold is not None:  # one threshold for all keywords, replacing the per-keyword ones
            detector = replace(detector, threshold=threshold, thresholds={})
        self.detector = Detector(self.labels, detector, step_ms=fe.hop_ms * stride_frames)
        self.reset()

    def reset(self) -> None:
        self.frontend.reset()
        self.detector.reset()
        fe = self.frontend.config
        self.window = np.tile(self.frontend.frontend.silence_frame, (fe.frames_per_clip, 1))
        self.last_probs = np.zeros(len(self.labels), np.float32)
        if self.manifest.streaming:
            self.last_probs = self.classifier.predict(self.window)  # leaves the state holding silence

    def process(self, block: np.ndarray) -> list[Detection]:
        """Mono float32 audio at the bundle's sample rate (16 kHz) -> detections it completed."""
        fe = self.frontend.config
        frames = self.frontend.push(block)
        first = self.frontend.frames_emitted - len(frames)
        events = []
        streaming = self.manifest.streaming is not None
        for k, frame in enumerate(frames, start=first):
            self.window[:-1] = self.window[1:]
            self.window[-1] = frame
            if (k + 1) % self.stride_frames:
                continue
            if streaming:
                self.last_probs = self.classifier.step(self.window[-self.stride_frames:])
            else:
                self.last_probs = self.classifier.predict(self.window)
            t = (k * fe.hop_samples + fe.window_samples) / fe.sample_rate
            event = self.detector.update(self.last_probs, t)
            if event is not None:
                events.append(event)
        return events

    @property
    def time(self) -> float:
        """Seconds of audio that have completed frames so far."""
        fe = self.frontend.config
        return (self.frontend.frames_emitted * fe.hop_samples + fe.window_samples - fe.hop_samples) / fe.sample_rate

    def run(self, blocks: Iterable[np.ndarray]) -> Iterator[Detection]:
        for block in blocks:
            yield from self.process(block)
