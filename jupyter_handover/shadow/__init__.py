"""Shadow a candidate against the model it would replace: the same rows through both, each
in its own clean environment, and a gate on how far the outputs move."""

from jupyter_handover.shadow.gate import Thresholds
from jupyter_handover.shadow.runner import ShadowResult, run_shadow
from jupyter_handover.shadow.text import report_text

__all__ = ["ShadowResult", "Thresholds", "report_text", "run_shadow"]
