"""``%handover package``: build the artifact, log it to MLflow, optionally verify it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_handover.artifact.steps import step_ids, steps_json
from jupyter_handover.errors import DiscoveryError, TrackingError
from jupyter_handover.interfaces import display as ui
from jupyter_handover.interfaces.progress import JsonProgress, StepProgress

if TYPE_CHECKING:
    from jupyter_handover.artifact.build import BuildReport
    from jupyter_handover.discovery import Discovered
    from jupyter_handover.interfaces.ipython.magics import HandoverMagics

__all__ = ["run_package"]


class _PackageProgress:
    """The progress a person sees (bar or lines) and, with ``--json``, the panel's display."""

    def __init__(self, mode: str, as_json: bool) -> None:
        self.human = StepProgress("handover", step_ids(), mode)
        self.panel = JsonProgress(steps_json()) if as_json else None

    def __call__(self, step: str) -> None:
        self.human(step)
        if self.panel is not None:
            self.panel(step)

    def done(self, ok: bool) -> None:
        self.human.done(ok)


def run_package(magics: HandoverMagics, args: argparse.Namespace) -> None:
    """``%handover package``: discover, build, log, verify; show and record the result."""
    from jupyter_handover.discovery import discover
    from jupyter_handover.export.cells import export_inference_code
    from jupyter_handover.interfaces.ipython.session import resolve_notebook_path
    from jupyter_handover.registry.tracking import default_tracking_uri

    ns = magics.user_ns
    nb_path = resolve_notebook_path(args.notebook, ns)
    if args.examples < 1:
        raise DiscoveryError("--examples must be at least 1")
    hooks = export_inference_code(str(nb_path), tag=args.tag).hooks
    found = discover(
        ns, args.model, args.train, args.target, any_model="predict" in hooks, hooks=hooks
    )
    uri = default_tracking_uri(nb_path.parent, args.tracking_uri)
    progress = _PackageProgress(args.progress, args.json)
    ok = False
    try:
        report = _build(magics, args, found, nb_path, uri, progress, hooks)
        result = _built_result(report, found)
        if not args.no_log:
            progress("log")
            _log(magics, args, report, nb_path, uri, result)
        ok = True
    finally:
        progress.done(ok)
    if args.verify:
        from jupyter_handover.interfaces.ipython.verify import verify_for_package

        result["verify"] = verify_for_package(report.path, result)
    magics.last_package = result
    magics.write_result(result)
    magics.show(
        result, _summary_html(report, found, result), _summary_text(report, result), args.json
    )


def _build(
    magics: HandoverMagics,
    args: argparse.Namespace,
    found: Discovered,
    nb_path: Path,
    uri: str,
    progress: _PackageProgress,
    hooks: set[str],
) -> BuildReport:
    from jupyter_handover.artifact.build import build_artifact_report
    from jupyter_handover.interfaces.ipython.session import (
        find_metrics,
        find_params,
        kernel_predict,
    )
    from jupyter_handover.registry.tracking import registry_client_requirements

    ns = magics.user_ns
    return build_artifact_report(
        found.model,
        found.train,
        nb_path,
        Path(args.out) if args.out else nb_path.parent / "handover_artifacts",
        target=found.target,
        name=args.name,
        examples=args.examples,
        tag=args.tag,
        lock=not args.no_lock,
        notebook_predict=kernel_predict(ns, hooks),
        metrics=find_metrics(ns),
        params=find_params(nb_path, ns),
        progress=progress,
        extra_requirements={} if args.no_log else registry_client_requirements(uri),
    )


def _built_result(report: BuildReport, found: Discovered) -> dict[str, Any]:
    """The result of a built (not yet logged) artifact: what ``--json`` shows."""
    return {
        "status": "built",
        "artifact_path": str(report.path),
        "name": report.name,
        "model": found.model_name,
        "train": found.train_name,
        "target": found.target,
        "packaged": report.packaged,
        "inference": report.inference,
        "model_file": report.model_file.get("path"),
        "columns": len(report.contract.columns),
        "requirements": report.requirements,
        "lock_hashes": report.lock_hashes,
        "lock_message": report.lock_message,
        "warnings": report.export.warnings,
        "seconds": report.seconds,
        "steps": steps_json(),
    }


def _log(
    magics: HandoverMagics,
    args: argparse.Namespace,
    report: BuildReport,
    nb_path: Path,
    uri: str,
    result: dict[str, Any],
) -> None:
    """Log the artifact to MLflow and add where to ``result``; a failure is recorded for
    ``jupyter handover run`` (``log-failed``) and raised."""
    from jupyter_handover.artifact.build import load_artifact
    from jupyter_handover.registry.refs import file_sha256
    from jupyter_handover.registry.tags import package_tags
    from jupyter_handover.registry.tracking import log_handover

    meta = load_artifact(report.path).metadata
    try:
        logged = log_handover(
            report.path,
            report.name,
            tracking_uri=uri,
            experiment=args.experiment,
            tags=package_tags(
                meta,
                file_sha256(report.path / "handover" / "requirements.lock"),
                notebook_path=nb_path,
                lock_hashes=report.lock_hashes,
            ),
            params=meta.get("params"),
            metrics=meta.get("metrics"),
        )
    except TrackingError:
        magics.write_result({**result, "status": "log-failed"})
        raise
    result.update({"status": "logged", **logged.to_dict()})


def _summary_text(report: BuildReport, result: dict[str, Any]) -> str:
    lines = [f"artifact: {result['artifact_path']}", f"packaged: {report.packaged}"]
    lines.append(report.inference)
    if "model_uri" in result:
        lines.insert(0, f"model URI: {result['model_uri']}")
        lines.append(f"MLflow run: {result['run_id']} ({result['tracking_uri']})")
    if not report.lock_hashes:
        lines.append(f"WARNING: {report.lock_message}")
    lines += [f"warning: {w}" for w in report.export.warnings]
    return "\n".join(lines)


def _summary_html(report: BuildReport, found: Discovered, result: dict[str, Any]) -> str:
    shown = (
        "model_uri",
        "artifact_path",
        "run_id",
        "tracking_uri",
        "packaged",
        "inference",
        "lock_message",
    )
    return (
        f"<h4>Handover of <code>{ui._esc(report.name)}</code> "
        f"({ui._esc(found.model_name)} trained on {ui._esc(found.train_name)})</h4>"
        + ui.kv_html({k: v for k, v in result.items() if k in shown})
        + ui.section(
            f"Contract ({len(report.contract.columns)} columns)",
            ui.contract_table_html(report.contract.to_dict()),
        )
        + ui.section(
            f"Environment ({len(report.requirements)} requirements)",
            ui.bullet_html([f"{k}=={v}" for k, v in sorted(report.requirements.items())]),
        )
        + ui.section("Inference code", ui.code_html(report.export.code))
        + ui.section("Warnings", ui.bullet_html(report.export.warnings))
    )
