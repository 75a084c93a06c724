"""``python -m facegen`` is the ``facegen`` command."""

import sys

from facegen.cli import main

sys.exit(main())
