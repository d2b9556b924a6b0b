"""The executors' Python for the Spark engine: the artifact's locked environment, built once.

``env="lock"`` reuses verify's clean virtualenv of ``requirements.lock`` (built once, cached
by the lock's digest) and adds only what PySpark's Arrow transport needs on a worker
(``pyarrow``, at the driver's version, when the lock lacks it) in a derived copy made of
hard links. On a ``local[...]`` master the executors run that virtualenv's Python directly;
on a cluster it is packed as a tar.gz and shipped the way PySpark documents for virtualenvs
(``spark.archives=ENV.tar.gz#environment``, ``spark.pyspark.python=./environment/bin/python``).
``env="local"`` trusts the cluster's Python and checks it instead (:func:`version_differences`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from jupyter_handover.errors import BatchError, EnvironmentBuildError, InterpreterNotFoundError
from jupyter_handover.toolchain import find_uv
from jupyter_handover.verify.venv import ensure_environment, venv_python

__all__ = ["executor_python", "is_local_master", "lock_pins", "pack", "version_differences"]

#: What a PySpark worker imports beyond the model's own libraries (pandas and numpy are
#: the runtime's and always in the lock).
TRANSPORT = ("pyarrow",)


def is_local_master(master: str) -> bool:
    """``local``, ``local[N]``, ``local[*]``, ``local-cluster[...]``: executors on this machine."""
    return master.startswith("local")


def lock_pins(lock_text: str) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line of a lock (hash lines skipped)."""
    pins: dict[str, str] = {}
    for raw in lock_text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip().rstrip("\\").strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[name.split("[", 1)[0].strip().lower()] = version.split()[0]
    return pins


def version_differences(pins: Mapping[str, str], found: Mapping[str, str | None]) -> list[str]:
    """One line per package whose installed version differs from the lock's pin."""
    return [
        f"{name}: lock {version}, executors {found.get(name) or 'not installed'}"
        for name, version in sorted(pins.items())
        if found.get(name) != version
    ]


def _driver_version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


def _with_transport(built: Path, pins: Mapping[str, str], say: Callable[[str], None]) -> Path:
    """``built`` itself when the lock has the transport packages, else a derived copy (hard
    links, so verify's environment is never changed) with them added at the driver's versions."""
    missing = [name for name in TRANSPORT if name not in pins]
    if not missing:
        return built
    wanted = [f"{name}=={_driver_version(name)}" for name in missing]
    final = built.parent / f"batch-{built.name[:16]}-{'-'.join(wanted).replace('==', '')}"
    if venv_python(final).exists():
        return final
    say(f"adding {', '.join(wanted)} (PySpark's Arrow transport) to a copy of the lock's env")
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=built.parent))
    try:
        target = staging / "env"
        subprocess.run(["cp", "-al", str(built), str(target)], check=True, capture_output=True)
        uv = find_uv()
        if uv is None:
            cmd = [str(venv_python(target)), "-m", "pip", "install", "-q", "--no-deps", *wanted]
        else:
            cmd = [uv, "pip", "install", "-q", "--no-deps", "-p", str(venv_python(target))]
            cmd += wanted
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise BatchError(f"installing {', '.join(wanted)} failed: {out.stderr[-2000:]}")
        os.replace(target, final)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BatchError(f"could not copy the environment {built}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def artifact_python(folder: Path) -> str:
    """The Python version the artifact was built on (``handover.json``, else its environment)."""
    environment = json.loads((folder / "environment.json").read_text())
    meta = json.loads((folder / "handover.json").read_text())
    return str(meta.get("python") or environment.get("python"))


def locked_with_transport(
    folder: Path, cache_dir: Path | None = None, say: Callable[[str], None] | None = None
) -> Path:
    """The virtualenv (folder) of the artifact's lock plus pyarrow for the Arrow/Parquet
    hand-off, built once (verify's cache, then a hard-linked copy). Raises what
    :func:`ensure_environment` raises, and :class:`BatchError` when the copy fails."""
    note = say or (lambda _m: None)
    environment = json.loads((folder / "environment.json").read_text())
    lock = folder / "requirements.lock"
    built = ensure_environment(
        lock,
        artifact_python(folder),
        cache_dir=cache_dir,
        constraints=environment.get("packages") or {},
        progress=lambda _step, message: note(message),
    )
    return _with_transport(built.path, lock_pins(lock.read_text()), note)


def executor_python(
    folder: Path, cache_dir: Path | None = None, say: Callable[[str], None] | None = None
) -> Path:
    """The virtualenv (folder) of the artifact's lock plus the transport, built once."""
    note = say or (lambda _m: None)
    python = artifact_python(folder)
    here = platform.python_version()
    if python.split(".")[:2] != here.split(".")[:2]:
        raise BatchError(
            f"the artifact was built on Python {python} and this driver runs {here}: PySpark "
            f"needs the same minor version on both sides; run the driver on Python {python}"
        )
    note(f"environment for Python {python} from requirements.lock (built once, then cached)")
    try:
        return locked_with_transport(folder, cache_dir, note)
    except (InterpreterNotFoundError, EnvironmentBuildError) as exc:
        raise BatchError(f"the artifact's environment cannot be built: {exc}") from exc


def pack(env: Path) -> Path:
    """``env`` as ``<env>.tar.gz`` (made once), for ``spark.archives=...#environment``.

    Like ``venv-pack``, the archive holds the virtualenv, not the interpreter it links to:
    the cluster's nodes need that Python at the same path.
    """
    archive = env.with_name(env.name + ".tar.gz")
    if archive.is_file():
        return archive
    partial = archive.with_name(f".{archive.name}.{os.getpid()}.partial")
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(env, arcname=".")
    os.replace(partial, archive)
    return archive
