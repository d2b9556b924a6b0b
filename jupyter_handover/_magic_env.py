"""``%handover env``: the kernel's environment and what the model needs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from . import _display as ui

if TYPE_CHECKING:
    from .magics import HandoverMagics


def run_env(magics: HandoverMagics, args: argparse.Namespace) -> None:
    from .discovery import find_models
    from .environment import capture_environment, minimal_requirements
    from .export import export_inference_code
    from .magics import resolve_notebook_path

    env = capture_environment()
    data: dict[str, Any] = {
        "python": env.python,
        "platform": env.platform,
        "packages": len(env.packages),
    }
    ns = magics.user_ns
    models = {args.model: ns[args.model]} if args.model and args.model in ns else find_models(ns)
    if len(models) == 1:
        code = ""
        try:
            code = export_inference_code(str(resolve_notebook_path(args.notebook, ns))).code
        except Exception:  # without a notebook the model's own needs are still useful
            code = ""
        data["requirements"] = minimal_requirements(next(iter(models.values())), code)
    reqs = data.get("requirements", {})
    text = (
        f"Python {env.python} on {env.platform}; {len(env.packages)} distributions installed\n"
        + (
            "\n".join(f"{k}=={v}" for k, v in sorted(reqs.items()))
            or "(no single fitted model found: requirements need --model VAR)"
        )
    )
    magics.show(data, f"<pre>{ui._esc(text)}</pre>", text, args.json)
