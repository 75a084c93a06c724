"""The ``facegen`` command: thin wrappers over the package, with errors a person can act on."""

from __future__ import annotations

import argparse
import ast
import json
import logging
import sys
from collections.abc import Sequence

from facegen import config


def _data_command(args: argparse.Namespace) -> int:
    from facegen.data import load_dataset

    dataset = load_dataset(
        args.data_dir,
        image_size=args.image_size,
        seed=args.seed,
        download=not args.no_download,
        cache=not args.no_cache,
    )
    print(dataset)
    if args.split_csv:
        print(f"Split written to {dataset.write_split(args.split_csv)}")
    if args.quality_csv:
        from facegen.atomic import atomic_write_text

        atomic_write_text(args.quality_csv, dataset.quality.details.to_csv(index=False))
        print(f"Per-file decisions written to {args.quality_csv}")
    return 0


def _parse_value(text: str):
    """papermill-style ``-p name value``: numbers and None as Python literals, else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _report_command(args: argparse.Namespace) -> int:
    from facegen.pipeline import ReportFailed, run_report

    parameters = {"profile": args.profile, "seed": args.seed, "image_size": args.image_size}
    if args.data_dir:
        parameters["data_dir"] = args.data_dir
    if args.epochs is not None:
        parameters["epochs"] = args.epochs
    parameters.update({name: _parse_value(value) for name, value in args.parameter or []})
    try:
        run_dir = run_report(parameters, root=args.reports_dir, progress=not args.quiet)
    except ReportFailed as exc:
        print(f"facegen: report failed: {exc}", file=sys.stderr)
        return 1
    metrics = json.loads((run_dir / "metrics.json").read_text())["headline"]
    print(f"Run complete: {run_dir}")
    print(
        f"  test accuracy {metrics['test_accuracy']:.4f} "
        f"[{metrics['test_accuracy_low']:.4f}, {metrics['test_accuracy_high']:.4f}] "
        f"on {metrics['n_test']:,} faces; macro F1 {metrics['f1_macro']:.4f}"
    )
    print(
        f"  worst subgroup: {metrics['worst_subgroup']} "
        f"{metrics['worst_subgroup_accuracy']:.4f} (n={metrics['worst_subgroup_n']})"
    )
    print(f"  open {run_dir.parent / 'index.html'}")
    if args.min_accuracy is not None and metrics["test_accuracy"] < args.min_accuracy:
        print(
            f"facegen: test accuracy {metrics['test_accuracy']:.4f} is under the bar "
            f"{args.min_accuracy:.4f}",
            file=sys.stderr,
        )
        return 3
    return 0


def _download_command(args: argparse.Namespace) -> int:
    from facegen.dataset import download_utkface, resolve_image_folder

    print(resolve_image_folder(download_utkface(), origin="the Kaggle download"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facegen",
        description="Facial gender classification on UTKFace, measured per subgroup.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser(
        "data", help="find, check, preprocess and split the data; print the quality report"
    )
    data.add_argument(
        "--data-dir",
        help=f"UTKFace folder (default: ${config.DATA_DIR_ENV}, "
        "then data/raw/, then a Kaggle download)",
    )
    data.add_argument("--image-size", type=int, default=config.IMAGE_SIZE)
    data.add_argument("--seed", type=int, default=config.SEED)
    data.add_argument("--split-csv", help="also write the split to this CSV file")
    data.add_argument("--quality-csv", help="also write every per-file decision to this CSV file")
    data.add_argument("--no-download", action="store_true", help="never try Kaggle")
    data.add_argument("--no-cache", action="store_true", help="ignore and do not write caches")
    data.set_defaults(run=_data_command)

    report = commands.add_parser(
        "report", help="run the four notebooks with papermill into reports/<run-id>/"
    )
    report.add_argument("--data-dir", help="UTKFace folder (default: as for `facegen data`)")
    report.add_argument("--profile", default="full", choices=sorted(config.PROFILES))
    report.add_argument("--epochs", type=int, help="default: the profile's")
    report.add_argument("--seed", type=int, default=config.SEED)
    report.add_argument("--image-size", type=int, default=config.IMAGE_SIZE)
    report.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="any notebook parameter, papermill style (repeatable)",
    )
    report.add_argument("--reports-dir", help="where run folders go (default: reports/)")
    report.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    report.add_argument(
        "--min-accuracy",
        type=float,
        help="exit with status 3 when the test accuracy is under this bar (CI)",
    )
    report.set_defaults(run=_report_command)

    download = commands.add_parser("download", help=f"download {config.KAGGLE_HANDLE} (kagglehub)")
    download.set_defaults(run=_download_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from facegen.dataset import DataNotFoundError

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except DataNotFoundError as exc:
        print(f"facegen: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a parameter out of range, or no usable image in the folder
        print(f"facegen: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facegen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
