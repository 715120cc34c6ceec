"""``python -m labelnoise_sim.cli``: the same as ``labelnoise-sim``."""

import sys

from . import main

sys.exit(main())
