"""``python -m local up`` is ``sniper up``."""

import sys

from local.cli import main

sys.exit(main())
