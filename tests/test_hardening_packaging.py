"""Issue 15 items 7 and 8: packaging that is killed or fails leaves no debris and says one
clear thing (no traceback, no staging path)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook
from IPython.core.error import UsageError
from nbformat.v4 import new_code_cell, new_notebook

OWNER_FILE = ".handover-owner.json"


def _debris(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- staging owners


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_staging_is_cleaned_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    from jupyter_handover.artifact.staging import clean_stale_staging, make_staging

    live, dead, reused, other_host = (make_staging(tmp_path, "m") for _ in range(4))
    record = json.loads((live / OWNER_FILE).read_text())  # this process owns them: they live
    (dead / OWNER_FILE).write_text(json.dumps({**record, "pid": _dead_pid()}))
    # our pid, but another process's start time: the pid was reused
    (reused / OWNER_FILE).write_text(json.dumps({**record, "started": "1"}))
    # a shared folder: another machine's build is never ours to judge
    (other_host / OWNER_FILE).write_text(json.dumps({**record, "pid": 1, "host": "elsewhere"}))
    removed = clean_stale_staging(tmp_path)
    assert sorted(removed) == sorted([dead, reused])
    assert live.is_dir() and other_host.is_dir()


def test_a_staging_folder_killed_before_its_record_is_judged_by_its_name(tmp_path: Path) -> None:
    from jupyter_handover.artifact.staging import clean_stale_staging, make_staging

    live = make_staging(tmp_path, "m")
    (live / OWNER_FILE).unlink()  # as if killed between creating it and writing the record
    pid = str(os.getpid())
    dead = tmp_path / live.name.replace(f".m.{pid}-", f".m.{_dead_pid()}-", 1)
    dead.mkdir()
    assert dead.name != live.name and dead.name.endswith(".partial")
    assert clean_stale_staging(tmp_path) == [dead]
    assert live.is_dir()


def test_an_interrupted_swap_is_finished(tmp_path: Path) -> None:
    from jupyter_handover.artifact.staging import clean_stale_staging

    dead = _dead_pid()
    (tmp_path / f".gone.old-{dead}").mkdir()  # killed between the renames: no "gone" left
    (tmp_path / f".kept.old-{dead}").mkdir()
    (tmp_path / "kept").mkdir()
    (tmp_path / f".mine.old-{os.getpid()}").mkdir()  # this process is in its swap
    clean_stale_staging(tmp_path)
    assert (tmp_path / "gone").is_dir()
    assert _debris(tmp_path) == [f".mine.old-{os.getpid()}"]


def test_the_artifact_carries_no_owner_record(small_artifact: Any) -> None:
    assert not (small_artifact.path / OWNER_FILE).exists()
    manifest = json.loads((small_artifact.path / "handover" / "manifest.json").read_text())
    assert OWNER_FILE not in manifest["files"]


# --------------------------------------------------------------------------- fault test

_KILL_AT = {
    "staging": lambda p: True,  # as soon as the .partial folder exists
    "environment": lambda p: (p / "handover" / "requirements.in").exists(),
    "examples": lambda p: (p / "handover" / "requirements.lock").exists(),
}


def _kill_when(out: Path, pid_file: Path, ready: Any, done: threading.Event) -> None:
    """SIGKILL the kernel (its pid is in ``pid_file``) once a staging folder is ``ready``."""
    while not done.is_set():
        partial = [p for p in out.glob(".*.partial")] if out.is_dir() else []
        if partial and ready(partial[0]) and pid_file.is_file():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
            return
        time.sleep(0.002)


@pytest.mark.parametrize("point", list(_KILL_AT))
def test_kill_during_packaging_leaves_no_stale_folder(tmp_path: Path, point: str) -> None:
    out = tmp_path / "out"
    pid_file = tmp_path / "kernel.pid"
    nb = new_notebook(
        cells=[
            new_code_cell(TAGGED_CODE, metadata={"tags": ["handover"]}),
            new_code_cell(TRAIN_CODE),
            new_code_cell(f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))"),
            new_code_cell(f"%load_ext jupyter_handover\n%handover package --no-log --out {out}"),
        ]
    )
    path = tmp_path / "killed.ipynb"
    nbformat.write(nb, str(path))
    done = threading.Event()
    watcher = threading.Thread(target=_kill_when, args=(out, pid_file, _KILL_AT[point], done))
    watcher.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "jupyter_handover", "run", str(path)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
        )
    finally:
        done.set()
        watcher.join()
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "DeadKernelError" not in proc.stderr
    assert "the kernel died" in proc.stderr, proc.stderr
    assert _debris(out), "the kill came too late to leave a staging folder"

    from jupyter_handover.artifact.build import build_artifact

    ns: dict[str, Any] = {}
    exec(TAGGED_CODE, ns)
    exec(TRAIN_CODE, ns)
    build_artifact(ns["model"], ns["X_train"], path, out, name="killed", lock=False)
    assert _debris(out) == []
    assert (out / "killed" / "MLmodel").is_file()


# --------------------------------------------------------------------------- one message


def test_a_read_only_out_is_one_message(trained: tuple[Any, Path], tmp_path: Path) -> None:
    shell, _ = trained
    if os.geteuid() == 0:
        out = Path("/sys")  # root writes everywhere but here
    else:
        out = tmp_path / "ro"
        out.mkdir(mode=0o555)
    with pytest.raises(UsageError, match=rf"cannot write the artifact into {out}.*--out"):
        shell.run_line_magic("handover", f"package --no-log --no-lock --out {out}")


FAILING_PREPROCESS = TAGGED_CODE.replace(
    "    return add_ratio(df)",
    "    df.loc[list(range(100, 110))]  # a label lookup that only the full frame has\n"
    "    return add_ratio(df)",
)


def test_a_failing_hook_in_the_kernel_is_one_message(
    shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = write_notebook(tmp_path / "small.ipynb", tagged=FAILING_PREPROCESS)
    shell.run_cell(FAILING_PREPROCESS).raise_error()
    shell.run_cell(TRAIN_CODE).raise_error()
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    with pytest.raises(UsageError) as err:
        shell.run_line_magic("handover", "package --no-log --no-lock")
    message = str(err.value)
    assert "`preprocess` failed on 20 rows of the training data" in message
    assert "KeyError" in message and ".partial" not in message
    assert _debris(tmp_path / "handover_artifacts") == []


def test_a_failing_exported_hook_is_one_message(tmp_path: Path) -> None:
    from jupyter_handover.artifact.build import build_artifact
    from jupyter_handover.errors import HookError

    ns: dict[str, Any] = {}
    exec(FAILING_PREPROCESS, ns)
    exec(TRAIN_CODE, ns)
    nb = write_notebook(tmp_path / "small.ipynb", tagged=FAILING_PREPROCESS)
    with pytest.raises(HookError) as err:
        build_artifact(ns["model"], ns["X_train"], nb, tmp_path / "out", lock=False)
    assert "`preprocess` failed" in str(err.value) and ".partial" not in str(err.value)
