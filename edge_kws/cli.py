"""The `edge-kws` command line."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
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
    manifest = export.export(args.run, args.out, data=args.data, calibration=args.calibration)
    m = manifest.metrics
    print(f"validation accuracy on {m['validation_n']} clips: float {m['float_accuracy']:.4f}, "
          f"int8 {m['int8_accuracy']:.4f}; model {m['model_bytes']} bytes -> {args.out}")
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


def cmd_listen(args) -> int:
    from .audio import FileSource, Microphone, list_input_devices
    from .listener import Listener
    from .spotter import Spotter

    if args.list_devices:
        for d in list_input_devices():
            print(json.dumps(d))
        return 0
    if bool(args.input) == bool(args.mic):
        raise ValueError("listen: give exactly one of --input FILE.wav or --mic")
    spotter = Spotter(args.model, threshold=args.threshold, stride_frames=args.stride, num_threads=args.threads)
    rate = spotter.manifest.frontend.sample_rate
    if args.input:
        listener = Listener(spotter, lambda: FileSource(args.input, rate, args.block_ms, args.realtime))
    else:
        listener = Listener(spotter, lambda: Microphone(args.device, rate, args.block_ms), retry=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: listener.stop())
    listener.run(lambda event: print(json.dumps(event.to_dict()), flush=True))
    if listener.stopped:
        log.info("stopped by signal after %d detection(s)", listener.detections)
    return 0


def cmd_soak(args) -> int:
    from .soak import plot_rss, soak
    report = soak(args.hours, args.model, speed=args.speed, loop=args.input, seed=args.seed)
    summary = {k: v for k, v in report.to_dict().items() if k != "rss_mb"}
    if args.json:
        atomic_write_text(args.json, json.dumps(report.to_dict(), indent=1) + "\n")
        plot_rss(report, Path(args.json).with_suffix(".png"))
    print(json.dumps(summary))
    return 0 if report.dropped == 0 else 3


def cmd_later(args) -> int:
    print(f"edge-kws {args.command}: not available yet in this version "
          f"({LATER[args.command]}); see the README's roadmap.", file=sys.stderr)
    return 2


LATER = {
    "bench": "latency and CPU benchmark against peers",
    "demo": "voice-controlled lo-fi demo",
    "play": "the lo-fi music player",
}


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
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("eval", help="accuracy of a bundle on a labelled folder, with the TFLite interpreter")
    s.add_argument("--data", required=True, help="folder with one sub-folder per label or word")
    s.add_argument("--model", help=model_help)
    s.add_argument("--json", help="write the report here (and a confusion-matrix PNG beside it)")
    s.add_argument("--split", choices=["training", "validation", "testing"],
                   help="only this split (from the folder's list files, else the speaker hash)")
    s.add_argument("--threads", type=int)
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("listen", help="stream a WAV file or the microphone; print one JSON line per detection")
    s.add_argument("--model", help=model_help)
    s.add_argument("--input", help="audio file of any length")
    s.add_argument("--mic", action="store_true", help="listen on a microphone")
    s.add_argument("--device", help="input device index or name (see --list-devices)")
    s.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    s.add_argument("--threshold", type=float, help="one threshold for every keyword (overrides the manifest)")
    s.add_argument("--stride", type=int, default=2, help="run the model every N frames")
    s.add_argument("--block-ms", type=float, default=20.0, help="audio block size")
    s.add_argument("--realtime", action="store_true", help="with --input: deliver the file at real-time pace")
    s.add_argument("--threads", type=int)
    s.set_defaults(func=cmd_listen)

    s = sub.add_parser("soak", help="stream hours of generated audio through the live loop, faster than real time")
    s.add_argument("--hours", type=float, default=1.0, help="hours of audio")
    s.add_argument("--speed", type=float, default=20.0, help="delivery rate, in multiples of real time")
    s.add_argument("--model", help=model_help)
    s.add_argument("--input", help="audio file looped into the generated background (e.g. examples/commands.wav)")
    s.add_argument("--json", help="write the report, with RSS over time, here (and an RSS plot PNG beside it)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_soak)

    for name, text in LATER.items():
        s = sub.add_parser(name, help=f"{text} (not available yet)")
        s.set_defaults(func=cmd_later)
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


if __name__ == "__main__":
    sys.exit(main())
