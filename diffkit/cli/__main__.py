"""``python -m diffkit.cli``: the same as the ``diffkit`` console script."""

import sys

from . import main

sys.exit(main())
