"""``jupyter handover ...`` (also ``jupyter-handover ...``): the command-line adapter."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jupyter_handover.errors import HandoverError
from jupyter_handover.export.cells import DEFAULT_TAG


def _parse_value(raw: str) -> Any:
    """``-p NAME VALUE``: JSON when it parses (numbers, booleans, lists), else the string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _read_result(path: str) -> dict[str, Any]:
    """The outcome the magic wrote for us (empty when it never ran); the file is removed."""
    file = Path(path)
    text = file.read_text() if file.is_file() else ""
    file.unlink(missing_ok=True)
    return json.loads(text) if text else {}


def cmd_run(args: argparse.Namespace) -> int:
    from jupyter_handover.interfaces.ipython.session import ENV_NOTEBOOK, ENV_RESULT

    nb = Path(args.notebook).resolve()
    if not nb.is_file():
        print(f"error: {args.notebook}: no such notebook", file=sys.stderr)
        return 2
    out = Path(args.output).resolve() if args.output else nb.with_suffix(".out.ipynb")
    fd, result_file = tempfile.mkstemp(prefix="handover-result-", suffix=".json")
    os.close(fd)
    os.environ[ENV_NOTEBOOK] = str(nb)
    os.environ[ENV_RESULT] = result_file
    try:
        failed = _execute(args, nb, out, result_file)
    finally:
        os.environ.pop(ENV_NOTEBOOK, None)
        os.environ.pop(ENV_RESULT, None)
    if failed is not None:
        Path(result_file).unlink(missing_ok=True)
        return failed
    result = _read_result(result_file)
    if not result:
        print(
            "error: the notebook ran but never called %handover package: add it as the last "
            f"cell (executed notebook: {out})",
            file=sys.stderr,
        )
        return 1
    verify = result.get("verify") or {}
    print(f"artifact: {result['artifact_path']}")
    if "model_uri" in result:
        print(f"model URI: {result['model_uri']}")
    if verify.get("passed") is False:
        print("error: verification failed", file=sys.stderr)
        return 1
    return 0


def _execute(args: argparse.Namespace, nb: Path, out: Path, result_file: str) -> int | None:
    """Run the notebook with papermill; None when it ran to the end, else the exit code
    after one message on stderr (a failing cell, a dead kernel, an unknown kernel)."""
    import papermill as pm
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from jupyter_handover.export.cells import read_notebook
    from jupyter_handover.interfaces.cli.engine import register

    kernel = args.kernel
    if kernel is None:
        spec = read_notebook(nb).get("metadata", {}).get("kernelspec") or {}
        kernel = spec.get("name") or "python3"
    params = {name: _parse_value(value) for name, value in args.parameters or []}
    try:
        pm.execute_notebook(
            str(nb),
            str(out),
            parameters=params,
            cwd=str(nb.parent),
            kernel_name=kernel,
            progress_bar=False,
            log_output=args.verbose,
            engine_name=register(),  # nbclient, not stuck on a stranded execute_reply
        )
    except PapermillExecutionError as exc:
        failed = _read_result(result_file)
        reason = failed.get("error") or f"{exc.ename}: {exc.evalue}"
        message = f"the notebook failed in cell [{exc.exec_count}]: {reason}"
    except (DeadKernelError, CellTimeoutError) as exc:
        message = (
            "the kernel died while it ran the notebook (killed, or out of memory"
            f"{': ' + str(exc).splitlines()[0] if str(exc).strip() else ''}): run it again; "
            "a package it left half-written is cleaned by the next package"
        )
    except NoSuchKernel:
        print(
            f"error: there is no Jupyter kernel named {kernel!r}: pick one of "
            "`jupyter kernelspec list` with --kernel",
            file=sys.stderr,
        )
        return 2
    else:
        return None
    print(f"error: {message}", file=sys.stderr)
    print(f"the executed notebook is at {out}", file=sys.stderr)
    return 1


def _verified(model: str, meta: dict[str, Any]) -> str:
    """The latest verification of an MLflow model (its tags); a folder is never modified by
    verify, so for a folder the answer is what handover.json says (normally not-run)."""
    from jupyter_handover.registry.refs import is_mlflow_uri

    if is_mlflow_uri(model):
        try:
            from jupyter_handover.registry.tracking import verification_state

            return verification_state(str(model))[1]
        except Exception as exc:  # inspect still shows everything else
            return f"unknown ({exc})"
    return str(meta.get("verified", "not-run"))


def _resources(model: str, meta: dict[str, Any]) -> str:
    """The resource profile in words: what the latest verify measured (MLflow tags), else
    what an older artifact measured when it was packaged."""
    from jupyter_handover.artifact.profile import profile_text

    profile = (meta.get("resources") or {}).get("profile")
    if str(model).startswith(("models:/", "runs:/")):
        try:
            from jupyter_handover.registry.tracking import verification_resources

            profile = verification_resources(str(model)) or profile
        except Exception as exc:  # inspect still shows everything else
            return f"unknown ({exc})"
    return profile_text(profile)


def _shadowed(model: str) -> str:
    """The latest shadow of an MLflow model (its tags): status, against what, when."""
    from jupyter_handover.registry.refs import is_mlflow_uri

    if not is_mlflow_uri(model):
        return "not-run (a folder: shadow a models:/ or runs:/ URI to record one)"
    try:
        from jupyter_handover.registry.shadow import shadow_state

        state = shadow_state(str(model))
    except Exception as exc:  # inspect still shows everything else
        return f"unknown ({exc})"
    if state is None:
        return "not-run"
    return f"{state['status']} against {state['against']} at {state['at']}"


def cmd_inspect(args: argparse.Namespace) -> int:
    from jupyter_handover.artifact.build import load_artifact
    from jupyter_handover.interfaces import display as ui

    art = load_artifact(args.model)
    meta = art.metadata
    if args.json:
        print(
            json.dumps(
                {
                    "metadata": meta,
                    "contract": art.contract.to_dict(),
                    "environment": {k: v for k, v in art.environment.items() if k != "packages"},
                    "shadow": _shadowed(args.model),
                },
                indent=2,
                default=str,
            )
        )
        return 0
    lock = art.environment.get("lock", {})
    print(
        f"{meta['name']}  (created {meta['created']}, jupyter_handover {meta['jupyter_handover']})"
    )
    print(f"path:      {art.path}")
    print(f"notebook:  {meta['notebook']['path']}  sha256 {meta['notebook']['sha256'][:16]}")
    print(f"git:       {meta.get('git_commit') or 'none'}")
    print(f"model:     {meta['model_class']}  hooks: {', '.join(meta['hooks']) or 'none'}")
    print(f"python:    {meta['python']}")
    print(f"lock:      {'hashed' if lock.get('hashes') else 'NO HASHES'} ({lock.get('tool')})")
    print(f"verified:  {_verified(args.model, meta)}")
    print(f"resources: {_resources(args.model, meta)}")
    print(f"shadow:    {_shadowed(args.model)}")
    print("requirements:")
    for name, version in sorted(art.environment.get("used", {}).items()):
        print(f"  {name}=={version}")
    print("contract:")
    print("  " + ui.contract_text(art.contract.to_dict()).replace("\n", "\n  "))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from jupyter_handover.export.cells import export_inference_code

    result = export_inference_code(args.notebook, tag=args.tag, notebook_path=args.notebook)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if args.output:
        Path(args.output).write_text(result.code)
    else:
        sys.stdout.write(result.code)
    return 0 if result.ok else 1


def cmd_log(args: argparse.Namespace) -> int:
    from jupyter_handover.artifact.build import load_artifact
    from jupyter_handover.registry.refs import file_sha256
    from jupyter_handover.registry.tags import package_tags
    from jupyter_handover.registry.tracking import default_tracking_uri, log_handover

    art = load_artifact(args.artifact)
    meta = art.metadata
    logged = log_handover(
        art.path,
        args.name or meta["name"],
        tracking_uri=default_tracking_uri(art.path.parent, args.tracking_uri),
        experiment=args.experiment,
        tags=package_tags(meta, file_sha256(art.handover_dir / "requirements.lock")),
        params=meta.get("params"),
        metrics=meta.get("metrics"),
    )
    print(f"model URI: {logged.model_uri}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    # Commands that live in their own modules: each adds its parsers and sets ``func``.
    from jupyter_handover.interfaces.cli import (
        batch,
        contract,
        env,
        loadtest,
        release,
        serve,
        shadow,
        verify,
    )

    parser = argparse.ArgumentParser(
        prog="jupyter handover", description="Carry a notebook model into production."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a notebook with papermill and report the handover")
    run.add_argument("notebook")
    run.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="papermill parameter (repeatable)",
    )
    run.add_argument("-o", "--output", help="executed notebook (default: NOTEBOOK.out.ipynb)")
    run.add_argument("-k", "--kernel", default=None, help="kernel name (default: the notebook's)")
    run.add_argument("-v", "--verbose", action="store_true", help="stream cell output")
    run.set_defaults(func=cmd_run)
    ins = sub.add_parser("inspect", help="contract, environment and metadata of an artifact")
    ins.add_argument("model", help="artifact folder, runs:/..., models:/NAME/VERSION or @ALIAS")
    ins.add_argument("--json", action="store_true")
    ins.set_defaults(func=cmd_inspect)
    exp = sub.add_parser("export", help="the static export of tagged cells, no kernel")
    exp.add_argument("notebook")
    exp.add_argument("-o", "--output", help="write inference.py here (default: stdout)")
    exp.add_argument("--tag", default=DEFAULT_TAG)
    exp.set_defaults(func=cmd_export)
    log = sub.add_parser("log", help="log an artifact folder to MLflow (after a failed log)")
    log.add_argument("artifact")
    log.add_argument("--name")
    log.add_argument("--tracking-uri")
    log.add_argument("--experiment")
    log.set_defaults(func=cmd_log)
    for module in (env, contract, verify, release, serve, batch, loadtest, shadow):
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except HandoverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return code


if __name__ == "__main__":
    sys.exit(main())
