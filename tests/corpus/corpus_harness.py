"""Run one corpus notebook as a user would: append ``%load_ext jupyter_handover`` and two
``%handover package`` cells, execute it with ``jupyter handover run``, verify what it printed.

One papermill run per notebook serves both modes. The first appended package cell takes no
arguments; a user's code cell around it (``get_ipython().run_line_magic``) catches its error
and writes the outcome to ``corpus_auto.json``, so the run goes on. The last cell is the plain
``%handover package --model M --train T [--target C]`` of the manifest, whose outcome is what
``jupyter handover run`` prints (model URI, or the error and exit code 1).

Each notebook gets its own folder and MLflow store (SQLite in that folder, the magic's own
default); verify's clean environments come from its shared cache (``JUPYTER_HANDOVER_ENV_CACHE``,
set by the test fixtures), so notebooks with the same lock build one environment between them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[2]
#: Registered model names of the two modes (each notebook has its own MLflow store).
AUTO_NAME = "corpus-auto"
EXPLICIT_NAME = "corpus-explicit"
AUTO_FILE = "corpus_auto.json"
#: seconds; a notebook alone takes 10-38 s here, a cold verify about a minute
RUN_TIMEOUT = 360
#: runs more of a notebook whose own cells hung before ours (see run_notebook); one is
#: left as a safety net now that `jupyter handover run` recovers stranded replies
HANG_RETRIES = 1
VERIFY_TIMEOUT = 600

AUTO_CELL = f"""# package with no arguments, as a user tries first; keep the outcome and go on
import json as _hj, os as _hos
_hfile = _hos.environ.get("JUPYTER_HANDOVER_RESULT")
try:
    get_ipython().run_line_magic("handover", "package --name {AUTO_NAME}")
    _hout = {{"ok": True}}
except BaseException as _hexc:
    _hout = {{"ok": False, "error": f"{{type(_hexc).__name__}}: {{_hexc}}"}}
if _hfile and _hos.path.getsize(_hfile):
    with open(_hfile) as _hf:
        _hout["result"] = _hj.load(_hf)
    open(_hfile, "w").close()  # what `jupyter handover run` reads is the next package's
with open("{AUTO_FILE}", "w") as _hf:
    _hj.dump(_hout, _hf, default=str)
"""


def find_corpus() -> Path | None:
    """``JUPYTER_HANDOVER_CORPUS``, else ``../shared/corpus`` of the checkout, else
    ``/work/shared/corpus``: the folder that holds ``manifest.json``."""
    candidates = [os.environ.get("JUPYTER_HANDOVER_CORPUS", "")]
    candidates += [str(ROOT.parent / "shared" / "corpus"), "/work/shared/corpus"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "manifest.json").is_file():
            return Path(candidate)
    return None


def load_manifest(corpus: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((corpus / "manifest.json").read_text())
    return entries


def explicit_arguments(entry: dict[str, Any]) -> str:
    """``--model M --train T [--target C]``. ``target_var`` (a separate ``y`` array or
    Series) is never passed: ``--target`` names a column of the training data to leave out of
    the input contract, and a separate ``y`` is not part of the inputs anyway."""
    args = f"--model {entry['model_var']} --train {entry['train_var']}"
    if entry.get("target_col"):
        args += f" --target {entry['target_col']}"
    return args


def prepare(entry: dict[str, Any], corpus: Path, work: Path) -> Path:
    """Copy the notebook and its support files into ``work``; append the user's cells."""
    src = corpus / "notebooks"
    work.mkdir(parents=True, exist_ok=True)
    for support in entry.get("support_files") or []:
        target = work / support["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / support["path"], target)
    nb = nbformat.read(str(src / entry["file"]), as_version=4)
    cells = [
        new_code_cell("%load_ext jupyter_handover"),
        new_code_cell(AUTO_CELL),
        new_code_cell(f"%handover package {explicit_arguments(entry)} --name {EXPLICIT_NAME}"),
    ]
    if nb.get("nbformat_minor", 0) < 5:  # ids exist from nbformat 4.5 on
        for cell in cells:
            cell.pop("id", None)
    nb.cells.extend(cells)
    path = work / entry["file"]
    nbformat.write(nb, str(path))
    return path


@dataclass
class ModeResult:
    """One ``%handover package`` of a notebook: packaged or stopped, then verified or not."""

    packaged: bool = False
    model: str | None = None
    uri: str | None = None
    error: str | None = None
    verified: bool | None = None
    verify_error: str | None = None
    package_seconds: float | None = None
    ok: bool = False
    why: str = ""


@dataclass
class NotebookResult:
    file: str
    work: str = ""
    explicit: ModeResult = field(default_factory=ModeResult)
    auto: ModeResult = field(default_factory=ModeResult)
    seconds: float = 0.0
    run_seconds: float = 0.0
    verify_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.explicit.ok and self.auto.ok

    def first_error(self) -> str:
        """The first reason this notebook does not pass, one line."""
        for mode, res in (("explicit", self.explicit), ("auto", self.auto)):
            if not res.ok:
                return f"{mode}: {res.why}"
        return ""

    def line(self) -> str:
        def yn(res: ModeResult) -> str:
            return "yes" if res.packaged else "no"

        def ver(res: ModeResult) -> str:
            return {True: "pass", False: "FAIL", None: "-"}[res.verified]

        status = "ok" if self.ok else "FAIL"
        return (
            f"{self.file:<58} packaged explicit={yn(self.explicit):<3} auto={yn(self.auto):<3} "
            f"verify explicit={ver(self.explicit):<4} auto={ver(self.auto):<4} "
            f"{self.seconds:6.1f}s {status}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "ok": self.ok,
            "first_error": self.first_error(),
            "line": self.line(),
        }


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_HANDOVER_RESULT")}
    env.update(
        {
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
    )
    return env


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    line = errors[0].removeprefix("error: ") if errors else lines[-1] if lines else "no output"
    return line[:500]


def _tail(text: str, n: int = 400) -> str:
    return " ".join(text.split())[-n:]


def _run_in_group(cmd: list[str], work: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own process group; on timeout stop the whole group (the kernel
    too) and answer exit 124 with the reason on stderr."""
    proc = subprocess.Popen(
        cmd,
        cwd=work,
        env=_env(work),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\nerror: {Path(cmd[-1]).name}: no answer after {timeout:.0f} s (stopped)"
        return subprocess.CompletedProcess(cmd, 124, out, err)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def verify(uri: str, work: Path) -> tuple[bool, str | None]:
    """``jupyter handover verify URI``: passed, and the reason when it did not."""
    proc = _run_in_group(
        [sys.executable, "-m", "jupyter_handover", "verify", uri, "--json"], work, VERIFY_TIMEOUT
    )
    if proc.returncode == 0:
        return True, None
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        return False, _last_line(proc.stderr or proc.stdout)
    problems = report.get("problems") or []
    if report.get("mismatches"):
        problems.append(f"{len(report['mismatches'])} mismatches, first {report['mismatches'][0]}")
    step = report.get("failed_step") or "compare"
    return False, f"[{step}] " + ("; ".join(map(str, problems)) or _tail(proc.stdout))[:500]


def _candidates_named(message: str, entry: dict[str, Any]) -> bool:
    """The stop message lists the manifest's model among the candidates: its name (as a
    word) and its class both appear."""
    name = re.escape(entry["model_var"])
    return bool(re.search(rf"(?<![\w.]){name}(?![\w])", message)) and (
        entry["model_class"] in message
    )


def judge_explicit(res: ModeResult, entry: dict[str, Any]) -> None:
    expected = entry.get("expect_error")
    if expected:
        res.ok = not res.packaged and expected.lower() in (res.error or "").lower()
        res.why = (
            "stopped as the manifest expects"
            if res.ok
            else (
                f"expected a stop mentioning {expected!r}, got: "
                + (res.error or f"packaged {res.uri}")
            )
        )
        return
    if not res.packaged:
        res.why = res.error or "not packaged"
    elif not res.verified:
        res.why = f"verify failed: {res.verify_error}"
    else:
        res.ok, res.why = True, "packaged and verified"


def judge_auto(res: ModeResult, entry: dict[str, Any]) -> None:
    """No arguments: pick the manifest's model (and verify), or stop listing the candidates."""
    expected = entry.get("expect_error")
    if res.packaged:
        if res.model != entry["model_var"]:
            res.why = f"picked {res.model}, the manifest's model is {entry['model_var']}"
        elif not res.verified:
            res.why = f"verify failed: {res.verify_error}"
        else:
            res.ok, res.why = True, "picked the manifest's model, verified"
        return
    message = res.error or ""
    if _candidates_named(message, entry):
        res.ok, res.why = True, "stopped, listing the candidates"
    elif expected and expected.lower() in message.lower():
        res.ok, res.why = True, "stopped as the manifest expects"
    else:
        res.why = message or "not packaged"


def run_notebook(entry: dict[str, Any], corpus: Path, work: Path) -> NotebookResult:
    """Prepare, run once (both modes), verify each printed URI, judge both modes."""
    t0 = time.perf_counter()
    result = NotebookResult(entry["file"], str(work))
    nb = prepare(entry, corpus, work)
    cmd = [sys.executable, "-m", "jupyter_handover", "run", str(nb)]
    proc = _run_in_group(cmd, work, RUN_TIMEOUT)
    for _retry in range(HANG_RETRIES):
        if proc.returncode != 124 or (work / AUTO_FILE).exists():
            break
        # The notebook's OWN cells hung before any of ours ran. An ipywidgets `interact`
        # cell used to (nbclient missed the cell's execute_reply, jupyter/nbclient#312; 3
        # runs of 10 under load); `jupyter handover run` now polls again once the kernel is
        # idle (docs/decisions.md, "Running notebooks"), so this retry is a safety net for
        # what that does not cover. A hang in our cells is never retried.
        proc = _run_in_group(cmd, work, RUN_TIMEOUT)
    result.run_seconds = time.perf_counter() - t0
    (work / "run.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    explicit = result.explicit
    found = re.search(r"^model URI: (\S+)", proc.stdout, re.M)
    if proc.returncode == 0 and found:
        explicit.packaged, explicit.uri, explicit.model = True, found.group(1), entry["model_var"]
    else:
        explicit.error = _last_line(proc.stderr or proc.stdout)
    auto = result.auto
    auto_file = work / AUTO_FILE
    if auto_file.is_file():
        outcome = json.loads(auto_file.read_text())
        logged = outcome.get("result") or {}
        if outcome.get("ok") and logged.get("model_uri"):
            auto.packaged, auto.uri, auto.model = True, logged["model_uri"], logged.get("model")
            auto.package_seconds = logged.get("seconds")
        else:
            auto.error = str(outcome.get("error") or logged.get("error") or "no model URI")[:1000]
    else:
        auto.error = "the notebook failed before the package cells: " + (explicit.error or "")
    t1 = time.perf_counter()
    for res in (explicit, auto):
        if res.packaged and res.uri:
            res.verified, res.verify_error = verify(res.uri, work)
    result.verify_seconds = time.perf_counter() - t1
    judge_explicit(explicit, entry)
    judge_auto(auto, entry)
    result.seconds = time.perf_counter() - t0
    return result


def write_summary(results: list[NotebookResult], path: Path) -> None:
    data = {
        "notebooks": [r.to_dict() for r in results],
        "passed": sum(r.ok for r in results),
        "total": len(results),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str))


class Runner:
    """Runs the selected notebooks ``jobs`` at a time in the background (each one is
    subprocesses: a kernel, then verify's clean environments), in the order the tests ask
    for them, so a test mostly collects a result that is already there."""

    def __init__(self, corpus: Path, base: Path, jobs: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.corpus, self.base = corpus, base
        self.pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="corpus")
        self.futures: dict[str, Any] = {}

    def start(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            if entry["file"] not in self.futures:
                work = self.base / entry["file"].removesuffix(".ipynb")
                self.futures[entry["file"]] = self.pool.submit(
                    run_notebook, entry, self.corpus, work
                )

    def result(self, entry: dict[str, Any]) -> NotebookResult:
        self.start([entry])
        result: NotebookResult = self.futures[entry["file"]].result()
        return result

    def close(self) -> None:
        for future in self.futures.values():
            future.cancel()
        self.pool.shutdown(wait=True)
