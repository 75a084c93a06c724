"""The ``facegen`` command: thin wrappers over the package, with errors a person can act on."""

from __future__ import annotations

import argparse
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
    except KeyboardInterrupt:
        print("facegen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
