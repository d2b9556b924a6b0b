"""Batch scoring: a table through the artifact's contract and model, locally or on Spark.

- :mod:`.local`: :func:`score_local`, the local engine (chunks in this process)
- :mod:`.spark`: :func:`score_spark` (a Spark DataFrame in, one out) and
  :func:`score_spark_files`, the Spark engine behind ``jupyter handover batch --engine spark``
- :mod:`.chunk`: one chunk's check, coercion and prediction (runs on executors too)
- :mod:`.environment`: the executors' Python: the artifact's lock, built once, or checked
- :mod:`.io`: INPUT and OUTPUT folders, staged and renamed into place

pyspark is imported only when a Spark function is called.
"""

from __future__ import annotations

from typing import Any

from jupyter_handover.batch.local import score_local
from jupyter_handover.batch.summary import BatchSummary

__all__ = ["BatchSummary", "score_local", "score_spark", "score_spark_files"]


def score_spark(df: Any, model_ref: Any, **kwargs: Any) -> Any:
    """See :func:`jupyter_handover.batch.spark.score_spark`."""
    from jupyter_handover.batch.spark import score_spark as run

    return run(df, model_ref, **kwargs)


def score_spark_files(model_ref: Any, input_path: Any, output: Any, **kwargs: Any) -> Any:
    """See :func:`jupyter_handover.batch.spark.score_spark_files`."""
    from jupyter_handover.batch.spark import score_spark_files as run

    return run(model_ref, input_path, output, **kwargs)
