"""``python -m labelnoise_sim``: the same as the ``labelnoise-sim`` command."""

import sys

from .cli import main

sys.exit(main())
