"""The development corpus: twenty public notebooks nobody here wrote, packaged as a user would.

For each ``manifest.json`` entry (``JUPYTER_HANDOVER_CORPUS``, else ``../shared/corpus``): copy
it with its support files to a temporary folder, append ``%load_ext jupyter_handover``, a
``%handover package`` without arguments (its error caught in the cell) and
``%handover package --model M --train T [--target C]``, run it once with
``jupyter handover run``, and ``jupyter handover verify`` every printed URI. See
``corpus_harness`` for what counts as a pass in each mode. One line per notebook is printed at
the end of the session and the results go to ``JUPYTER_HANDOVER_CORPUS_RESULTS`` (default
``<tmp>/jupyter_handover-corpus.json``), which ``benchmarks/corpus_report.py`` renders for the
README.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from corpus_harness import NotebookResult, Runner, find_corpus, load_manifest, write_summary
from handover_fixtures import corpus_results_path

pytestmark = pytest.mark.corpus

#: The notebooks allowed to stop (issue 14: at most two), each with the text its stop message
#: must contain (the exact fix it names) and, for the README, why:
#: ``{"file.ipynb": {"message": "text of the stop", "reason": "why it cannot package"}}``.
EXPECTED_STOP: dict[str, dict[str, str]] = {
    "sklearn_plot_feature_transformation.ipynb": {
        "message": "move the definition of gbdt_apply out of cell #15",
        "reason": (
            "the model (a Pipeline) calls gbdt_apply through a FunctionTransformer, a function "
            "defined in the notebook in the cell that also trains the pipeline: it cannot be "
            "loaded anywhere else, and tagging that cell would ship the training. The stop "
            "says to move the definition into a cell of its own and tag it, which then "
            "packages and verifies"
        ),
    },
}
MAX_EXPECTED_STOP = 2

CORPUS = find_corpus()
ENTRIES: list[dict[str, Any]] = load_manifest(CORPUS) if CORPUS else []
RESULTS: dict[str, NotebookResult] = {}


@pytest.fixture(scope="session")
def runner(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Runner]:
    """Starts every selected notebook at once, ``JUPYTER_HANDOVER_CORPUS_JOBS`` (default 2,
    the cores of this machine) at a time: a kernel run and a verify overlap well."""
    assert CORPUS is not None
    run = Runner(
        CORPUS,
        tmp_path_factory.mktemp("corpus"),
        int(os.environ.get("JUPYTER_HANDOVER_CORPUS_JOBS", "2")),
    )
    selected = {
        item.callspec.params["entry"]["file"]
        for item in request.session.items
        if hasattr(item, "callspec") and "entry" in item.callspec.params
    }
    run.start([e for e in ENTRIES if e["file"] in selected])
    yield run
    run.close()


@pytest.mark.skipif(CORPUS is None, reason="no corpus (set JUPYTER_HANDOVER_CORPUS)")
@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"].removesuffix(".ipynb") for e in ENTRIES])
def test_notebook_packages_and_verifies(entry: dict[str, Any], runner: Runner) -> None:
    result = runner.result(entry)
    RESULTS[entry["file"]] = result
    write_summary(list(RESULTS.values()), corpus_results_path())
    stop = EXPECTED_STOP.get(entry["file"])
    if stop is not None:
        assert not result.explicit.packaged, f"{entry['file']} packaged: drop it from EXPECTED_STOP"
        assert stop["message"] in (result.explicit.error or ""), result.explicit.error
        return
    assert result.ok, f"{entry['file']}: {result.first_error()} (log: {result.work}/run.log)"


def test_at_most_two_notebooks_may_stop() -> None:
    """Issue 14's target: every notebook packages and verifies except at most two."""
    assert len(EXPECTED_STOP) <= MAX_EXPECTED_STOP
    files = {e["file"] for e in ENTRIES}
    assert set(EXPECTED_STOP) <= files, "EXPECTED_STOP names a notebook not in the manifest"
