"""``%handover env [ARTIFACT]``: the kernel's environment and what the model needs.

With an artifact (folder or MLflow URI): the kernel's environment against the artifact's,
the same comparison as ``jupyter handover diff-env``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from jupyter_handover.interfaces import display as ui

if TYPE_CHECKING:
    from jupyter_handover.interfaces.ipython.magics import HandoverMagics

__all__ = ["run_env"]


def _gib(n: int | None) -> str:
    return f"{n / 2**30:.1f} GiB" if n else "?"


def _run_diff(magics: HandoverMagics, args: argparse.Namespace) -> None:
    from jupyter_handover.artifact.build import load_artifact
    from jupyter_handover.environment.diff import diff_environment, diff_table

    art = load_artifact(args.artifact)
    diff = diff_environment(art.environment)
    data: dict[str, Any] = {"artifact": str(args.artifact), **diff.to_dict()}
    text = diff_table(diff)
    colour = "#1a7f37" if diff.ok else "#c62828"
    head = text.split("\n", 1)[0]
    html = (
        f'<p style="color:{colour};font-weight:bold">{ui._esc(head)}</p>'
        f"<pre>{ui._esc(text.split(chr(10), 1)[1])}</pre>"
    )
    magics.show(data, html, text, args.json)


def run_env(magics: HandoverMagics, args: argparse.Namespace) -> None:
    """``%handover env``: see the module docstring."""
    if getattr(args, "artifact", None):
        _run_diff(magics, args)
        return
    from jupyter_handover.discovery import find_models
    from jupyter_handover.environment.capture import analyze_requirements, capture_environment
    from jupyter_handover.export.cells import export_inference_code
    from jupyter_handover.interfaces.ipython.session import resolve_notebook_path

    env = capture_environment()
    data: dict[str, Any] = {
        "python": env.python,
        "implementation": env.implementation,
        "abi": env.abi,
        "platform": env.platform,
        "libc": env.libc,
        "cpu_count": env.cpu_count,
        "memory_bytes": env.memory_bytes,
        "packages": len(env.packages),
        "origins": env.origins,
        "imported": env.imported,
    }
    ns = magics.user_ns
    models = {args.model: ns[args.model]} if args.model and args.model in ns else find_models(ns)
    lines = [
        f"Python {env.python} ({env.implementation}, {env.abi}) on {env.platform}; "
        f"{env.cpu_count} CPUs, {_gib(env.memory_bytes)}",
        f"{len(env.packages)} distributions installed; {len(env.imported)} imported by the kernel",
    ]
    lines += [f"installed from {o.get('url')}: {n}" for n, o in sorted(env.origins.items())]
    if len(models) == 1:
        code = ""
        try:
            code = export_inference_code(str(resolve_notebook_path(args.notebook, ns))).code
        except Exception:  # without a notebook the model's own needs are still useful
            code = ""
        analysis = analyze_requirements(next(iter(models.values())), code)
        data["requirements"] = analysis.requirements
        data["unresolved"] = analysis.unresolved
        data["excluded"] = analysis.excluded
        lines.append("Minimal requirements of the inference path:")
        lines += [f"  {k}=={v}" for k, v in analysis.requirements.items()]
        if analysis.excluded:
            lines.append("Notebook-only, left out: " + ", ".join(analysis.excluded))
        if analysis.unresolved:
            lines.append(
                "NOT INSTALLED AS A DISTRIBUTION (loading elsewhere will fail): "
                + ", ".join(analysis.unresolved)
            )
    else:
        lines.append("(no single fitted model found: requirements need --model VAR)")
    text = "\n".join(lines)
    magics.show(data, f"<pre>{ui._esc(text)}</pre>", text, args.json)
