"""``%handover verify``: the clean-environment replay (the verify issue fills this in)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .errors import VerificationError

if TYPE_CHECKING:
    from .magics import HandoverMagics


def run_verify(magics: HandoverMagics, args: argparse.Namespace) -> None:
    raise VerificationError("verify is not available in this version yet")
