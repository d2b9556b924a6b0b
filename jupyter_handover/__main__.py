"""``python -m jupyter_handover ...``: the same as ``jupyter handover ...``."""

import sys

from jupyter_handover.interfaces.cli.main import main

sys.exit(main())
