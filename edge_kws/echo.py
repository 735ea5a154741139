"""Acoustic echo cancellation: subtract the music we are playing from what the microphone hears.

The speaker and the microphone share a room, so the microphone picks up the playback after it has
bounced around (the echo path). We know the playback exactly (the reference), so an adaptive filter
can learn the echo path and subtract its estimate; what is left is the room's own sound, speech
included, for the keyword spotter. `room_impulse_response` makes synthetic echo paths to test it with.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from .audio import BlockQueue, stream_resampler

log = logging.getLogger(__name__)

# Reverberant (tail) energy relative to the direct sound: 0 dB is a speaker about a metre from the
# microphone in a living room, near the critical distance where both are about as loud.
_DIRECT_TO_REVERBERANT_DB = 0.0
_EARLY_REFLECTIONS = 8
_EARLY_WINDOW_MS = 50.0
# A diffuse tail needs a few milliseconds of reflections to build up; it does not start at full level.
_TAIL_ONSET_MS = 5.0

_BIN_SMOOTHING = np.array([0.25, 0.5, 0.25], np.float32)


def room_impulse_response(sample_rate: int, rt60_s: float, delay_ms: float, rng: np.random.Generator,
                          direct_gain: float = 1.0) -> np.ndarray:
    """A synthetic speaker-to-microphone impulse response: the direct sound after `delay_ms`, sparse
    early reflections in the following ~50 ms, then an exponentially decaying noise tail that falls
    60 dB in `rt60_s` (the response ends there), scaled so its peak is `direct_gain`. Float32."""
    if sample_rate <= 0 or rt60_s <= 0 or delay_ms < 0:
        raise ValueError(f"room_impulse_response: need sample_rate > 0, rt60_s > 0, delay_ms >= 0, got "
                         f"{sample_rate}, {rt60_s}, {delay_ms}")
    direct = int(round(delay_ms * sample_rate / 1000))
    t = np.arange(int(round(rt60_s * sample_rate))) / sample_rate
    # Amplitude falls by 1000 (60 dB of energy) over rt60_s.
    envelope = np.exp(-math.log(1000.0) * t / rt60_s)
    h = np.zeros(direct + len(t))
    h[direct] = 1.0

    # Reflections arrive later than the direct sound and are weaker, with either polarity.
    early = rng.uniform(1.0, _EARLY_WINDOW_MS, _EARLY_REFLECTIONS) * sample_rate / 1000
    early_idx = np.minimum(early.astype(int), len(t) - 1)
    h[direct + early_idx] += (rng.uniform(0.15, 0.5, _EARLY_REFLECTIONS) * envelope[early_idx]
                              * rng.choice([-1.0, 1.0], _EARLY_REFLECTIONS))

    tail = rng.standard_normal(len(t)) * envelope * (1.0 - np.exp(-t * 1000 / _TAIL_ONSET_MS))
    tail *= math.sqrt(10 ** (-_DIRECT_TO_REVERBERANT_DB / 10) / np.sum(tail ** 2))
    h[direct:] += tail
    return (direct_gain * h / np.abs(h).max()).astype(np.float32)


class EchoCanceller:
    """Partitioned-block frequency-domain NLMS (PBFDAF, the "multidelay filter" of Speex's canceller)
    with two echo-path models for double-talk robustness. Mono float audio in [-1, 1].

    `process(mic, reference)` takes blocks of any length; the reference is what was sent to the
    speaker at the same time as the mic samples were captured (it may lead the echo, never lag it:
    any delay between the two, converter buffers included, uses up part of `filter_ms`, which is
    rounded up to whole blocks). Samples are buffered into internal blocks of `block`, so the output
    is the input delayed by exactly `latency` (= `block`) samples whatever the call sizes: the first
    `latency` output samples are zeros.

    Double talk: a background filter adapts all the time at step `mu`; the foreground filter, whose
    error is the output, only takes the background's coefficients when the background's error has been
    clearly lower over the last ~100 ms (the two-path method of Ochiai et al., 1977, also in Speex).
    Near-end speech is in both errors alike, so it cannot make a diverging background look better;
    when speech has pushed the background well off, it is reset from the foreground.
    """

    def __init__(self, block: int = 160, filter_ms: float = 256.0, sample_rate: int = 16000, mu: float = 0.5,
                 reference_floor_db: float = -60.0, copy_ratio: float = 0.8, reset_ratio: float = 4.0):
        # Music stayed stable up to mu of about 1.2 in testing; 1 leaves a margin.
        if block < 1 or filter_ms <= 0 or sample_rate <= 0 or not 0 < mu <= 1:
            raise ValueError(f"echo: need block >= 1, filter_ms > 0, sample_rate > 0, 0 < mu <= 1, got "
                             f"block={block}, filter_ms={filter_ms}, sample_rate={sample_rate}, mu={mu}")
        if not 0 < copy_ratio <= 1 <= reset_ratio:
            raise ValueError(f"echo: need 0 < copy_ratio <= 1 <= reset_ratio, got {copy_ratio}, {reset_ratio}")
        self.block = block
        self.mu = mu
        self.partitions = math.ceil(filter_ms * sample_rate / 1000 / block)
        self.latency = block
        self.copy_ratio = copy_ratio
        self.reset_ratio = reset_ratio
        # The normaliser is the reference energy under the filter, block * partitions * power for white
        # noise, as in time-domain NLMS; a floor on it keeps a silent reference from dividing by ~0.
        self._regularisation = block * self.partitions * 10 ** (reference_floor_db / 10)
        # The two paths are compared on error energies over ~100 ms: long enough that chance rarely
        # crosses the copy margin, short enough for the foreground to follow the background closely.
        self._smoothing = math.exp(-block / (0.1 * sample_rate))
        self.reset()

    def reset(self) -> None:
        """Forget the echo path and all buffered audio, as if newly made."""
        bins = self.block + 1
        self._ref_spectra = np.zeros((self.partitions, bins), np.complex64)  # newest first
        self._ref_previous = np.zeros(self.block, np.float32)
        self._weights = np.zeros((2, self.partitions, bins), np.complex64)  # [foreground, background]
        self._error_energy = np.zeros(2)
        self._pending_mic = np.zeros(0, np.float32)
        self._pending_ref = np.zeros(0, np.float32)
        self._output = np.zeros(self.latency, np.float32)

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Echo-cancelled microphone, the same length as `mic`, `latency` samples behind it."""
        mic, reference = np.asarray(mic), np.asarray(reference)
        out_dtype = mic.dtype if mic.dtype.kind == "f" else np.dtype(np.float32)
        if mic.shape != reference.shape or mic.ndim != 1:
            raise ValueError(f"echo: mic and reference must be 1-D blocks of the same length, got {mic.shape} "
                             f"and {reference.shape}")
        # Float32 throughout: plenty for a canceller that reaches tens of dB, and half the memory
        # traffic of float64 on a Raspberry Pi.
        self._pending_mic = np.concatenate([self._pending_mic, mic.astype(np.float32, copy=False)])
        self._pending_ref = np.concatenate([self._pending_ref, reference.astype(np.float32, copy=False)])
        n_blocks = len(self._pending_mic) // self.block
        done = [self._cancel(self._pending_mic[i * self.block:(i + 1) * self.block],
                             self._pending_ref[i * self.block:(i + 1) * self.block]) for i in range(n_blocks)]
        consumed = n_blocks * self.block
        self._pending_mic = self._pending_mic[consumed:]
        self._pending_ref = self._pending_ref[consumed:]
        self._output = np.concatenate([self._output, *done])
        out, self._output = self._output[:len(mic)], self._output[len(mic):]
        return out.astype(out_dtype)

    def _cancel(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        n = self.block
        # Overlap-save: each spectrum covers the previous block and this one, so the product with a
        # partition's weights is a linear (not circular) convolution in its second half.
        self._ref_spectra[1:] = self._ref_spectra[:-1]
        self._ref_spectra[0] = np.fft.rfft(np.concatenate([self._ref_previous, reference]))
        self._ref_previous = reference
        echo = np.fft.irfft(np.sum(self._weights * self._ref_spectra, axis=1), axis=-1)[:, n:]
        errors = mic - echo

        # NLMS normalised per bin by the reference energy the whole filter sees, so that the coloured,
        # note-by-note spectrum of music converges about as fast in every bin as white noise would.
        # Each spectrum spans two blocks, hence the half.
        ref_power = 0.5 * np.sum(self._ref_spectra.real ** 2 + self._ref_spectra.imag ** 2, axis=0)
        # A tone between bins spreads over its neighbours, and the constraint below couples them: a bin
        # normalised by its own power alone would take a full step on a neighbour's tone and overshoot
        # (music diverges at mu = 0.5 without this; white noise, with a flat spectrum, is unchanged).
        ref_power = np.convolve(np.pad(ref_power, 1, mode="reflect"), _BIN_SMOOTHING, mode="valid")
        error_spectrum = np.fft.rfft(np.concatenate([np.zeros(n, np.float32), errors[1]]))
        step = self.mu * error_spectrum / (ref_power + self._regularisation)
        gradient = np.fft.irfft(self._ref_spectra.conj() * step, axis=-1)
        # Keep each partition's update to `block` taps: the rest would wrap around the circular
        # correlation and bias the converged filter.
        gradient[:, n:] = 0.0
        self._weights[1] += np.fft.rfft(gradient, axis=-1)

        self._update_paths(np.sum(errors ** 2, axis=-1))
        return errors[0]

    def _update_paths(self, block_error_energy: np.ndarray) -> None:
        a = self._smoothing
        self._error_energy = a * self._error_energy + (1 - a) * block_error_energy
        foreground, background = self._error_energy
        # The margin keeps a background that is only better by chance, over a window where the
        # near-end talker happens to cover its misadjustment, from replacing a good foreground.
        if background < self.copy_ratio * foreground:
            self._weights[0] = self._weights[1]
            self._error_energy[0] = background
        elif background > self.reset_ratio * foreground:
            log.debug("echo: background filter diverged (double talk?); reset from the foreground")
            self._weights[1] = self._weights[0]
            self._error_energy[1] = foreground


class PlaybackReference:
    """What the speaker played, as the canceller needs it: 16 kHz mono, handed over sample for sample
    in step with the microphone. Blocks arrive from the output callback through a BlockQueue; the
    capture and playback latencies then put each echo after its reference, within the filter's span."""

    def __init__(self, playback_rate: int, sample_rate: int = 16000, queue_blocks: int = 500):
        self.queue = BlockQueue(queue_blocks)
        self._resampler = stream_resampler(playback_rate, sample_rate)
        self._fifo = np.zeros(0, np.float32)

    def take(self, n: int) -> np.ndarray:
        """The next n reference samples; silence where the player has not delivered any."""
        while len(self._fifo) < n and (block := self.queue.get(timeout=0)) is not None:
            mono = block.mean(axis=0) if block.ndim == 2 else block
            self._fifo = np.concatenate([self._fifo, self._resampler.resample_chunk(mono.astype(np.float32))])
        out = np.zeros(n, np.float32)
        got = min(n, len(self._fifo))
        out[:got] = self._fifo[:got]
        self._fifo = self._fifo[got:]
        return out


class EchoCancelledSource:
    """Wraps a listening source (a Microphone) so its blocks arrive with the playback subtracted."""

    def __init__(self, source, reference: PlaybackReference, canceller: EchoCanceller | None = None):
        self.source, self.reference = source, reference
        self.canceller = canceller or EchoCanceller()

    def __enter__(self) -> EchoCancelledSource:
        self.source.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.source.__exit__(*exc)

    def blocks(self):
        for block in self.source.blocks():
            yield self.canceller.process(block, self.reference.take(len(block)))
