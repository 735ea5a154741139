"""The music player: a playlist, a live lo-fi chain, and click-free controls.

`Player.render(n)` is the whole player as a function of time: it returns the next n frames of output
and can be driven headless (tests, offline bounces). `Player.open_output()` is a thin sounddevice
stream whose callback calls it. Controls may come from any thread; each gain change, pause, stop and
track change fades over `fade_ms`, so nothing clicks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pedalboard import Bitcrush, Chorus, Compressor, LowpassFilter, Pedalboard, Resample, Reverb

from .audio import AudioError, load_sounddevice
from .lofi import Track, TrackSpec, compose, render

log = logging.getLogger(__name__)

MUSIC_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
PLAYING, PAUSED, STOPPED = "playing", "paused", "stopped"


class LofiChain:
    """Pedalboard effects whose settings all follow one `amount`: 0 is clean, 1 is a worn cassette.

    Sample-rate reduction and bit crushing, then crackle, a dull low-pass, tape wow and flutter, a
    compressor and a small room. `process` keeps every plugin's state between calls, so blocks join
    without seams; a new `amount` glides over `glide_ms` instead of jumping.
    """

    def __init__(self, sample_rate: int, amount: float = 0.5, seed: int = 0, glide_ms: float = 30.0):
        self.sample_rate = sample_rate
        self.glide_samples = max(1, int(glide_ms * sample_rate / 1000))
        self._seed = seed
        self._decimate = Resample(sample_rate, quality=Resample.Quality.ZeroOrderHold)  # aliasing is the point
        self._crush = Bitcrush(16)
        # Two first-order stages, 12 dB/octave: the dull top of a worn tape, and they smooth the stairs
        # the sample-and-hold leaves.
        self._lowpass = [LowpassFilter(20000), LowpassFilter(20000)]
        self._wow = Chorus(rate_hz=0.5, depth=0.0, centre_delay_ms=10.0, feedback=0.0, mix=1.0)
        self._flutter = Chorus(rate_hz=6.0, depth=0.0, centre_delay_ms=2.0, feedback=0.0, mix=1.0)
        self._compressor = Compressor(threshold_db=0.0, ratio=1.0, attack_ms=10.0, release_ms=200.0)
        self._reverb = Reverb(room_size=0.5, damping=0.7, wet_level=0.0, dry_level=0.5, width=0.8)  # dry 0.5 is unity
        self._before_crackle = Pedalboard([self._decimate, self._crush])
        self._after_crackle = Pedalboard([*self._lowpass, self._wow, self._flutter, self._compressor, self._reverb])
        self._target = self._amount = float(np.clip(amount, 0.0, 1.0))
        self.reset()

    @property
    def amount(self) -> float:
        return self._target

    @amount.setter
    def amount(self, value: float) -> None:
        self._target = float(np.clip(value, 0.0, 1.0))

    def reset(self) -> None:
        """Forget the tails of earlier audio (reverb, delay lines) and restart the crackle."""
        self._before_crackle.reset()
        self._after_crackle.reset()
        self._amount = self._target
        self._apply(self._amount)
        # Separate streams for when clicks come, how big they are and the hiss: each draws the same
        # sequence however the audio is cut into blocks.
        self._when, self._size, self._hiss = (np.random.default_rng(s)
                                              for s in np.random.SeedSequence(self._seed).spawn(3))
        self._crackle_tail = np.zeros(len(CRACKLE_KERNEL) - 1)

    def _apply(self, a: float) -> None:
        # Rates and cutoffs sweep evenly in pitch (geometrically), from untouched at 0.
        rate = self.sample_rate
        self._decimate.target_sample_rate = rate * (min(11025, rate) / rate) ** a
        self._crush.bit_depth = 16 - 6 * a
        top = min(20000.0, 0.475 * rate)
        for stage in self._lowpass:
            stage.cutoff_frequency_hz = top * (2200 / top) ** a
        self._wow.depth = 0.08 * a  # about 0.25 % pitch drift at 1
        self._flutter.depth = 0.004 * a
        self._compressor.threshold_db = -18 * a
        self._compressor.ratio = 1 + 3 * a
        self._reverb.wet_level = 0.2 * a

    def process(self, audio: np.ndarray) -> np.ndarray:
        """(channels, n) float32 -> (channels, n) float32, continuing from the previous call."""
        n = audio.shape[1]
        if self._amount != self._target:
            step = n / self.glide_samples
            self._amount += float(np.clip(self._target - self._amount, -step, step))
            self._apply(self._amount)
        out = self._before_crackle.process(audio, self.sample_rate, reset=False)
        out = _keep_length(out, n) + self._crackle(n) * self._amount
        out = self._after_crackle.process(out.astype(np.float32), self.sample_rate, reset=False)
        return _keep_length(out, n)

    def _crackle(self, n: int) -> np.ndarray:
        """Needle noise: a faint hiss and sparse clicks of random size, the same on both channels."""
        impulses = np.where(self._when.random(n) < CRACKLE_PER_S / self.sample_rate,
                            self._size.laplace(0.0, 0.04, n), 0.0)
        # Convolve with the click shape; the part past this block rings on into the next.
        clicks = np.convolve(impulses, CRACKLE_KERNEL)
        clicks[: len(self._crackle_tail)] += self._crackle_tail
        self._crackle_tail = clicks[n:].copy()
        return (clicks[:n] + 0.002 * self._hiss.standard_normal(n)).astype(np.float32)


CRACKLE_PER_S = 6.0
CRACKLE_KERNEL = np.exp(-np.arange(64) / 8.0) * np.cos(np.arange(64) * 1.3)  # a ~1 ms ringing tick


def _keep_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Pad the front with silence where a plugin handed back fewer samples while it primed its latency."""
    return audio if audio.shape[1] == n else np.pad(audio, ((0, 0), (n - audio.shape[1], 0)))


def fit_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """(c, n) -> (channels, n): mono is copied to every channel, extra channels are dropped or mixed."""
    audio = np.asarray(audio, np.float32)
    if audio.shape[0] == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    if audio.shape[0] == 1:
        return np.repeat(audio, channels, axis=0)
    return audio[:channels]  # front left and right come first in every common layout


@dataclass
class PlayerConfig:
    music_dir: str = ""  # wav/flac/mp3/ogg files, in name order; empty or none there: generated lo-fi
    sample_rate: int = 44100
    channels: int = 2
    block_size: int = 512  # frames per output callback: 11.6 ms at 44.1 kHz
    volume: float = 0.7  # linear gain, 0-1
    volume_step: float = 0.1
    lofi_amount: float = 0.5
    duck_db: float = -18.0  # how far `duck(True)` lowers the music while a command is heard
    fade_ms: float = 30.0
    repeat: bool = True  # after the last track, start again from the first
    generated_tracks: int = 4  # lo-fi tracks, seeds seed .. seed+n-1, when there is no music
    generated_bars: int = 16
    seed: int = 0

    def __post_init__(self):
        checks = [("sample_rate", self.sample_rate >= 8000, "8000 Hz or more"),
                  ("channels", self.channels in (1, 2), "1 or 2"),
                  ("block_size", self.block_size >= 1, "1 or more"),
                  ("volume", 0 <= self.volume <= 1, "0 to 1"),
                  ("volume_step", 0 < self.volume_step <= 1, "above 0, up to 1"),
                  ("lofi_amount", 0 <= self.lofi_amount <= 1, "0 to 1"),
                  ("duck_db", self.duck_db <= 0, "0 dB or below"),
                  ("fade_ms", self.fade_ms > 0, "above 0"),
                  ("generated_tracks", self.generated_tracks >= 1, "1 or more"),
                  ("generated_bars", self.generated_bars >= 1, "1 or more")]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name}: {getattr(self, name)!r}; expected {expected}")


@dataclass(frozen=True)
class PlayerState:
    status: str  # playing, paused or stopped
    index: int
    track: str
    volume: float
    ducked: bool
    lofi: float
    position_s: float
    underflows: int


class _Ramp:
    """A gain that reaches each new target in a straight line over a fixed number of samples."""

    def __init__(self, value: float, samples: int):
        self.value = self.target = float(value)
        self.samples = samples
        self._step = 0.0

    def set(self, target: float) -> None:
        if target != self.target:
            self.target = float(target)
            self._step = (self.target - self.value) / self.samples

    @property
    def resting_at_zero(self) -> bool:
        return self.value == 0.0 and self.target == 0.0

    def advance(self, n: int) -> np.ndarray:
        if self.value == self.target:
            return np.full(n, self.value, np.float32)
        ramp = self.value + self._step * np.arange(1, n + 1)
        ramp = np.minimum(ramp, self.target) if self._step > 0 else np.maximum(ramp, self.target)
        self.value = float(ramp[-1])
        return ramp.astype(np.float32)


class _ArrayReader:
    def __init__(self, audio: np.ndarray):
        self.audio, self.position = audio, 0

    def read(self, n: int) -> np.ndarray:
        block = self.audio[:, self.position:self.position + n]
        self.position += block.shape[1]
        return block

    def close(self) -> None:
        self.audio = np.zeros((self.audio.shape[0], 0), np.float32)  # let the rendered track go


class _FileReader:
    """Streams a file, decoded and resampled a block at a time, so a long track never sits in memory."""

    def __init__(self, path: Path, sample_rate: int, channels: int):
        from pedalboard.io import AudioFile

        self.channels = channels
        self._file = AudioFile(str(path))
        self._stream = self._file.resampled_to(sample_rate)

    def read(self, n: int) -> np.ndarray:
        return fit_channels(self._stream.read(n), self.channels)

    def close(self) -> None:
        self._stream.close()
        self._file.close()


def _playable(path: Path) -> bool:
    """Whether Pedalboard can open the file and finds audio in it; if not, the log says why."""
    from pedalboard.io import AudioFile

    try:
        with AudioFile(str(path)) as f:
            problem = None if f.frames > 0 else "no audio samples"
    except Exception as e:  # Pedalboard raises several types for unreadable or truncated files.
        problem = str(e) or type(e).__name__
    if problem is not None:
        log.warning("%s: cannot read audio (%s); skipped", path, problem)
    return problem is None


def scan_music(folder: str | Path) -> list[Path]:
    """The playable files under `folder`, in path order; unreadable ones are logged by name and skipped."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in MUSIC_EXTENSIONS)
    return [p for p in paths if _playable(p)]


class Player:
    """A playlist played block by block through a `LofiChain`, with volume, ducking and transport fades.

    `tracks` may list files and `TrackSpec`s; without it, the playable files in `config.music_dir` are
    the playlist, or generated lo-fi tracks when that folder is absent or has none.
    """

    def __init__(self, config: PlayerConfig | None = None, tracks: Sequence[str | Path | TrackSpec] | None = None):
        self.config = config = config or PlayerConfig()
        self.tracks: list[Path | Track] = self._playlist(tracks)
        fade = max(1, int(config.fade_ms * config.sample_rate / 1000))
        self._chain = LofiChain(config.sample_rate, config.lofi_amount, seed=config.seed, glide_ms=config.fade_ms)
        self._lock = threading.RLock()  # volume_up holds it around set_volume, so the step is atomic
        self._status = STOPPED
        self._index = 0
        self._pending: int | None = None  # the track to switch to once the fade-out ends
        self._reader: _ArrayReader | _FileReader | None = None
        self._position = 0
        self._failures = 0  # tracks in a row that could not be read
        self._volume = config.volume
        self._ducked = False
        self._transport = _Ramp(0.0, fade)  # play/pause/stop and track changes
        self._level = _Ramp(self._volume, fade)  # volume and ducking
        self.underflows = 0

    def _playlist(self, tracks: Sequence[str | Path | TrackSpec] | None) -> list[Path | Track]:
        config = self.config
        if tracks is not None:
            items = [compose(t) if isinstance(t, TrackSpec) else Path(t) for t in tracks]
            readable = [t for t in items if isinstance(t, Track) or _playable(t)]
            if not readable:
                raise AudioError("none of the given tracks can be played")
            return readable
        if config.music_dir and Path(config.music_dir).is_dir():
            files = scan_music(config.music_dir)
            if files:
                log.info("%d tracks in %s", len(files), config.music_dir)
                return list(files)
            log.info("%s: no playable music; playing generated lo-fi", config.music_dir)
        elif config.music_dir:
            log.info("%s: no such folder; playing generated lo-fi", config.music_dir)
        return [compose(TrackSpec(seed=config.seed + k, bars=config.generated_bars, sample_rate=config.sample_rate))
                for k in range(config.generated_tracks)]

    # --- controls -------------------------------------------------------------------------------------

    def play(self) -> None:
        with self._lock:
            if self._status == STOPPED and self._transport.resting_at_zero:
                self._chain.reset()  # no tail of whatever played before the stop
            self._status = PLAYING
            self._update()

    def pause(self) -> None:
        with self._lock:
            if self._status == PLAYING:
                self._status = PAUSED
                self._update()

    def stop(self) -> None:
        """Fade out, then rewind: the next play() starts the track from the top."""
        with self._lock:
            self._status = STOPPED
            self._update()

    def next(self) -> None:
        self._skip(+1)

    def previous(self) -> None:
        self._skip(-1)

    def set_volume(self, volume: float) -> None:
        with self._lock:
            self._volume = float(np.clip(volume, 0.0, 1.0))
            self._update()

    def volume_up(self) -> None:
        with self._lock:
            self.set_volume(self._volume + self.config.volume_step)

    def volume_down(self) -> None:
        with self._lock:
            self.set_volume(self._volume - self.config.volume_step)

    def set_lofi(self, amount: float) -> None:
        with self._lock:
            self._chain.amount = amount

    def duck(self, on: bool = True, db: float | None = None) -> None:
        """Lower the music by `db` (default `config.duck_db`) while on, e.g. while a command is heard."""
        with self._lock:
            if db is not None:
                if db > 0:
                    raise ValueError(f"duck: {db} dB; expected 0 dB or below")
                self.config.duck_db = float(db)
            self._ducked = bool(on)
            self._update()

    @property
    def state(self) -> PlayerState:
        with self._lock:
            return PlayerState(status=self._status, index=self._index, track=self.tracks[self._index].name,
                               volume=self._volume, ducked=self._ducked, lofi=self._chain.amount,
                               position_s=self._position / self.config.sample_rate, underflows=self.underflows)

    def _skip(self, step: int) -> None:
        with self._lock:
            base = self._index if self._pending is None else self._pending
            target = (base + step) % len(self.tracks)
            if not self._transport.resting_at_zero:
                self._pending = target  # switch once the fade-out has reached silence
            else:
                self._switch(target)
            self._update()

    def _update(self) -> None:
        """Point both ramps at what the current state asks for."""
        self._level.set(self._volume * (10 ** (self.config.duck_db / 20) if self._ducked else 1.0))
        self._transport.set(1.0 if self._status == PLAYING and self._pending is None else 0.0)

    # --- audio ---------------------------------------------------------------------------------------

    def render(self, n_frames: int) -> np.ndarray:
        """The next `n_frames` of output, (channels, n_frames) float32; exact silence when nothing plays."""
        with self._lock:
            level = self._level.advance(n_frames)
            self._settle()
            if self._transport.resting_at_zero:
                return np.zeros((self.config.channels, n_frames), np.float32)
            audio = self._chain.process(self._read(n_frames))
            audio *= level * self._transport.advance(n_frames)
            self._settle()
            return audio

    def _settle(self) -> None:
        """Once a fade-out has reached silence, do what it was for: switch track, or rewind on stop.

        Opening the next track happens here, while the output is silent, so a slow open (decoding,
        rendering a generated track) at worst stretches the silence instead of cutting into music.
        """
        if not self._transport.resting_at_zero:
            return
        if self._pending is not None:
            self._switch(self._pending)
        elif self._status == STOPPED and self._reader is not None:
            self._close()
            self._position = 0
        self._update()

    def _switch(self, index: int) -> None:
        self._close()
        self._index, self._pending, self._position = index, None, 0

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _open(self) -> bool:
        """Open the current track, passing over any that cannot be read; False when none can."""
        while self._failures < len(self.tracks):
            track = self.tracks[self._index]
            try:
                if isinstance(track, Track):
                    audio = render(track, self.config.sample_rate, lofi=0.0)  # the live chain adds the lo-fi
                    self._reader = _ArrayReader(fit_channels(audio, self.config.channels))
                else:
                    self._reader = _FileReader(track, self.config.sample_rate, self.config.channels)
                log.info("track %d/%d: %s", self._index + 1, len(self.tracks), track.name)
                return True
            except Exception as e:  # any file can go bad after the scan: deleted, truncated, replaced
                log.warning("%s: cannot read audio (%s); skipped", track, e)
                self._failures += 1
                self._index = (self._index + 1) % len(self.tracks)
        log.error("no track in the playlist can be read; stopped")
        self._failures = 0
        self._halt()
        return False

    def _read(self, n: int) -> np.ndarray:
        """n frames of the playlist from the current position, running on into the next track gaplessly;
        zeros after the playlist ends."""
        out = np.zeros((self.config.channels, n), np.float32)
        got = 0
        while got < n:
            if self._reader is None and not self._open():
                break
            try:
                block = self._reader.read(n - got)
                failed = block.shape[1] == 0 and self._position == 0  # the header promised audio that is not there
            except Exception as e:
                log.warning("%s: read failed at %.2f s (%s); skipped", self.tracks[self._index],
                            self._position / self.config.sample_rate, e)
                block, failed = out[:, :0], True
            m = block.shape[1]
            if m == 0:
                self._failures += failed
                if not self._advance():
                    break
                continue
            out[:, got:got + m] = block
            got += m
            self._position += m
            self._failures = 0
        return out

    def _advance(self) -> bool:
        """The current track is over: on to the next; False after the last one when not on `repeat`."""
        last = self._index == len(self.tracks) - 1
        self._switch((self._index + 1) % len(self.tracks))
        if last and not self.config.repeat:
            self._halt()
            return False
        return True

    def _halt(self) -> None:
        """Stop because the music ran out; what is left of this block fades like any stop."""
        self._status = STOPPED
        self._update()

    # --- output device --------------------------------------------------------------------------------

    def open_output(self, device: int | str | None = None, reference=None):
        """Start a sounddevice output stream that plays `render`; returns it (call .stop() and .close()).
        `reference` (a BlockQueue) gets a copy of every block played, for the echo canceller."""
        sd = load_sounddevice()
        config = self.config
        name = "the default output device" if device is None else f"output device {device!r}"

        def callback(outdata, frames, time, status) -> None:
            if status.output_underflow:
                self.underflows += 1  # counted here, logged outside: no logging in the audio thread
            block = self.render(frames)
            outdata[:] = block.T
            if reference is not None:
                reference.put(block)

        try:
            stream = sd.OutputStream(device=device, channels=config.channels, samplerate=config.sample_rate,
                                     blocksize=config.block_size, dtype="float32", callback=callback)
            stream.start()
        except Exception as e:
            raise AudioError(f"PortAudio cannot open {name} at {config.sample_rate} Hz, "
                             f"{config.channels} channels ({e})") from None
        log.info("playing on %s", name)
        return stream
