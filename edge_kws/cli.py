"""The `edge-kws` command line."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .audio import AudioError
from .bundle import DEFAULT_BUNDLE, BundleError
from .config import ConfigError
from .files import atomic_write_text
from .runtime import RuntimeMissing

log = logging.getLogger("edge_kws")

# Errors the user can fix: one line, non-zero exit, no traceback.
USER_ERRORS = (AudioError, BundleError, ConfigError, RuntimeMissing, FileNotFoundError, ValueError)


def _training(module: str):
    """A module of the training side, which needs the [train] extra; never imported by the runtime."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("tensorflow", "keras"):
            raise RuntimeMissing(f"'{module}' needs TensorFlow: pip install 'edge-kws[train]'") from None
        raise


def cmd_synth(args) -> int:
    synth = _training("training.synth")
    from .dataset import parse_keywords
    words = parse_keywords(args.words)
    voices = synth.voices(args.voices, args.seed, flite=not args.no_flite)
    synth.synthesize(words, args.out, voices, seed=args.seed)
    print(json.dumps({"out": str(args.out), "words": len(words), "voices": len(voices)}))
    return 0


def cmd_augment_preview(args) -> int:
    augment = _training("training.augment")
    config = _training("training.config")
    background = _training("training.background")
    import numpy as np

    from .audio import fit_length, read_audio
    from .dataset import list_clips
    cfg = config.TrainConfig.load(args.config)
    rate, n = cfg.frontend.sample_rate, cfg.frontend.clip_samples
    paths = [p for p, label in list_clips(args.data, [], "training") if label != "_silence_"]
    pick = np.random.default_rng(args.seed).permutation(len(paths))[:args.n]
    clips = [fit_length(read_audio(paths[i], rate), n) for i in sorted(pick)]
    files = augment.preview(clips, background.load_background(args.data, rate, args.seed), cfg.augment, rate,
                            args.out, args.seed)
    print(json.dumps({"out": str(args.out), "files": len(files), "grid": str(files[-1])}))
    return 0


def cmd_train(args) -> int:
    config = _training("training.config")
    train = _training("training.train")
    from .dataset import parse_keywords
    cfg = config.TrainConfig.load(
        args.config, data=args.data, out=args.out, epochs=args.epochs, seed=args.seed,
        batch_size=args.batch_size, keywords=parse_keywords(args.keywords) if args.keywords else None)
    out = train.train(cfg)
    print(json.dumps({"run": str(out), **json.loads((out / "metrics.json").read_text())}))
    return 0


def cmd_export(args) -> int:
    export = _training("firmware_export.export")
    manifest = export.export(args.run, args.out, data=args.data, calibration=args.calibration,
                             streaming=not args.window, target=args.target)
    m = manifest.metrics
    print(f"validation accuracy on {m['validation_n']} clips: float {m['float_accuracy']:.4f}, "
          f"int8 {m['int8_accuracy']:.4f}; model {m['model_bytes']} bytes -> {args.out}")
    if "micro" in m:
        print(f"TensorFlow Lite Micro: arena {m['micro']['arena_bytes']} bytes; against the TFLite interpreter "
              f"{m['micro']['vs_tflite']}; C array in {args.out}/model_data.cc")
    return 0


def cmd_eval(args) -> int:
    from .evaluate import evaluate, plot_confusion
    from .runtime import Classifier
    report = evaluate(Classifier.from_bundle(args.model, num_threads=args.threads), args.data, args.split)
    text = json.dumps(report, indent=2)
    if args.json:
        atomic_write_text(args.json, text + "\n")
        png = Path(args.json).with_suffix(".png")
        plot_confusion(report, png)
        log.info("wrote %s and %s", args.json, png)
    print(text if not args.json else json.dumps({k: report[k] for k in ("accuracy", "n")}))
    return 0


def cmd_eval_stream(args) -> int:
    from .stream_eval import evaluate_streams, plot_det
    snrs = tuple(float(x) for x in args.snr.split(","))
    kinds = tuple(k.strip() for k in args.background.split(","))
    report = evaluate_streams(args.model, args.data, args.split, args.minutes, snrs, kinds, args.seed)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
        plot_det(report, Path(args.json).with_suffix(".png"))
    print(json.dumps({k: report[k] for k in ("hours", "placed", "clips", "at_default_threshold")}))
    return 0


def cmd_listen(args) -> int:
    from . import device_config
    from .actions import Actions
    from .audio import FileSource, Microphone, list_input_devices
    from .listener import Listener
    from .spotter import Spotter

    if args.list_devices:
        for d in list_input_devices():
            print(json.dumps(d))
        return 0
    if bool(args.input) == bool(args.mic):
        raise ValueError("listen: give exactly one of --input FILE.wav or --mic")
    cfg = device_config.load(args.config)
    cfg.check(args.config or str(device_config.DEFAULT_PATH), args.model)  # fail at start, not at the first word
    logging.getLogger().setLevel(min(logging.getLogger().level, device_config.log_level(cfg)))
    spotter = Spotter(args.model or cfg.bundle, detector=cfg.detector, threshold=args.threshold,
                      stride_frames=args.stride, num_threads=args.threads)
    rate = spotter.manifest.frontend.sample_rate
    block_ms = args.block_ms or cfg.audio.block_ms
    device = args.device if args.device is not None else (cfg.audio.device or None)
    player = output = on_block = None

    def open_source():
        if args.input:
            return FileSource(args.input, rate, block_ms, args.realtime)
        microphone = Microphone(device, rate, block_ms, capture_rate=cfg.audio.rate)
        # With the player on, the microphone hears it: subtract what we play before spotting.
        return microphone if player is None else EchoCancelledSource(microphone, reference)

    if args.play:
        from .actions import Ducker
        from .echo import EchoCancelledSource, PlaybackReference
        from .player import Player
        player = Player(cfg.player)
        reference = PlaybackReference(player.config.sample_rate, rate)
        output = player.open_output(reference=reference.queue)
        ducker = Ducker(player, spotter.labels)
        on_block = lambda: ducker.update(spotter.time, spotter.last_probs)  # noqa: E731
    listener = Listener(spotter, open_source, retry=bool(args.mic))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: listener.stop())
    actions = Actions(cfg.actions_for(spotter.manifest.keywords), player)

    def on_detect(event) -> None:
        print(json.dumps(event.to_dict()), flush=True)
        actions(event)

    try:
        listener.run(on_detect, on_block)
    finally:
        actions.wait()
        if output is not None:
            output.stop()
            output.close()
            if player.underflows:
                log.warning("player: %d output underflows", player.underflows)
    if listener.stopped:
        log.info("stopped by signal after %d detection(s)", listener.detections)
    return 0


def cmd_play(args) -> int:
    from dataclasses import replace

    from . import device_config, lofi
    from .player import Player
    cfg = device_config.load(args.config)
    player_cfg = replace(cfg.player, **{k: v for k, v in (("music_dir", args.music), ("lofi_amount", args.lofi),
                                                          ("volume", args.volume)) if v is not None})
    if args.track is not None:
        spec = lofi.TrackSpec(seed=args.track, bars=player_cfg.generated_bars, sample_rate=player_cfg.sample_rate)
        track = lofi.compose(spec)
        if args.midi:
            lofi.write_midi(track, args.midi)
        if args.out:
            lofi.write_wav(track, args.out, lofi=player_cfg.lofi_amount)
        print(json.dumps({"track": track.name, "bpm": round(track.bpm, 1), "key": track.key,
                          "seconds": round(track.seconds, 1), "wav": args.out, "midi": args.midi}))
        if args.out or args.midi:
            return 0
        player = Player(player_cfg, tracks=[spec])
    else:
        player = Player(player_cfg)
    player.play()
    if args.out:
        import numpy as np

        from .files import atomic_write_audio
        n = int(args.seconds * player_cfg.sample_rate)
        blocks = [player.render(player_cfg.block_size) for _ in range(-(-n // player_cfg.block_size))]
        atomic_write_audio(args.out, np.concatenate(blocks, axis=1)[:, :n], player_cfg.sample_rate)
        print(json.dumps({"wav": args.out, "seconds": args.seconds, "tracks": [t.name for t in player.tracks]}))
        return 0
    import threading
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    stream = player.open_output(args.device)
    try:
        while not done.wait(0.5):
            if player.state.status == "stopped":
                break
    finally:
        stream.stop()
        stream.close()
    return 0


def cmd_demo(args) -> int:
    from .demo import Room, run_demo
    from .player import Player
    from .spotter import Spotter
    if args.live:
        options = {"--model": args.model, "--config": args.config, "--device": args.device}
        return main(["listen", "--mic", "--play", *(x for k, v in options.items() if v for x in (k, v))])
    from . import device_config
    cfg = device_config.load(args.config)
    if args.measure:
        from .demo import measure_music
        rows = measure_music(args.model or cfg.bundle, cfg.player, minutes=args.minutes)
        atomic_write_text(Path(args.out) / "music.json", json.dumps(rows, indent=1) + "\n")
        for row in rows:
            print(json.dumps(row))
        return 0
    spotter = Spotter(args.model or cfg.bundle, detector=cfg.detector, stride_frames=2)
    summary = run_demo(args.out, spotter, Player(cfg.player), Room(),
                       cancel_echo=not args.no_echo_cancel, duck=not args.no_duck)
    for c in summary["per_command"]:
        print(f"  {c['start']:5.1f} s  {c['word']:<6} {'recognised' if c['recognised'] else 'missed'}")
    print(f"recognised {summary['recognised']} of {summary['said']} commands over the device's own music; "
          f"{summary['false_or_wrong']} other detections; keyword-to-playback latency "
          f"{summary['latency_ms_mean']} ms mean, {summary['latency_ms_max']} ms max")
    print(f"wrote {args.out}/out.wav, events.jsonl, timeline.png, summary.json")
    return 0


def cmd_config(args) -> int:
    from . import device_config
    path = Path(args.path)
    if args.init:
        if path.exists() and not args.force:
            raise ValueError(f"{path}: exists; use --force to overwrite it")
        atomic_write_text(path, device_config.template())
        print(f"wrote {path}")
        return 0
    cfg = device_config.load(path)
    for line in cfg.check(str(path)):
        print(line)
    print(f"{path}: ok")
    return 0


def cmd_install_service(args) -> int:
    from .service import UNIT_PATH, default_user, render_unit
    if not Path(args.config).is_file():
        raise FileNotFoundError(f"{args.config}: no settings file; make one first: edge-kws config --init {args.config}")
    unit = render_unit(args.config, args.user or default_user())
    output = args.output or (str(UNIT_PATH) if os.geteuid() == 0 else "-")
    if output == "-":
        print(unit, end="")
        log.info("not root: printed the unit; install it with: sudo edge-kws install-service --user %s",
                 args.user or default_user())
        return 0
    atomic_write_text(output, unit)
    print(f"wrote {output}; start it with: sudo systemctl daemon-reload && sudo systemctl enable --now edge-kws")
    return 0


def cmd_soak(args) -> int:
    from .data import COMMANDS_WAV
    from .soak import plot_rss, soak
    report = soak(args.hours, args.model, speed=args.speed, loop=args.input or COMMANDS_WAV, seed=args.seed)
    summary = {k: v for k, v in report.to_dict().items() if k != "rss_mb"}
    if args.json:
        atomic_write_text(args.json, json.dumps(report.to_dict(), indent=1) + "\n")
        plot_rss(report, Path(args.json).with_suffix(".png"))
    print(json.dumps(summary))
    return 0 if report.dropped == 0 else 3


def cmd_bench(args) -> int:
    from .bench import bench, plot_latency
    report = bench(args.model, threads=args.threads, xnnpack=not args.no_xnnpack, invokes=args.invokes,
                   audio_s=args.audio_seconds)
    summary = {k: v for k, v in report.items() if k != "invoke_us_all"}
    if args.json:
        atomic_write_text(args.json, json.dumps(report) + "\n")
        plot_latency(report, Path(args.json).with_suffix(".png"))
    print(json.dumps(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-kws", description="On-device keyword spotting.")
    p.add_argument("--version", action="version", version=f"edge-kws {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model_help = f"bundle folder (default: the shipped model, {DEFAULT_BUNDLE.name})"

    s = sub.add_parser("synth", help="synthesise spoken words (espeak-ng, flite) into a data folder")
    s.add_argument("--words", required=True, help="comma-separated words, one folder each")
    s.add_argument("--out", required=True, type=Path, help="data folder (Speech Commands layout)")
    s.add_argument("--voices", type=int, default=60, help="espeak-ng voices (accent x variant x rate x pitch)")
    s.add_argument("--no-flite", action="store_true", help="espeak-ng voices only")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("augment-preview", help="hear and see the Pedalboard augmentation: WAVs and a spectrogram grid")
    s.add_argument("--data", required=True, help="data folder to draw clips (and _background_noise_) from")
    s.add_argument("--config", type=Path, help="training config whose [augment] table to use")
    s.add_argument("--out", default="augment-preview", help="folder for the WAVs and spectrograms.png")
    s.add_argument("--n", type=int, default=8, help="how many clips")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_augment_preview)

    s = sub.add_parser("train", help="train a DS-CNN on a Speech Commands-layout folder")
    s.add_argument("--config", type=Path, help="training config (TOML or JSON); flags override it")
    s.add_argument("--data", help="data folder: one sub-folder per word")
    s.add_argument("--keywords", help="comma-separated keywords; other words become _unknown_")
    s.add_argument("--out", help="output folder for the run (default runs/model)")
    s.add_argument("--epochs", type=int)
    s.add_argument("--batch-size", type=int)
    s.add_argument("--seed", type=int)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("export", help="quantize a trained run to an int8 TFLite bundle")
    s.add_argument("--run", required=True, type=Path, help="output folder of 'edge-kws train'")
    s.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    s.add_argument("--data", help="data folder, if not where the run was trained from")
    s.add_argument("--calibration", type=int, default=500, help="training clips used to calibrate int8")
    s.add_argument("--target", choices=["bundle", "micro", "rpi"], default="bundle",
                   help="micro: also write model_data.cc/.h for TensorFlow Lite Micro, with its ops and "
                        "measured arena (needs pip install tflite-micro); rpi: also a settings file, a "
                        "systemd unit and INSTALL.md for a Raspberry Pi")
    s.add_argument("--window", action="store_true",
                   help="export the whole-window model (re-run on every hop) instead of the streaming one")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("eval", help="accuracy of a bundle on a labelled folder, with the TFLite interpreter")
    s.add_argument("--data", required=True, help="folder with one sub-folder per label or word")
    s.add_argument("--model", help=model_help)
    s.add_argument("--json", help="write the report here (and a confusion-matrix PNG beside it)")
    s.add_argument("--split", choices=["training", "validation", "testing"],
                   help="only this split (from the folder's list files, else the speaker hash)")
    s.add_argument("--threads", type=int)
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("eval-stream", help="hits, misses and false accepts per hour on long streams (DET curve)")
    s.add_argument("--model", help=model_help)
    s.add_argument("--data", help="keyword and other-word clips (Speech Commands layout); default: the packaged commands")
    s.add_argument("--split", default="testing", help="which split of --data to draw clips from (default testing)")
    s.add_argument("--minutes", type=float, default=10.0, help="minutes of audio per background and SNR")
    s.add_argument("--snr", default="20,10,5", help="speech-to-background ratios in dB, comma-separated")
    s.add_argument("--background", default="noise,babble,music", help="noise, babble (needs --data), music")
    s.add_argument("--json", help="write the report here (and the DET curve PNG beside it)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_eval_stream)

    s = sub.add_parser("listen", help="stream a WAV file or the microphone; print one JSON line per detection")
    s.add_argument("--model", help=model_help)
    s.add_argument("--input", help="audio file of any length")
    s.add_argument("--mic", action="store_true", help="listen on a microphone")
    s.add_argument("--device", help="input device index or name (see --list-devices)")
    s.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    s.add_argument("--threshold", type=float, help="one threshold for every keyword (overrides the manifest)")
    s.add_argument("--stride", type=int, default=2, help="run the model every N frames")
    s.add_argument("--block-ms", type=float, help="audio block size (default: the config's, 20 ms)")
    s.add_argument("--realtime", action="store_true", help="with --input: deliver the file at real-time pace")
    s.add_argument("--config", help="device settings (default ./edge-kws.toml if present); flags override it")
    s.add_argument("--play", action="store_true", help="voice-control the lo-fi player (needs an output device)")
    s.add_argument("--threads", type=int)
    s.set_defaults(func=cmd_listen)

    s = sub.add_parser("play", help="the lo-fi player: play music or generated lo-fi, or render it to files")
    s.add_argument("--music", help="folder of wav/flac/mp3/ogg (default: the config's, else generated lo-fi)")
    s.add_argument("--track", type=int, help="one generated lo-fi track: its seed")
    s.add_argument("--out", help="render to this WAV instead of playing (with --track: the whole track)")
    s.add_argument("--midi", help="with --track: also write the track as a MIDI file")
    s.add_argument("--seconds", type=float, default=30.0, help="with --out and no --track: how much to render")
    s.add_argument("--lofi", type=float, help="lo-fi amount 0..1")
    s.add_argument("--volume", type=float, help="volume 0..1")
    s.add_argument("--device", help="output device index or name")
    s.add_argument("--config", help="device settings file (its [player] table)")
    s.set_defaults(func=cmd_play)

    s = sub.add_parser("demo", help="spoken commands over the device's own music, end to end, no audio devices")
    s.add_argument("--out", default="demo", help="folder for out.wav, events.jsonl, timeline.png")
    s.add_argument("--model", help=model_help)
    s.add_argument("--config", help="device settings file")
    s.add_argument("--no-echo-cancel", action="store_true", help="feed the microphone signal as it is")
    s.add_argument("--no-duck", action="store_true", help="do not lower the music while a command is heard")
    s.add_argument("--live", action="store_true", help="for real: microphone in, speaker out (listen --mic --play)")
    s.add_argument("--measure", action="store_true",
                   help="false accepts per hour and hit rate with the music playing, with and without "
                        "echo cancellation and ducking (writes music.json)")
    s.add_argument("--minutes", type=float, default=10.0, help="with --measure: minutes of music")
    s.add_argument("--device", help="with --live: input device index or name")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("config", help="write or check the device settings file (edge-kws.toml)")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--init", action="store_true", help="write a commented default settings file")
    what.add_argument("--check", action="store_true", help="validate the file against its model")
    s.add_argument("path", nargs="?", default="edge-kws.toml")
    s.add_argument("--force", action="store_true", help="with --init: overwrite an existing file")
    s.set_defaults(func=cmd_config)

    s = sub.add_parser("install-service", help="write a systemd unit that runs 'listen --mic' at boot")
    s.add_argument("--config", default="edge-kws.toml", help="device settings file the service uses")
    s.add_argument("--user", help="user the service runs as (default: the user who ran sudo)")
    s.add_argument("--output", help=f"where to write the unit; '-' prints it (default: {'/etc/systemd/system/edge-kws.service'} as root)")
    s.set_defaults(func=cmd_install_service)

    s = sub.add_parser("soak", help="stream hours of generated audio through the live loop, faster than real time")
    s.add_argument("--hours", type=float, default=1.0, help="hours of audio")
    s.add_argument("--speed", type=float, default=20.0, help="delivery rate, in multiples of real time")
    s.add_argument("--model", help=model_help)
    s.add_argument("--input", help="audio file looped into the generated background (default: the packaged spoken commands)")
    s.add_argument("--json", help="write the report, with RSS over time, here (and an RSS plot PNG beside it)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_soak)

    s = sub.add_parser("bench", help="latency per invoke and per audio block, CPU seconds per audio second")
    s.add_argument("--model", help=model_help)
    s.add_argument("--json", help="write the report here (and a latency histogram PNG beside it)")
    s.add_argument("--threads", type=int, help="interpreter threads (default: the runtime's)")
    s.add_argument("--no-xnnpack", action="store_true", help="reference kernels, without the XNNPACK delegate")
    s.add_argument("--invokes", type=int, default=2000, help="timed invokes, after 200 of warm-up")
    s.add_argument("--audio-seconds", type=float, default=120.0, help="audio fed through the whole path")
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        print(f"edge-kws {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = "; run the same command again to resume from the last epoch" if args.command == "train" else ""
        print(f"edge-kws {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
