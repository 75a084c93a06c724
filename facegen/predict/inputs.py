"""What ``facegen predict`` was asked to read: files, folders, globs and ``@list`` files."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class InputFile:
    """One file to classify: where it is, how to name it in the output, where it came from."""

    path: Path
    name: str  # as the user will recognise it (relative to the folder they passed)
    problem: str | None = None  # set when the argument itself is unusable (no such file)


def collect_inputs(arguments: Sequence[str]) -> list[InputFile]:
    """Files, folders (walked recursively, every file in them) and glob patterns, in order.

    Folders contribute every file, images or not: a stray PDF gets its own "not an image"
    status rather than vanishing. Hidden files (``.DS_Store``) are left out. A path that does
    not exist and matches no pattern is kept with a problem, so the output still lists it.
    """
    inputs: list[InputFile] = []
    seen: set[Path] = set()

    def add(path: Path, name: str) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            inputs.append(InputFile(path, name))

    for argument in arguments:
        path = Path(argument).expanduser()
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = file.relative_to(path)
                if not any(part.startswith(".") for part in relative.parts):
                    add(file, str(Path(path.name) / relative))
        elif path.is_file():
            add(path, str(argument))
        elif glob.has_magic(argument):
            matches = sorted(glob.glob(os.path.expanduser(argument), recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                inputs.append(InputFile(path, argument, "no file matches this pattern"))
            for file in files:
                add(file, str(file))
        else:
            inputs.append(InputFile(path, argument, "no such file or folder"))
    return inputs
