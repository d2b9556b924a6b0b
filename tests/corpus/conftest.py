"""The corpus test's report: one line per notebook at the end of the session."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    import test_corpus

    if not test_corpus.RESULTS:
        return
    terminalreporter.section("corpus notebooks")
    for result in test_corpus.RESULTS.values():
        terminalreporter.write_line(result.line())
        if not result.ok:
            terminalreporter.write_line(f"    first error: {result.first_error()[:300]}")
    passed = sum(r.ok for r in test_corpus.RESULTS.values())
    terminalreporter.write_line(
        f"{passed}/{len(test_corpus.RESULTS)} notebooks pass; "
        f"results in {test_corpus.results_path()}"
    )
