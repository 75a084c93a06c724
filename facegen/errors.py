"""The user's mistakes, as one exception type, and the exit statuses the command line gives.

A ``FacegenError`` is something the user can act on: the command line prints its message in one
line and exits with its ``exit_status``. Anything else that goes wrong is a bug and keeps its
traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_BELOW_BAR = 4
EXIT_INTERRUPTED = 130

EXIT_STATUSES = {
    EXIT_OK: "success",
    EXIT_FAILED: "the work failed: a notebook or training failed, or predict could not process "
    "any file",
    EXIT_USAGE: "usage error: a wrong option, parameter name or value, a data folder or model "
    "that is not there, or a run folder that cannot be used; nothing was started",
    EXIT_BAD_INPUT: "bad data or model: found but unusable (no usable face, a damaged or "
    "incompatible model, data changed under a run)",
    EXIT_BELOW_BAR: "facegen report --min-accuracy or --min-external-accuracy: the run completed "
    "under the bar",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); a run folder says so in its manifest",
}
"""What each exit status means: shown by ``facegen --help`` and listed in the README."""


class FacegenError(Exception):
    """Bad input from the user (a path, a file, a parameter); the message says what to do."""

    exit_status = EXIT_USAGE


class UsageError(FacegenError, ValueError):
    """Asked for something that cannot be done as asked: an unknown option or parameter, a value
    out of range, a path that is not there. Also a ValueError, as such checks always were."""

    exit_status = EXIT_USAGE


class BadInputError(FacegenError):
    """The data or model was found but cannot be used; the message says why."""

    exit_status = EXIT_BAD_INPUT


class RunFailed(FacegenError):
    """The work started and failed (a notebook, training); the run folder records why."""

    exit_status = EXIT_FAILED
