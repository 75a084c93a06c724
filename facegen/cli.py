"""The ``facegen`` command: thin wrappers over the package, with errors a person can act on.

Results go to stdout, progress and diagnostics to stderr. A FacegenError (the user's mistake) is
one line and a documented exit status (``facegen.errors.EXIT_STATUSES``); anything else is a bug
and keeps its traceback. TensorFlow's start-up chatter stays off the terminal unless ``-v``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import logging
import os
import shutil
import sys
import textwrap
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from facegen import config, package_version
from facegen.errors import (
    EXIT_BELOW_BAR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STATUSES,
    FacegenError,
    UsageError,
)


def _data_command(args: argparse.Namespace) -> int:
    from facegen.data.dataset import load_dataset

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
    return EXIT_OK


def _parse_value(text: str):
    """papermill-style ``-p name value``: numbers and None as Python literals, else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _report_command(args: argparse.Namespace) -> int:
    from facegen.runs.collection_scores import external_paths
    from facegen.runs.manifest import read_manifest
    from facegen.runs.pipeline import run_report

    if args.min_external_accuracy is not None and not external_paths(args.external):
        raise UsageError(
            "--min-external-accuracy needs a collection to measure: give --external PATH "
            f"or set ${config.EXTERNAL_ENV}"
        )

    parameters = {"profile": args.profile, "seed": args.seed, "image_size": args.image_size}
    if args.data_dir:
        parameters["data_dir"] = args.data_dir
    if args.epochs is not None:
        parameters["epochs"] = args.epochs
    if args.external:
        parameters["external"] = args.external
    parameters.update({name: _parse_value(value) for name, value in args.parameter or []})
    run_dir = run_report(
        parameters, root=args.reports_dir, progress=not args.quiet, verbose=args.verbose
    )
    metrics = read_manifest(run_dir)["headline"]  # the test split's, and any collection's
    lines = [
        f"{_test_accuracy(metrics)}; macro F1 {metrics['f1_macro']:.4f}",
        f"worst subgroup: {metrics['worst_subgroup']} "
        f"{metrics['worst_subgroup_accuracy']:.4f} (n={metrics['worst_subgroup_n']})",
    ]
    if "external_accuracy" in metrics:
        lines.append(
            f"{metrics['external_collection']}: accuracy "
            f"{_with_interval(metrics, 'external_accuracy')}; recall women "
            f"{metrics['external_recall_female']:.4f}, men {metrics['external_recall_male']:.4f}"
        )
    _print_run(run_dir, [*lines, f"open {run_dir.parent / 'index.html'}"])
    bars = [
        ("test accuracy", metrics.get("test_accuracy"), args.min_accuracy),
        ("external accuracy", metrics.get("external_accuracy"), args.min_external_accuracy),
    ]
    for name, value, bar in bars:
        if bar is not None and (value is None or value < bar):
            shown = "missing" if value is None else f"{value:.4f}"
            print(f"facegen: {name} {shown} is under the bar {bar:.4f}", file=sys.stderr)
            return EXIT_BELOW_BAR
    return EXIT_OK


def _with_interval(head: Mapping[str, Any], key: str) -> str:
    """``head[key]`` with its 95% interval (``<key>_low``, ``<key>_high``), to four decimals:
    "0.9150 [0.9040, 0.9270]"."""
    return f"{head[key]:.4f} [{head[f'{key}_low']:.4f}, {head[f'{key}_high']:.4f}]"


def _test_accuracy(head: Mapping[str, Any]) -> str:
    """A run's headline figure, as report and train state it."""
    return f"test accuracy {_with_interval(head, 'test_accuracy')} on {head['n_test']:,} faces"


def _print_run(run_dir: Path, lines: Sequence[str]) -> None:
    """What a finished run prints on stdout: its folder, then its figures, one to a line."""
    print(f"Run complete: {run_dir}")
    for line in lines:
        print(f"  {line}")


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _start_tensorflow(args: argparse.Namespace) -> None:
    """TensorFlow's start-up lines on the terminal only with -v (facegen.quiet says why)."""
    if not args.verbose:
        from facegen.quiet import start_tensorflow_quietly

        start_tensorflow_quietly()


def _train_command(args: argparse.Namespace) -> int:
    _start_tensorflow(args)
    from facegen.runs.training_run import profile_settings, train_run

    settings = profile_settings(
        data_dir=args.data_dir,
        image_size=args.image_size,
        seed=args.seed,
        epochs=args.epochs,
        profile=args.profile,
    )
    try:
        with contextlib.redirect_stdout(sys.stderr):  # what training prints is progress
            run_dir = train_run(settings, args.out, retrain=args.retrain, progress=not args.quiet)
    except KeyboardInterrupt:
        print(
            "facegen: training interrupted; no new model was written (an existing model.keras "
            "is untouched). Run the same command again to restart it.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    metrics = json.loads((run_dir / "metrics.json").read_text())
    validation = metrics["validation"]
    _print_run(
        run_dir,
        [
            f"validation accuracy {validation['accuracy']:.4f} on {validation['n']:,} faces",
            _test_accuracy(metrics["headline"]),
            f"model {run_dir / 'model.keras'}",
        ],
    )
    return EXIT_OK


def _default_model(args: argparse.Namespace) -> Path:
    """The newest complete run of profile "full", named on stderr with its test accuracy. A smoke
    run's model (400 faces, 2 epochs) is never taken silently: it is used only when named."""
    from facegen.modeling.saving import ModelNotFoundError
    from facegen.runs.manifest import newest_complete_run

    run = newest_complete_run(args.reports_dir, profile="full")
    if run is None:
        where = args.reports_dir or "reports/"
        other = newest_complete_run(args.reports_dir, profile=None)
        aside = (
            f" (the newest other, {other.describe()}, is used only when named: "
            f"--model {other.model})"
            if other
            else ""
        )
        raise ModelNotFoundError(
            f"no complete run of profile full with a model under {where}{aside}; run "
            "`make report` or `facegen train` first, or pass --model PATH"
        )
    if not args.quiet:
        print(f"facegen: model of {run.describe()}", file=sys.stderr)
    return run.model


def _model_for(args: argparse.Namespace):
    """The model predict and evaluate classify with (--model, else the newest full run's), its
    path, and the test-time views (--views, else those its run recorded)."""
    model_path = Path(args.model) if args.model else _default_model(args)
    from facegen.modeling.inference import recorded_views
    from facegen.modeling.saving import current_copy, load_model, load_onnx

    # load_classifier's choice, with the copy checked (hashed, loaded) once, not twice
    model = current_copy(model_path)
    if model is None:
        if model_path.suffix == ".onnx":
            model = load_onnx(model_path)
        else:
            _start_tensorflow(args)  # no usable ONNX copy: the Keras model runs on TensorFlow
            model = load_model(model_path)
    return model, model_path, args.views or recorded_views(model_path)


def _predict_command(args: argparse.Namespace) -> int:
    from facegen.predict.inputs import collect_inputs

    inputs = collect_inputs(args.paths)  # before TensorFlow starts: a usage error costs nothing
    if not inputs:
        raise UsageError("no input files")
    if args.ray:
        return _predict_on_ray(args, inputs)
    model, model_path, views = _model_for(args)
    from facegen.predict import output as prediction_output
    from facegen.predict.classify import classify_files

    progress = (not args.quiet and sys.stderr.isatty()) or args.progress
    results = classify_files(
        inputs,
        model,
        cropped=args.cropped,
        batch_size=args.batch_size,
        progress=progress,
        views=views,
        workers=args.workers,
    )
    render = {
        "table": prediction_output.to_table,
        "csv": prediction_output.to_csv,
        "json": prediction_output.to_json,
    }[args.format]
    text = render(results)
    if args.output:
        from facegen.atomic import atomic_write_text

        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    if args.annotate:
        from facegen.predict.annotate import write_annotated

        written = sum(write_annotated(r, args.annotate) is not None for r in results)
        print(f"facegen: {written:,} annotated images in {args.annotate}", file=sys.stderr)
    if not args.quiet:
        print(
            f"facegen: {prediction_output.summary(results)} (model {model_path})", file=sys.stderr
        )
    if not any(r.processed for r in results):
        print("facegen: no input could be processed", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _predict_on_ray(args: argparse.Namespace, inputs) -> int:
    """``predict --ray``: a Ray Data job writing a Parquet folder (``facegen.predict.on_ray``)."""
    from facegen import cluster
    from facegen.predict import on_ray

    cluster.require_ray()  # before anything else: without the extra, one line and exit 2
    if not args.output:
        raise UsageError("--ray writes a Parquet folder: give it with -o, e.g. -o results.parquet")
    if args.annotate or args.format != "table":
        raise UsageError(
            "--ray writes Parquet rows with the CSV's columns; drop --format and --annotate"
        )
    model_path = Path(args.model) if args.model else _default_model(args)
    from facegen.modeling.inference import recorded_views

    job = on_ray.predict_on_ray(
        inputs,
        model_path,
        args.output,
        cropped=args.cropped,
        batch_size=args.batch_size,
        views=args.views or recorded_views(model_path),
        progress=(not args.quiet and sys.stderr.isatty()) or args.progress,
        verbose=args.verbose,
    )
    line, processed = on_ray.summary(job.out)
    if not args.quiet:
        earlier = f", {job.done_before:,} of them done before" if job.done_before else ""
        print(f"facegen: {line}{earlier} (model {model_path}); rows in {job.out}", file=sys.stderr)
    if not processed:
        print("facegen: no input could be processed", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


RAY_PARTS = "ray-parts"
"""``evaluate --ray``'s finished chunks, in the output folder until its tables are written: an
interrupted job run again with the same --out goes on from them."""


def _evaluate_command(args: argparse.Namespace) -> int:
    from facegen.data.external import describe, read_collection

    if args.ray:
        from facegen.cluster import require_ray

        require_ray()  # without the extra: one line, exit 2, before anything is read
    collection = read_collection(args.path, name=args.name)
    if args.ray:  # the actors load the model; here only its size is read, and no TensorFlow
        from facegen.modeling.inference import recorded_views
        from facegen.modeling.saving import load_onnx
        from facegen.predict import on_ray

        model, model_path = None, Path(args.model) if args.model else _default_model(args)
        ray_model = on_ray.model_for_actors(model_path)  # a Keras model without a copy: refused
        size = int(load_onnx(ray_model).input_shape[1])
        views = args.views or recorded_views(model_path)
    else:
        model, model_path, views = _model_for(args)
        ray_model, size = None, int(model.input_shape[1])
    from facegen.runs.collection_scores import external_dir, score_collection, write_score

    out = Path(args.out or external_dir(Path(model_path).parent, collection.name, args.half))
    parts = out / RAY_PARTS if args.ray else None
    print(describe(collection), file=sys.stderr)
    score = score_collection(
        model,
        collection,
        half=args.half,
        size=size,
        n_boot=args.n_boot,
        views=views,
        progress=not args.quiet and sys.stderr.isatty(),
        ray_model=ray_model,
        ray_parts=parts,
        verbose=args.verbose,
    )
    write_score(score, out)
    if parts is not None:  # the tables hold it all now; a rerun starts afresh, as in-process
        shutil.rmtree(parts, ignore_errors=True)
    sys.stdout.write(score.summary_text())
    print(f"facegen: tables in {out} (model {model_path})", file=sys.stderr)
    return EXIT_OK


def _download_command(args: argparse.Namespace) -> int:
    from facegen.data.utkface import download_utkface, resolve_image_folder

    print(resolve_image_folder(download_utkface(), origin="the Kaggle download"))
    return EXIT_OK


def exit_status_text() -> str:
    """The exit statuses, for the end of every --help (and, word for word, the README)."""
    lines = ["exit status:"]
    for status, meaning in EXIT_STATUSES.items():
        lines += textwrap.wrap(
            meaning, width=78, initial_indent=f"  {status:<5}", subsequent_indent=" " * 7
        )
    return "\n".join(lines)


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own formatting, except that the exit-status table keeps its layout."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit status:"):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


VERBOSE_HELP = (
    "show what is normally kept quiet: TensorFlow's and the kernels' own output, every line the "
    "notebooks print, and the traceback behind an error message"
)


def _shared_options() -> dict[str, argparse.ArgumentParser]:
    """Parent parsers for the options more than one command takes, each option declared once
    with one help text, grouped as the commands take them."""
    names = ("verbose", "data", "profile", "reports", "model", "quiet")
    shared = {name: argparse.ArgumentParser(add_help=False) for name in names}
    # -v is also accepted after the command; SUPPRESS keeps it from resetting a -v given before.
    shared["verbose"].add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
    )
    data = shared["data"]
    data.add_argument(
        "--data-dir",
        help=f"UTKFace folder (default: ${config.DATA_DIR_ENV}, "
        "then data/raw/, then a Kaggle download)",
    )
    data.add_argument(
        "--image-size",
        type=int,
        default=config.IMAGE_SIZE,
        help=f"side of the square model input, in pixels (default: {config.IMAGE_SIZE})",
    )
    data.add_argument(
        "--seed",
        type=int,
        default=config.SEED,
        help=f"seed of the split and of training (default: {config.SEED})",
    )
    shared["profile"].add_argument(
        "--profile",
        default="full",
        choices=sorted(config.PROFILES),
        help=f"full (the default: every face, {config.PROFILES['full']['epochs']} epochs) or smoke "
        f"({config.PROFILES['smoke']['max_images']} faces, {config.PROFILES['smoke']['epochs']} "
        "epochs: a quick check that everything runs)",
    )
    shared["profile"].add_argument("--epochs", type=int, help="default: the profile's")
    shared["reports"].add_argument(
        "--reports-dir", help="the folder that holds the run folders (default: reports/)"
    )
    model = shared["model"]
    model.add_argument(
        "--model",
        help="a .keras model, or its .onnx copy (default: that of the newest complete run of "
        "profile full under reports/, named on stderr; a smoke run's model only when named here)",
    )
    model.add_argument(
        "--views",
        choices=config.VIEW_SETS,
        default=None,
        help="test-time augmentation: classify each face once (none), average it with its "
        "mirror image (flip), or also with one-pixel shifts of both (flip+shift, ten views, "
        "the slowest). Default: the views the model's run was evaluated with (its "
        f"training.json), else {config.TEST_TIME_VIEWS}",
    )
    shared["quiet"].add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print less on stderr: no progress, nor the run whose model is taken by default, "
        "nor predict's summary line",
    )
    return shared


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facegen",
        description="Facial gender classification on UTKFace, measured per subgroup.",
        epilog=exit_status_text(),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    shared = _shared_options()
    commands = parser.add_subparsers(dest="command", required=True)

    def add_command(name: str, *options: str, **kwargs) -> argparse.ArgumentParser:
        """A command with ``-v`` and the shared ``options`` (keys of ``_shared_options``)."""
        return commands.add_parser(
            name,
            parents=[shared["verbose"], *(shared[option] for option in options)],
            epilog=exit_status_text(),
            formatter_class=_HelpFormatter,
            **kwargs,
        )

    data = add_command(
        "data",
        "data",
        help="find, check, preprocess and split the data; print the quality report",
    )
    data.add_argument("--split-csv", help="also write the split to this CSV file")
    data.add_argument("--quality-csv", help="also write every per-file decision to this CSV file")
    data.add_argument("--no-download", action="store_true", help="never try Kaggle")
    data.add_argument("--no-cache", action="store_true", help="ignore and do not write caches")
    data.set_defaults(run=_data_command)

    report = add_command(
        "report",
        "data",
        "profile",
        "reports",
        "quiet",
        help="run the notebooks with papermill into reports/<run-id>/",
        description="Run the notebooks with papermill into a new run folder, "
        "reports/<run-id>/, and update reports/index.html. Parameters and data are checked "
        "before the first notebook starts. Progress (which notebook, one line per training "
        "epoch) goes to stderr, the result to stdout; a run that fails or is interrupted is "
        "marked so in its manifest, a FAILED file and the index.",
    )
    report.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="any notebook parameter, papermill style (repeatable); an unknown NAME is "
        "refused with the list of known ones",
    )
    report.add_argument(
        "--external",
        action="append",
        metavar="PATH",
        help="a labelled face collection that is not UTKFace, for the cross-dataset page "
        f"(repeatable; default: ${config.EXTERNAL_ENV}, paths separated by {os.pathsep!r})",
    )
    report.add_argument(
        "--min-accuracy",
        type=float,
        help=f"exit with status {EXIT_BELOW_BAR} when the test accuracy is under this bar (CI)",
    )
    report.add_argument(
        "--min-external-accuracy",
        type=float,
        help=f"exit with status {EXIT_BELOW_BAR} when the first external collection's test-half "
        "accuracy is under this bar, or missing (CI)",
    )
    report.set_defaults(run=_report_command)

    train = add_command(
        "train",
        "data",
        "profile",
        "quiet",
        help="train and evaluate the model into a run folder (what notebooks 03-04 do)",
        description="Train the CNN with the training notebook's code, evaluate it on the "
        "validation and test splits, and write a run folder (model, split, metrics, manifest).",
    )
    train.add_argument(
        "--out", help="run folder (default: a new reports/<time>-train-<profile>-seed<seed>/)"
    )
    train.add_argument(
        "--retrain", action="store_true", help="train again even if --out holds a complete run"
    )
    train.set_defaults(run=_train_command)

    predict = add_command(
        "predict",
        "model",
        "reports",
        "quiet",
        help="classify the faces in photos (files, folders, globs)",
        description="Find faces and their five landmarks with RetinaFace, align each onto "
        "UTKFace's landmark template, preprocess it exactly as in training and classify it at "
        "the model's "
        "own decision point. Every file and face gets a status; "
        f"the exit status is {EXIT_FAILED} only when no file could be processed. Arguments "
        "starting with @ name a file listing one path per line.",
        fromfile_prefix_chars="@",
    )
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image, folder or glob")
    predict.add_argument(
        "--cropped",
        action="store_true",
        help="each image is one face, as UTKFace files are: its most central face is aligned, "
        "or the whole image is used when none is found (the row says which)",
    )
    predict.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="a table for people (the default), CSV or JSON for programs",
    )
    predict.add_argument("-o", "--output", help="write the table/CSV/JSON here, not to stdout")
    predict.add_argument(
        "--annotate", metavar="DIR", help="write copies of the images with boxes and labels"
    )
    predict.add_argument("--batch-size", type=int, default=1024, help="faces per model call")
    predict.add_argument(
        "--workers",
        type=_at_least_one,
        default=None,
        metavar="N",
        help="processes that decode files and find faces (default: one per core; 1 keeps "
        "everything in this process)",
    )
    predict.add_argument("--progress", action="store_true", help="progress bar even when piped")
    predict.add_argument(
        "--ray",
        action="store_true",
        help='run as a Ray Data job (extra: pip install "facegen[ray]"): on $RAY_ADDRESS\'s '
        "cluster, else a local Ray on 127.0.0.1; -o names a Parquet folder, one row per face "
        "with the CSV's columns, and the same command run again goes on where it stopped",
    )
    predict.set_defaults(run=_predict_command)

    evaluate = add_command(
        "evaluate",
        "model",
        "reports",
        "quiet",
        help="score a model on a labelled face collection that is not UTKFace",
        description="Score a model on a labelled face collection: FairFace's layout (a folder "
        "with fairface_label_*.csv), folders per class (female/, male/), or a CSV with file,gender "
        "and optional age and ethnicity columns. Each face is found, aligned to UTKFace's frame "
        "and classified; the same per-subgroup tables with 95% intervals and the same fairness "
        "summary as the test split are written. Unreadable files, unknown labels and faces not "
        "found are counted and reported, never fatal. The collection is split once, seeded and "
        "stratified by gender x ethnicity, into halves: make choices on val, report test.",
    )
    evaluate.add_argument("path", help="the collection: a folder or a CSV file")
    evaluate.add_argument("--name", help="the collection's name in reports (default: its folder)")
    evaluate.add_argument(
        "--half",
        choices=config.EXTERNAL_HALVES,
        default="test",
        help="test (the default): the half reported; val: the half to make choices on; all",
    )
    evaluate.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    evaluate.add_argument(
        "--out",
        help="folder for metrics.json and predictions.csv "
        "(default: <model's run>/external/<name>-<half>/)",
    )
    evaluate.add_argument(
        "--ray",
        action="store_true",
        help="find, align and classify the faces as a Ray Data job (extra: pip install "
        '"facegen[ray]"): on $RAY_ADDRESS\'s cluster, else a local Ray on 127.0.0.1',
    )
    evaluate.set_defaults(run=_evaluate_command)

    download = add_command("download", help=f"download {config.KAGGLE_HANDLE} (kagglehub)")
    download.set_defaults(run=_download_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except FacegenError as exc:  # the user's mistake: one line, unless -v asks for more
        if args.verbose:
            traceback.print_exc()
        print(f"facegen: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("facegen: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
