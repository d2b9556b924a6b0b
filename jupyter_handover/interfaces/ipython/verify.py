"""``%handover verify``: the clean-environment replay, with progress and a summary."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_handover.errors import NothingToVerifyError, VerificationFailedError
from jupyter_handover.interfaces import display as ui
from jupyter_handover.interfaces.progress import StepProgress
from jupyter_handover.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL

if TYPE_CHECKING:
    from jupyter_handover.interfaces.ipython.magics import HandoverMagics
    from jupyter_handover.verify.verifier import VerifyReport


def _progress(mode: str = "auto") -> StepProgress:
    """The verify steps as a bar (live frontend) or lines (headless)."""
    from jupyter_handover.verify.verifier import STEPS

    return StepProgress("verify", STEPS, mode, done_labels=("passed", "failed"))


def _default_model(magics: HandoverMagics) -> tuple[str, str | None]:
    """The last package's model URI (with its tracking URI) or folder."""
    last = magics.last_package or {}
    ref = last.get("model_uri") or last.get("artifact_path")
    if not ref:
        raise NothingToVerifyError(
            "nothing to verify: pass an artifact folder or MLflow URI "
            "(%handover verify models:/NAME/VERSION), or run %handover package first"
        )
    if last.get("model_uri") and last.get("tracking_uri"):
        return str(ref), str(last["tracking_uri"])
    return str(ref), None


def summary_text(report: VerifyReport) -> str:
    """The report as plain text lines (the CLI prints the same)."""
    head = "PASSED" if report.passed else f"FAILED at {report.failed_step}"
    env = (
        f"env {report.env_digest[:12]}{' (cached)' if report.env_cached else ''}"
        if report.env_digest
        else "no environment"
    )
    lines = [
        f"{head}: {report.model_ref} ({report.rows} golden rows, Python {report.python}, {env})"
    ]
    lines += [f"  {p}" for p in report.problems]
    for m in report.mismatches[:50]:
        lines.append(f"  row {m['row']}: expected {m['expected']!r}, got {m['got']!r}")
    if len(report.mismatches) > 50:
        lines.append(f"  ... and {len(report.mismatches) - 50} more rows")
    lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))
    if report.profile:
        from jupyter_handover.artifact.profile import profile_text

        lines.append(f"resources (clean environment): {profile_text(report.profile)}")
    if report.recorded.get("run_id"):
        lines.append(f"recorded on MLflow run {report.recorded['run_id']} ({report.status})")
    elif report.recorded.get("error"):
        lines.append(f"not recorded on MLflow: {report.recorded['error']}")
    return "\n".join(lines)


def summary_html(report: VerifyReport) -> str:
    """The report as HTML: verdict, facts, mismatching rows, problems, seconds per step."""
    color = "#2e7d32" if report.passed else "#c62828"
    verdict = "passed" if report.passed else f"failed at {report.failed_step}"
    rows = "".join(
        f"<tr><td>{m['row']}</td><td><code>{ui._esc(m['expected'])}</code></td>"
        f"<td><code>{ui._esc(m['got'])}</code></td></tr>"
        for m in report.mismatches[:200]
    )
    table = (
        "<table><thead><tr><th>row</th><th>expected (notebook)</th><th>got (clean env)</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    return (
        f"<h4 style='color:{color}'>Verification {ui._esc(verdict)}</h4>"
        + ui.kv_html(
            {
                "model": report.model_ref,
                "golden rows": report.rows,
                "python": report.python,
                "environment": f"{report.env_digest or '-'}"
                + (" (cached)" if report.env_cached else ""),
                "tolerance": f"rtol {report.rtol}, atol {report.atol}",
                "recorded": report.recorded.get("tag") or report.recorded.get("error") or "-",
            }
        )
        + ui.section("Problems", ui.bullet_html(report.problems), open_=bool(report.problems))
        + (
            ui.section(f"Mismatching rows ({len(report.mismatches)})", table, open_=True)
            if report.mismatches
            else ""
        )
        + ui.section(
            "Seconds per step",
            ui.kv_html({k: f"{v:.2f}" for k, v in report.seconds.items()}),
        )
    )


def run_verify(magics: HandoverMagics, args: argparse.Namespace) -> None:
    """``%handover verify [MODEL] [--rtol] [--atol] [--json]``."""
    from jupyter_handover.registry.tracking import tracking_uri_for
    from jupyter_handover.verify.verifier import verify_artifact

    model, uri = (args.model, None) if args.model else _default_model(magics)
    if args.model and not Path(args.model).expanduser().is_dir() and ":/" not in args.model:
        raise NothingToVerifyError(
            f"{args.model!r} is neither an artifact folder nor an MLflow model URI "
            "(runs:/RUN/PATH, models:/NAME/VERSION, models:/NAME@ALIAS)"
        )
    progress = _progress(getattr(args, "progress", None) or "auto")
    with tracking_uri_for(uri):  # the kernel's MLflow state stays as it was
        report = verify_artifact(
            model,
            rtol=DEFAULT_RTOL if args.rtol is None else args.rtol,
            atol=DEFAULT_ATOL if args.atol is None else args.atol,
            progress=progress,
        )
    progress.done(report.passed)
    magics.show(report.to_dict(), summary_html(report), summary_text(report), args.json)
    if not report.passed and not args.json:
        raise VerificationFailedError(
            f"verification failed at {report.failed_step}: {report.problems[0]}"
        )


def verify_for_package(path: Path, logged: dict[str, Any] | None = None) -> dict[str, Any]:
    """``%handover package --verify``: verify the logged URI when there is one (the result is
    recorded on its run), else the local folder; a compact result for the package summary."""
    from jupyter_handover.registry.tracking import tracking_uri_for
    from jupyter_handover.verify.verifier import verify_artifact

    ref, uri = str(path), None
    if logged and logged.get("model_uri"):
        ref, uri = str(logged["model_uri"]), logged.get("tracking_uri")
    progress = _progress()
    with tracking_uri_for(uri):  # the kernel's MLflow state stays as it was
        report = verify_artifact(ref, progress=progress)
    progress.done(report.passed)
    print(summary_text(report), flush=True)
    return {
        "passed": report.passed,
        "model_ref": ref,
        "failed_step": report.failed_step,
        "problems": report.problems,
        "mismatches": report.mismatches[:20],
        "seconds": report.seconds,
        "env_digest": report.env_digest,
        "recorded": report.recorded,
    }
