"""``python -m jupyter_handover.interfaces.cli``."""

import sys

from jupyter_handover.interfaces.cli.main import main

sys.exit(main())
