"""`im2markup train`: start, resume, background and status of training runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """examples:
  im2markup train small --run small-1
  im2markup train my_config.toml --run std --set train.lr=0.05 --background
  im2markup train --resume small-1 --set train.max_steps=30000
  im2markup train --status
  im2markup train --export small-1 --out src/im2markup/bundled_models/default
  im2markup train --export small-1 --average small-2 --out src/im2markup/bundled_models/default
  im2markup train --export MODEL_DIR --average MODEL_DIR2 --out DIR
  torchrun --nproc-per-node 2 -m im2markup.cli.main train small --name ddp-1
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "train",
        help="train a model from a config file, resume a run, or show runs",
        description="Train a model. Runs live in ~/.cache/im2markup/runs/NAME "
        "(IM2MARKUP_RUNS overrides) with config.toml, train.log, metrics.csv and checkpoints.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "config",
        nargs="?",
        help="config file, or the name of a bundled config (e.g. small, standard; "
        "IM2MARKUP_CONFIGS names another folder of them)",
    )
    parser.add_argument(
        "--run",
        "--name",
        dest="run",
        metavar="NAME",
        help="name of the new run (--name is the spelling torchrun lets through)",
    )
    parser.add_argument(
        "--resume", metavar="NAME", help="continue run NAME exactly from its last checkpoint"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        nargs="+",
        action="extend",
        default=[],
        help="override config fields, e.g. train.lr=3e-4 data.batch_size=16",
    )
    parser.add_argument(
        "--init",
        metavar="DIR",
        type=Path,
        help="warm-start from a saved model directory (fresh optimizer; "
        "embedding and output rows mapped by token)",
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="detach, run at nice 19 with output to the run's train.log, print the PID",
    )
    parser.add_argument(
        "--status",
        nargs="?",
        const="",
        metavar="NAME",
        help="summarise one run or all runs (images seen, last validation, running or not)",
    )
    parser.add_argument(
        "--export",
        metavar="NAME",
        help="write run NAME's best validated weights to --out as a shippable model "
        "(bfloat16 safetensors, config with provenance, MODEL_CARD.md); NAME may also be a "
        "model directory, to be averaged with --average model directories",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="model directory for --export")
    parser.add_argument(
        "--last", action="store_true", help="with --export: the last checkpoint, not the best"
    )
    parser.add_argument(
        "--average",
        nargs="+",
        default=[],
        metavar="NAME",
        help="with --export: ship the mean of the run's weights and these runs' (same model "
        "and vocabulary, each chosen like the run's own), or of these model directories'",
    )
    return parser


def _relaunch_argv(args: argparse.Namespace) -> list[str]:
    argv = ["train"]
    if args.resume:
        argv += ["--resume", args.resume]
    else:
        if args.config is not None:  # without one, starting the run reports it
            path = Path(args.config)
            argv += [str(path.resolve()) if path.exists() else args.config]
        argv += ["--run", args.run]
    if args.init:
        argv += ["--init", str(args.init.resolve())]
    if args.overrides:
        argv += ["--set", *args.overrides]
    return argv


def run(args: argparse.Namespace) -> int:
    from im2markup.training import runs, session
    from im2markup.training.checkpoint import CheckpointError
    from im2markup.training.config import ConfigError
    from im2markup.training.loop import TrainingError

    try:
        if args.status is not None:
            print(runs.status(args.status or None))
            return 0
        if args.export:
            from im2markup.training.export import average_models, export_run, is_model_dir

            if args.out is None:
                raise ConfigError("--export needs --out DIR")
            if is_model_dir(Path(args.export)):
                out = average_models([Path(args.export), *map(Path, args.average)], args.out)
                print(f"wrote the mean of {args.export} and {' '.join(args.average)} to {out}")
                return 0
            out = export_run(
                runs.run_path(args.export),
                args.out,
                last=args.last,
                average_with=[runs.run_path(name) for name in args.average],
            )
            print(f"exported run {args.export} to {out}")
            return 0
        if bool(args.resume) == bool(args.run):
            raise ConfigError("give either CONFIG --run NAME to start a run or --resume NAME")
        name = args.resume or args.run
        config = None if args.resume else args.config
        if args.background:
            pid = session.start_background(
                name, _relaunch_argv(args), config, args.overrides, args.init, bool(args.resume)
            )
            print(f"started run {name} in the background: pid {pid}")
            print(f"log: {runs.run_path(name) / 'train.log'}")
            return 0
        session.train_run(name, config, args.overrides, args.init, bool(args.resume))
        return 0
    except (ConfigError, runs.RunError, CheckpointError) as exc:
        print(f"im2markup train: {exc}", file=sys.stderr)
        return 2
    except TrainingError:
        return 1
