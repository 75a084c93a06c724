"""``python -m facegen`` is the ``facegen`` command."""

import sys

from facegen.cli import main

if __name__ == "__main__":  # worker processes may import this module: they must not run it
    sys.exit(main())
