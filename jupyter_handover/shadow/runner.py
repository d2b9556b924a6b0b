"""``shadow``: run a candidate and the model it would replace on the same rows, each in its own
clean environment, and judge how far the candidate's outputs move."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_handover.errors import ShadowUsageError
from jupyter_handover.registry.refs import is_mlflow_uri, resolve_model_ref
from jupyter_handover.shadow import compare, outputs
from jupyter_handover.shadow.contracts import contract_differences
from jupyter_handover.shadow.environments import ModelRun, run_models, shadow_python
from jupyter_handover.shadow.gate import Thresholds, evaluate
from jupyter_handover.shadow.inputs import ShadowInput, load_contract, shadow_input

__all__ = ["DEFAULT_BATCH_ROWS", "DEFAULT_SINGLE_ROWS", "ShadowResult", "run_shadow"]

#: Rows per timed batch call in a worker.
DEFAULT_BATCH_ROWS = 2000
#: Rows also sent one at a time, for the p50/p99 of a single call.
DEFAULT_SINGLE_ROWS = 200
#: At most this long (seconds) per model on the single-row calls.
DEFAULT_SINGLE_SECONDS = 1.0


@dataclass
class ShadowResult:
    """The report (JSON-ready), whether the gate passed, and where it was logged."""

    report: dict[str, Any]
    logged: dict[str, Any] | None = None
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.report["gate"]["passed"])


def _exact(ref: str) -> str:
    """``models:/NAME@ALIAS`` (or ``/latest``) as the ``models:/NAME/VERSION`` it names now."""
    if is_mlflow_uri(ref) and ref.startswith("models:/"):
        from jupyter_handover.registry.shadow import exact_model_uri

        return exact_model_uri(ref)
    return ref


def _handover(ref: str, downloads: Path, role: str) -> Path:
    root = resolve_model_ref(ref, downloads / role)
    folder = root / "handover"
    if not (folder / "contract.json").is_file() or not (folder / "runtime").is_dir():
        raise ShadowUsageError(
            f"{ref} ({role}) is not a handover artifact (no handover/contract.json): pass a "
            "folder written by %handover package or its models:/ URI"
        )
    return folder


def _build_report(
    refs: dict[str, dict[str, str]],
    given: ShadowInput,
    runs: dict[str, ModelRun],
    differences: list[dict[str, Any]],
    thresholds: Thresholds,
) -> dict[str, Any]:
    n = len(given.frame)
    predicted = outputs.outputs_of(runs)
    names = predicted["compared"]
    champion, candidate = outputs.compared_rows(runs, names)
    kind = outputs.model_kind(runs, champion, names)
    agree, notes = outputs.agreement(runs, champion, candidate, kind, names)
    if predicted["finding"]:
        notes.insert(0, predicted["finding"])
    report: dict[str, Any] = {
        "shadow_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "candidate": refs["candidate"],
        "against": refs["champion"],
        "input": given.source,
        "rows": n,
        "notes": given.notes + notes,
        "kind": kind,
        "contract": {
            "differences": differences,
            **compare.contract_outcome(runs, n),
        },
        "outputs": predicted,
        "agreement": agree,
        "models": {role: compare.model_summary(runs[role], n) for role in compare.ROLES},
    }
    report["gate"] = evaluate(report, thresholds)
    return report


def _phases(clock: dict[str, float]) -> dict[str, float]:
    """Seconds of each phase (inputs include downloading the models), and the total."""
    names = list(clock)
    out = {b: round(clock[b] - clock[a], 3) for a, b in zip(names, names[1:], strict=False)}
    out["report"] = round(time.perf_counter() - clock[names[-1]], 3)
    out["total"] = round(time.perf_counter() - clock["start"], 3)
    return out


def _log(uri: str, runs: dict[str, ModelRun], report: dict[str, Any], tmp: Path) -> Any:
    from jupyter_handover.registry.shadow import record_shadow
    from jupyter_handover.shadow.plot import distribution_png

    png = tmp / "handover_shadow.png"
    distribution_png(runs, report["kind"], png, report["outputs"]["compared"])
    return record_shadow(uri, report, png)


def run_shadow(
    candidate: str,
    against: str,
    *,
    traffic: Sequence[str] = (),
    data: str | None = None,
    synthetic: int | None = None,
    seed: int = 0,
    thresholds: Thresholds | None = None,
    cache_dir: Path | None = None,
    log: bool = True,
    say: Callable[[str], None] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    single_rows: int = DEFAULT_SINGLE_ROWS,
) -> ShadowResult:
    """Shadow ``candidate`` against ``against`` on one input (see :func:`shadow_input`);
    log the report to the candidate's MLflow run and version unless ``log`` is false or the
    candidate is a folder. Raises :class:`ShadowUsageError` for bad arguments and
    :class:`ShadowEnvironmentError` when an environment cannot be built."""
    note = say or (lambda _m: None)
    limits = thresholds or Thresholds()
    refs = {
        "candidate": {"ref": candidate, "uri": _exact(candidate)},
        "champion": {"ref": against, "uri": _exact(against)},
    }
    clock = {"start": time.perf_counter()}
    with tempfile.TemporaryDirectory(prefix="handover-shadow-models-") as tmp:
        folders = {role: _handover(r["uri"], Path(tmp), role) for role, r in refs.items()}
        contracts = {role: load_contract(f) for role, f in folders.items()}
        given = shadow_input(
            contracts["champion"], traffic=traffic, data=data, synthetic=synthetic, seed=seed
        )
        clock["inputs"] = time.perf_counter()
        pythons = {}
        for role, folder in folders.items():
            note(f"{role}: environment of its own lock")
            pythons[role] = shadow_python(folder, cache_dir, note)
        clock["environments"] = time.perf_counter()
        note(f"running both models on {len(given.frame)} rows")
        options = {
            "text": given.text,
            "batch_rows": batch_rows,
            "single_rows": single_rows,
            "single_seconds": DEFAULT_SINGLE_SECONDS,
        }
        runs = run_models(
            {role: (pythons[role], folders[role]) for role in folders}, given.frame, options
        )
        clock["models"] = time.perf_counter()
        differences = contract_differences(contracts["champion"], contracts["candidate"])
        report = _build_report(refs, given, runs, differences, limits)
        report["seconds"] = _phases(clock)
        result = ShadowResult(report, outputs={r: runs[r].outputs for r in runs})
        if log and is_mlflow_uri(refs["candidate"]["uri"]):
            result.logged = _log(refs["candidate"]["uri"], runs, report, Path(tmp))
    return result
