"""User code that fails during a build, said in one message (no traceback, no staging path)."""

from __future__ import annotations

__all__ = ["hook_failure_text", "hook_message"]


def hook_failure_text(exc: BaseException) -> str:
    """``Type: message`` of an exception, without the file paths of a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


_HOOKS = ("preprocess", "predict", "postprocess")


def hook_message(exc: BaseException, hooks: set[str], rows: int) -> str:
    """Which of the notebook's hooks failed on the golden rows (the outermost hook frame of
    the traceback), else the model's own predict; with the exception and what to do."""
    tb, failed = exc.__traceback__, None
    while tb is not None and failed is None:
        name = tb.tb_frame.f_code.co_name
        failed = name if name in _HOOKS and name in hooks else None
        tb = tb.tb_next
    where = f"the notebook's `{failed}`" if failed else "the model's predict"
    call = f"{failed}(...)" if failed else "model.predict(...)"
    return (
        f"{where} failed on {rows} rows of the training data while computing the golden "
        f"examples ({hook_failure_text(exc)}): run {call} on the training rows in a cell to "
        "see the traceback, fix it, then package again"
    )
