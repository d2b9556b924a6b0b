"""The Spark engine: ``mapInPandas`` over the artifact's contract and model.

:func:`score_spark` takes a Spark DataFrame and returns one (for users inside a Spark
session); :func:`score_spark_files` is ``jupyter handover batch --engine spark``: it starts
the session with the executors' environment, scores, and writes OUTPUT and ``_rejects``.
Before any job, one partition replays the golden examples on an executor (which also
reports its Python and package versions); the job stops when they differ.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from jupyter_handover.batch import chunk
from jupyter_handover.batch.environment import (
    executor_python,
    is_local_master,
    lock_pins,
    pack,
    version_differences,
)
from jupyter_handover.batch.io import REJECTS_DIR, check_columns, open_input, staged_output
from jupyter_handover.batch.local import handover_dir
from jupyter_handover.batch.summary import BatchSummary
from jupyter_handover.errors import BatchError

__all__ = ["java_problem", "score_spark", "score_spark_files", "start_session"]

#: Rows per Arrow batch handed to the model (Spark's default is 10,000).
ARROW_BATCH_ROWS = 100_000
_BATCH_ROWS = "spark.sql.execution.arrow.maxRecordsPerBatch"
#: Input partitions per core at least (Spark's default is one): a short last wave.
PARTITIONS_PER_CORE = 4
_SPARK_TYPES = {"int64": "bigint", "int32": "int", "float64": "double", "float32": "float"}


def java_problem() -> str | None:
    """Why Spark cannot start for want of Java (missing, older than 17), else None."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    fix = "install it (apt-get install -y openjdk-17-jre-headless, or make java) or set JAVA_HOME"
    if not java or not Path(java).exists():
        return f"Spark 4 needs Java 17 or newer and no java was found (JAVA_HOME, PATH): {fix}"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{java} -version failed ({exc}): {fix}"
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = int(found.group(1)) if found else 0
    if major == 1 and found and found.group(2):  # "1.8.0" is Java 8
        major = int(found.group(2))
    if major < 17:
        shown = found.group(0) if found else (out.stderr or out.stdout).strip()[:200]
        return f"Spark 4 needs Java 17 or newer; {java} is {shown}: {fix}"
    return None


def start_session(master: str, python: Path | None = None, archive: Path | None = None) -> Any:
    """A SparkSession on ``master`` whose executors run ``python`` (local masters) or the
    packed ``archive`` (``./environment/bin/python``); :class:`BatchError` saying why not."""
    problem = java_problem()
    if problem:
        raise BatchError(problem)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise BatchError("pyspark is not installed: pip install pyspark==4.3.0") from exc
    builder = SparkSession.builder.master(master).appName("jupyter-handover-batch")
    builder = builder.config("spark.ui.showConsoleProgress", "true")
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    # PySpark takes the workers' Python from PYSPARK_PYTHON when the context starts (the
    # spark.pyspark.python setting reaches only spark-submit): set it as PySpark documents.
    if archive is not None:
        builder = builder.config("spark.archives", f"{archive}#environment")
        os.environ["PYSPARK_PYTHON"] = "./environment/bin/python"
    elif python is not None:
        os.environ["PYSPARK_PYTHON"] = str(python)
    try:
        return builder.getOrCreate()
    except Exception as exc:
        raise BatchError(f"the Spark session on {master} could not start: {exc}") from exc


def _register_by_value() -> None:
    """Executors never import jupyter_handover: the chunk module travels pickled by value."""
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(chunk)


def _ship_artifact(spark: Any, folder: Path) -> None:
    """Copy the artifact to the executors unless they share this file system."""
    if is_local_master(spark.sparkContext.master):
        return
    staging = Path(tempfile.mkdtemp(prefix="handover-batch-"))
    archive = staging / chunk.ARCHIVE_NAME
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder.parent, arcname=".")
    spark.sparkContext.addArchive(str(archive))


def _replay_on_executor(spark: Any, folder: Path, proba: bool) -> dict[str, str]:
    """Golden examples and package versions from one executor; the prediction dtypes."""
    from jupyter_handover.verify.compare import compare_outputs

    pins = lock_pins((folder / "requirements.lock").read_text())
    one = spark.range(1, numPartitions=1)
    rows = one.mapInPandas(
        chunk.executor_report(str(folder), proba, sorted(pins)), "report string"
    ).collect()
    report = json.loads(rows[0]["report"])
    differences = version_differences(pins, report["versions"])
    if differences:
        raise BatchError(
            "the executors' Python differs from the artifact's requirements.lock:\n  "
            + "\n  ".join(differences)
            + "\nuse --env lock (the default) to ship the locked environment, or install these"
        )
    if "error" in report:
        raise BatchError(f"the golden examples failed on an executor: {report['error']}")
    expected = json.loads((folder / "examples.json").read_text())["outputs"]
    differ = compare_outputs(expected, report["outputs"])
    if differ:
        first = differ[0]
        raise BatchError(
            f"{len(differ)} golden example(s) predict differently on the executors (Python "
            f"{report['python']}), e.g. row {first['row']}: expected {first['expected']!r}, got "
            f"{first['got']!r}: the job was not started"
        )
    dtypes: dict[str, str] = report["dtypes"]
    return dtypes


def _spark_type(dtype: str) -> str:
    if dtype.lower().startswith(("int", "uint")):
        return _SPARK_TYPES.get(dtype.lower(), "bigint")
    if dtype.lower().startswith("float"):
        return _SPARK_TYPES.get(dtype.lower(), "double")
    return "boolean" if dtype in ("bool", "boolean") else "string"


def score_spark(
    df: Any,
    model_ref: str | Path,
    *,
    proba: bool = False,
    text_input: bool = False,
    keep: Sequence[str] | None = None,
) -> Any:
    """``df`` scored by the artifact: every column of ``df``, ``prediction`` (and
    ``proba_<class>``), and ``_violations``: null for scored rows; for rows that break the
    contract, their violations (their predictions are null: they were never scored).
    ``keep``: the columns of ``df`` that scored rows carry (the others are null); rejected
    rows carry all. Default: all.

    The contract is the runtime server's validator, applied per Arrow batch on the
    executors; the model is loaded once per executor Python process. Before returning,
    one partition replays the golden examples on an executor and checks its package
    versions against the lock: :class:`BatchError` when either differs. The executors must
    run the artifact's environment (see ``jupyter handover batch --engine spark``).
    """
    from pyspark.sql.types import StructType

    folder, dtypes, fields = _prepare(df, model_ref, proba)
    schema = StructType([*df.schema.fields, *fields, _string_field(chunk.REJECT_COLUMN)])
    scorer = chunk.partition_scorer(str(folder), proba, dtypes, text_input, keep)
    return df.mapInPandas(scorer, schema)


def _string_field(name: str) -> Any:
    from pyspark.sql.types import StringType, StructField

    return StructField(name, StringType(), True)


def _prepare(df: Any, model_ref: str | Path, proba: bool) -> tuple[Path, dict[str, str], list[Any]]:
    """Check ``df`` and the executors (golden examples, versions): the artifact's
    ``handover/`` folder, the prediction columns' pandas dtypes and their Spark fields."""
    from pyspark.sql.types import StructType

    folder = handover_dir(model_ref)
    contract = json.loads((folder / "contract.json").read_text())
    names = [c["name"] for c in contract["columns"]]
    check_columns(df.columns, names, (), "the DataFrame")
    spark = df.sparkSession
    _register_by_value()
    _ship_artifact(spark, folder)
    dtypes = _replay_on_executor(spark, folder, proba)
    schema: Any = StructType.fromDDL(
        ", ".join(f"`{n}` {_spark_type(t)}" for n, t in dtypes.items())
    )
    return folder, dtypes, list(schema.fields)


def _environment(
    folder: Path, master: str, env: str, say: Callable[[str], None]
) -> tuple[Path | None, Path | None]:
    """(python, archive) for :func:`start_session`."""
    if env == "local":
        say("--env local: the executors' own Python, checked against requirements.lock")
        return None, None
    venv = executor_python(folder, say=say)
    python = venv / "bin" / "python"
    if is_local_master(master):
        say(f"{master}: the executors use the cached locked environment directly ({python})")
        return python, None
    archive = pack(venv)
    say(f"shipping {archive} as spark.archives=...#environment (./environment/bin/python)")
    return None, archive


def score_spark_files(
    model_ref: str | Path,
    input_path: str | Path,
    output: str | Path,
    *,
    master: str = "local[*]",
    env: str = "lock",
    keep: Sequence[str] = (),
    proba: bool = False,
    overwrite: bool = False,
    output_format: str | None = None,
    spark: Any = None,
) -> BatchSummary:
    """``jupyter handover batch --engine spark``: INPUT scored on Spark into OUTPUT, rows
    that break the contract in ``OUTPUT/_rejects/``. ``env="lock"`` runs the executors in
    the artifact's locked environment (built once), ``"local"`` checks theirs against the
    lock. ``spark``: an existing session to use instead of starting one."""
    start = time.perf_counter()
    folder = handover_dir(model_ref)
    source = open_input(input_path)
    names = [c["name"] for c in json.loads((folder / "contract.json").read_text())["columns"]]
    check_columns(source.columns, names, keep, str(source.path))
    fmt = output_format or source.format
    summary = BatchSummary(f"spark ({master})", str(Path(output).expanduser().resolve()))
    with staged_output(output, overwrite) as staging:
        own = spark is None
        if own:
            python, archive = _environment(folder, master, env, summary.notes.append)
            spark = start_session(master, python, archive)
        try:
            with _job_settings(spark):
                _one_job(spark, folder, source, staging, keep, proba, fmt, summary)
        finally:
            if own:
                spark.stop()
    summary.seconds = time.perf_counter() - start
    return summary


@contextlib.contextmanager
def _job_settings(spark: Any) -> Iterator[None]:
    """Settings for the scoring job only, restored after: Arrow batches of
    :data:`ARROW_BATCH_ROWS` and at least four input partitions per core (a short last
    wave)."""
    partitions = PARTITIONS_PER_CORE * spark.sparkContext.defaultParallelism
    settings = {
        _BATCH_ROWS: str(ARROW_BATCH_ROWS),
        "spark.sql.files.minPartitionNum": str(partitions),
    }
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _one_job(
    spark: Any,
    folder: Path,
    source: Any,
    staging: Path,
    keep: Sequence[str],
    proba: bool,
    fmt: str,
    summary: BatchSummary,
) -> None:
    """One Spark job: the scored rows written by Spark into ``staging``, the rejected rows
    by each task into a folder beside it (moved to ``staging/_rejects`` at the end); no
    second pass over the data, nothing cached."""
    from pyspark.sql.types import IntegralType, StructType

    paths = [str(f) for f in source.files]
    if source.format == "parquet":
        df = spark.read.parquet(*paths)
    else:
        df = spark.read.csv(paths, header=True, inferSchema=True)
    folder, dtypes, fields = _prepare(df, folder.parent, proba)
    rejects = staging.parent / f"{staging.name}-rejects"
    shutil.rmtree(rejects, ignore_errors=True)
    integers = [f.name for f in df.schema.fields if isinstance(f.dataType, IntegralType)]
    spec = json.dumps({"folder": str(rejects), "format": fmt, "integers": integers})
    scorer = chunk.partition_scorer(
        str(folder), proba, dtypes, source.format == "csv", list(keep), spec
    )
    schema = StructType([*(df.schema[name] for name in keep), *fields])
    options = {"header": "true"} if fmt == "csv" else {}
    try:
        df.mapInPandas(scorer, schema).write.format(fmt).options(**options).save(str(staging))
        _collect_rejects(rejects, staging / REJECTS_DIR, fmt, summary)
    finally:
        shutil.rmtree(rejects, ignore_errors=True)
    rows = source.rows if source.rows is not None else df.count()
    summary.rows_scored = rows - summary.rows_rejected


def _collect_rejects(found: Path, target: Path, fmt: str, summary: BatchSummary) -> None:
    """The tasks' reject files moved to ``target`` (an empty folder when none), counted."""
    import pandas as pd

    parts = sorted(found.glob(f"part-*.{fmt}")) if found.is_dir() else []
    target.mkdir(parents=True)
    if not parts:
        return
    for part in parts:
        os.replace(part, target / part.name)
    column = [chunk.REJECT_COLUMN]
    violations = pd.concat(
        pd.read_csv(target / p.name, usecols=column)
        if fmt == "csv"
        else pd.read_parquet(target / p.name, columns=column)
        for p in parts
    )[chunk.REJECT_COLUMN]
    summary.rows_rejected = len(violations)
    named = violations.astype(str).str.findall(r'column "([^"]+)"').map(set)
    summary.rejected_by_column = named.explode().dropna().value_counts().astype(int).to_dict()
