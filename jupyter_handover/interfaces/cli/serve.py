"""``jupyter handover serve MODEL``: run the artifact's OWN runtime server.

The server that runs is the copy inside the artifact (``<artifact>/handover/runtime``),
started as ``python -m runtime serve`` with ``handover/`` as the working directory: exactly
what the Dockerfile's CMD and HANDOVER.md run, so what is tested here is what ships.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from jupyter_handover.errors import ArtifactError


def serve_command(
    handover_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    batch_window_ms: float | None = None,
    max_batch: int | None = None,
    python: str | None = None,
    verify_manifest: bool = True,
    capture: list[str] | None = None,
) -> list[str]:
    """The command line that serves the artifact whose ``handover/`` folder is given
    (``capture``: the ``--capture*`` options, as :func:`capture_options` gives them)."""
    if not (handover_dir / "runtime" / "server" / "app.py").is_file():
        raise ArtifactError(
            f"{handover_dir.parent} has no runtime server (handover/runtime/server/app.py): "
            "package the model again with this version of jupyter_handover"
        )
    cmd = [python or sys.executable, "-m", "runtime", "serve", "--host", host]
    cmd += ["--port", str(port), "--workers", str(workers)]
    if batch_window_ms is not None:
        cmd += ["--batch-window-ms", str(batch_window_ms)]
    if max_batch is not None:
        cmd += ["--max-batch", str(max_batch)]
    if not verify_manifest:
        cmd.append("--no-verify-manifest")
    return cmd + list(capture or [])


def capture_options(args: argparse.Namespace) -> list[str]:
    """The runtime's ``--capture*`` options from the CLI's (DIR made absolute: the server
    runs in the artifact's folder); none when ``--capture`` is not given."""
    if not args.capture:
        return []
    out = ["--capture", str(Path(args.capture).resolve())]
    if args.capture_rate is not None:
        out += ["--capture-rate", str(args.capture_rate)]
    if args.capture_max_mb is not None:
        out += ["--capture-max-mb", str(args.capture_max_mb)]
    for column in args.capture_exclude:
        out += ["--capture-exclude", column]
    return out


def _model_version(ref: str) -> str | None:
    """``models:/NAME/3`` -> ``"3"``, ``models:/NAME@prod`` -> ``"prod"`` (for ``/version``)."""
    match = re.match(r"^models:/[^/@]+[/@]([^/]+)$", ref)
    return match.group(1) if match else None


def cmd_serve(args: argparse.Namespace) -> int:
    """Resolve MODEL, then run its runtime server until it stops; returns its exit code."""
    from jupyter_handover.artifact.build import HANDOVER_DIR, resolve_model_ref

    hdir = resolve_model_ref(args.model) / HANDOVER_DIR
    cmd = serve_command(
        hdir,
        args.host,
        args.port,
        args.workers,
        args.batch_window_ms,
        args.max_batch,
        verify_manifest=args.verify_manifest,
        capture=capture_options(args),
    )
    env = dict(os.environ)
    version = _model_version(str(args.model))
    if version:
        env["HANDOVER_MODEL_VERSION"] = version
    print(f"serving {args.model} on http://{args.host}:{args.port}", file=sys.stderr)
    proc = subprocess.Popen(cmd, cwd=hdir, env=env)

    def forward(signum: int, _frame: Any) -> None:
        proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = proc.wait()
        # stopped by the signal we forwarded: a clean shutdown, not a failure
        return 0 if code in (-signal.SIGTERM, -signal.SIGINT) else code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def add_parsers(sub: Any) -> None:
    """Register ``serve`` on the CLI's subparsers."""
    p = sub.add_parser(
        "serve",
        help="serve an artifact with its own runtime server (MLflow scoring protocol)",
        description="Runs <artifact>/handover/runtime (python -m runtime serve): contract "
        "enforced on every request, micro-batching, /metrics, /ready, /docs.",
    )
    p.add_argument("model", help="artifact folder, runs:/..., models:/NAME/VERSION or @ALIAS")
    p.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to listen on every interface")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=1, help="server processes")
    p.add_argument(
        "--batch-window-ms",
        type=float,
        default=None,
        help="how long concurrent requests may wait to share a predict call (default 2; "
        "0 turns batching off)",
    )
    p.add_argument("--max-batch", type=int, default=None, help="rows per predict call (4096)")
    p.add_argument(
        "--no-verify-manifest",
        dest="verify_manifest",
        action="store_false",
        help="serve even when a file differs from the artifact's manifest (loudly: a warning "
        "at start and a field in /version)",
    )
    _capture_parsers(p)
    p.set_defaults(func=cmd_serve)


def _capture_parsers(p: Any) -> None:
    p.add_argument(
        "--capture",
        metavar="DIR",
        default=None,
        help="write sampled requests (rows, predictions, status, latency) to JSON lines files "
        "in DIR, the input of `jupyter handover shadow` (default: off)",
    )
    p.add_argument(
        "--capture-rate",
        type=float,
        default=None,
        metavar="P",
        help="share of requests captured, 0..1 (default 1: every request)",
    )
    p.add_argument(
        "--capture-max-mb",
        type=float,
        default=None,
        metavar="N",
        help="MiB the capture files may take in DIR, oldest files deleted first (1024)",
    )
    p.add_argument(
        "--capture-exclude",
        action="append",
        default=[],
        metavar="COL",
        help="a column never written to the capture files (repeatable)",
    )
