"""Audio in: WAV (and other) files read with Pedalboard, and a sounddevice microphone.

Everything leaves here as mono float32 at the frontend's sample rate.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr

log = logging.getLogger(__name__)


class AudioError(Exception):
    """An audio file or device that cannot be used; the message names it and says why."""


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(channels, samples) or (samples,) -> (samples,) by averaging channels."""
    audio = np.asarray(audio, np.float32)
    return audio.mean(axis=0) if audio.ndim == 2 else audio


def resample(audio: np.ndarray, rate_in: float, rate_out: float) -> np.ndarray:
    if rate_in == rate_out:
        return np.asarray(audio, np.float32)
    return soxr.resample(np.asarray(audio, np.float32), rate_in, rate_out, quality="HQ").astype(np.float32)


def stream_resampler(rate_in: float, rate_out: float) -> soxr.ResampleStream:
    """A mono resampler for audio that arrives in blocks (a microphone, a player's output)."""
    return soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality="HQ")


def _check_samples(audio: np.ndarray, path: Path) -> np.ndarray:
    if not np.isfinite(audio).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return audio


def _wav_data_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) bytes of a WAV's data chunk when the file holds less than its header says.

    Decoders quietly pad a truncated WAV with silence (or try to allocate the 4 GB that a streamed
    header declares), so this is checked by walking the RIFF chunks ourselves.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return None
        while True:
            header = f.read(8)
            if len(header) < 8:
                return None
            chunk, length = header[:4], int.from_bytes(header[4:], "little")
            if chunk == b"data":
                present = size - f.tell()
                return (length, present) if length > present else None
            f.seek(length + (length & 1), 1)


def open_audio(path: str | Path):
    """A Pedalboard AudioFile for reading, after the checks that turn bad files into one clear line."""
    from pedalboard.io import AudioFile

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")
    if path.suffix.lower() == ".wav" and (short := _wav_data_shortfall(path)):
        raise AudioError(f"{path}: truncated WAV: its header declares {short[0]} bytes of audio, "
                         f"the file holds {short[1]}")
    try:
        f = AudioFile(str(path))
    except Exception as e:  # Pedalboard raises several types for files it cannot decode.
        raise AudioError(f"{path}: cannot read audio ({e})") from None
    if f.frames == 0:
        f.close()
        raise AudioError(f"{path}: no audio samples")
    if f.num_channels != 1:
        log.info("%s: %d channels, down-mixed to mono", path, f.num_channels)
    return f


def read_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """A whole file as mono float32 at `sample_rate`; raises AudioError naming the file on any problem."""
    path = Path(path)
    with open_audio(path) as f:
        rate = f.samplerate
        try:
            audio = f.read(f.frames)
        except Exception as e:
            raise AudioError(f"{path}: cannot read audio ({e})") from None
    if rate != sample_rate:
        log.info("%s: %g Hz, resampled to %d Hz", path, rate, sample_rate)
    clipped = float(np.mean(np.abs(audio) >= 0.999))
    if clipped > 0.001:
        log.warning("%s: %.1f%% of samples at full scale (clipped recording)", path, 100 * clipped)
    return _check_samples(resample(to_mono(audio), rate, sample_rate), path)


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad at the end, or crop the centre, to exactly n samples."""
    if len(audio) >= n:
        start = (len(audio) - n) // 2
        return audio[start:start + n]
    return np.pad(audio, (0, n - len(audio)))


def file_blocks(path: str | Path, block_samples: int, sample_rate: int = 16000) -> Iterator[np.ndarray]:
    """Stream a file of any length in mono blocks at `sample_rate`, without loading it whole."""
    path = Path(path)
    with open_audio(path) as f:
        if f.samplerate != sample_rate:
            log.info("%s: %g Hz, resampled to %d Hz", path, f.samplerate, sample_rate)
        with f.resampled_to(sample_rate) as r:
            while r.tell() < r.frames:
                try:
                    block = r.read(block_samples)
                except Exception as e:
                    raise AudioError(f"{path}: read failed at {r.tell() / sample_rate:.2f} s ({e})") from None
                if block.shape[-1] == 0:
                    break
                yield _check_samples(to_mono(block), path)


def load_sounddevice():
    try:
        import sounddevice
    except OSError as e:  # The module imports PortAudio at import time.
        raise AudioError(f"PortAudio is not available ({e}); on Debian/Raspberry Pi OS: "
                         "sudo apt-get install libportaudio2") from None
    return sounddevice


def list_input_devices() -> list[dict]:
    sd = load_sounddevice()
    return [dict(index=i, name=d["name"], rate=d["default_samplerate"], channels=d["max_input_channels"])
            for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def find_input_device(device: int | str | None) -> dict:
    """Pick an input device by index, by (part of) its name, or the system default."""
    devices = list_input_devices()
    if not devices:
        raise AudioError("no audio input device found (is a microphone connected?)")
    if device is None:
        default = load_sounddevice().default.device[0]
        return next((d for d in devices if d["index"] == default), devices[0])
    if isinstance(device, int) or str(device).isdigit():
        match = [d for d in devices if d["index"] == int(device)]
    else:
        match = [d for d in devices if str(device).lower() in d["name"].lower()]
    if not match:
        names = ", ".join(f"{d['index']}: {d['name']}" for d in devices)
        raise AudioError(f"input device {device!r} not found; input devices: {names}")
    return match[0]


class BlockQueue:
    """The hand-off from an audio thread to the listening loop: bounded, and never blocks the
    producer (a PortAudio callback must not wait); every block it has to drop is counted."""

    def __init__(self, maxsize: int = 500):
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=maxsize)
        self.dropped = 0

    def put(self, block: np.ndarray) -> None:
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            self.dropped += 1

    def get(self, timeout: float) -> np.ndarray | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


class Microphone:
    """A sounddevice input stream at the device's native rate, resampled to 16 kHz.

    The PortAudio callback only copies into a BlockQueue; resampling happens in the reader's thread.
    Overflows (audio PortAudio lost) and blocks dropped on a full queue are counted and logged.
    """

    def __init__(self, device: int | str | None = None, sample_rate: int = 16000,
                 block_ms: float = 20.0, queue_blocks: int = 500, capture_rate: int = 0):
        self.info = find_input_device(device)
        self.rate_in = capture_rate or int(self.info["rate"])
        self.sample_rate = sample_rate
        self.block_in = int(self.rate_in * block_ms / 1000)
        self.queue = BlockQueue(queue_blocks)
        self.overflows = 0
        self._resampler = stream_resampler(self.rate_in, sample_rate)
        self._stream = None

    @property
    def dropped(self) -> int:
        return self.queue.dropped

    def _callback(self, indata, frames, time, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        self.queue.put(indata[:, 0].copy())

    def __enter__(self) -> Microphone:
        sd = load_sounddevice()
        try:
            self._stream = sd.InputStream(device=self.info["index"], channels=1, samplerate=self.rate_in,
                                          blocksize=self.block_in, dtype="float32", callback=self._callback)
            self._stream.start()
        except Exception as e:
            raise AudioError(f"cannot open input device {self.info['name']!r} at {self.rate_in} Hz ({e})") from None
        log.info("listening on %r at %d Hz", self.info["name"], self.rate_in)
        return self

    def __exit__(self, *exc) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception as e:  # a device that vanished may fail to close; it is gone either way
                log.warning("closing input device %r: %s", self.info["name"], e)
        if self.overflows or self.dropped:
            log.warning("microphone: %d input overflows, %d blocks dropped", self.overflows, self.dropped)

    def blocks(self, timeout: float = 2.0) -> Iterator[np.ndarray]:
        """16 kHz mono blocks, until the stream stops delivering (then AudioError)."""
        seen_overflows = 0
        while True:
            block = self.queue.get(timeout)
            if block is None:
                raise AudioError(f"input device {self.info['name']!r} stopped delivering audio")
            if self.overflows != seen_overflows:
                log.warning("microphone: input overflow (%d so far)", self.overflows)
                seen_overflows = self.overflows
            yield self._resampler.resample_chunk(block)


class FileSource:
    """A file as a listening source, optionally paced at real time (as a microphone would deliver it)."""

    def __init__(self, path: str | Path, sample_rate: int = 16000, block_ms: float = 20.0, realtime: bool = False):
        self.path, self.sample_rate, self.realtime = Path(path), sample_rate, realtime
        self.block = int(sample_rate * block_ms / 1000)

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def blocks(self) -> Iterator[np.ndarray]:
        start, delivered = time.monotonic(), 0
        for block in file_blocks(self.path, self.block, self.sample_rate):
            if self.realtime:
                time.sleep(max(0.0, start + delivered / self.sample_rate - time.monotonic()))
            delivered += len(block)
            yield block
