"""``python -m monitor`` is ``wiremon``."""

import sys

from .cli import main

sys.exit(main())
