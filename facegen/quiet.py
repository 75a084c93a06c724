"""TensorFlow started without its start-up chatter on the terminal.

Importing TensorFlow 2.21 and touching a device writes lines from C++ straight to the process's
stderr: "All log messages before absl::InitializeLog() is called...", oneDNN and CPU-feature
notices and, on every machine without a GPU, "E0000 ... failed call to cuInit", which reads like
a failure. ``TF_CPP_MIN_LOG_LEVEL=3`` silences the cuInit line but not the ones logged before
absl's logging is initialised (measured: docs/decisions.md), so stderr's file descriptor points at
a temporary file while TensorFlow starts, and is restored afterwards. If starting fails, what
TensorFlow said is shown with the error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


def start_tensorflow_quietly() -> None:
    """Import TensorFlow and find its devices (where the cuInit line comes from) with stderr
    captured; later C++ messages below error level (allocation notices, for example) stay off
    too, through ``TF_CPP_MIN_LOG_LEVEL=2``, unless the user set that variable."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with captured_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()


@contextlib.contextmanager
def captured_stderr() -> Iterator[None]:
    """Point file descriptor 2 (C++ and Python writes alike) at a temporary file for the block;
    replay the capture on the real stderr if the block raises, since it may say why."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            except BaseException:
                os.dup2(saved, 2)
                sink.seek(0)
                os.write(2, sink.read())
                raise
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
