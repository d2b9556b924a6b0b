"""The server extension as a Jupyter ``ExtensionApp``: its settings are traitlets, and the
server calls :meth:`HandoverExtension.stop_extension` when it shuts down (jupyter_server 2
calls it from ``ServerApp._cleanup`` through ``ExtensionManager.stop_all_extensions``; a
module-level extension gets no such hook)."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int

from jupyter_handover.interfaces.server.handlers import routes
from jupyter_handover.interfaces.server.jobs import DEFAULT_LIMIT, VerifyJobs
from jupyter_handover.interfaces.server.release import release_routes

__all__ = ["HandoverExtension"]


class HandoverExtension(ExtensionApp):
    """The ``/jupyter-handover/`` routes and the verify jobs behind them."""

    name = "jupyter_handover"
    load_other_extensions = True

    max_verify_jobs = Int(
        DEFAULT_LIMIT,
        help="Verify jobs that run at once; later ones wait in a queue (each builds a "
        "virtualenv and replays the model: a few processes and a CPU each).",
    ).tag(config=True)

    def initialize_settings(self) -> None:
        self.jobs = VerifyJobs(limit=self.max_verify_jobs)
        self.settings["jupyter_handover_jobs"] = self.jobs

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes() + release_routes())

    async def stop_extension(self) -> None:
        """Kill the verify jobs' process groups: none outlives the server or delays it."""
        jobs: VerifyJobs | None = getattr(self, "jobs", None)
        if jobs is not None:
            await jobs.shutdown()
