"""``POST /jupyter-handover/promote`` and ``POST /jupyter-handover/rollback``: the panel's
release actions, a thin adapter over :mod:`jupyter_handover.registry.aliases`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.utils import url_path_join

from jupyter_handover.errors import HandoverError
from jupyter_handover.interfaces.server.handlers import NAMESPACE, _Handler
from jupyter_handover.interfaces.server.paths import (
    confine_tracking_uri,
    handle_handover_error,
    http_error,
    resolve_notebook,
)

#: The alias the panel moves when the request names none.
DEFAULT_ALIAS = "champion"


class _ReleaseHandler(_Handler):
    """Decode ``{..., "alias"?, "reason"?, "tracking_uri"?, "path"?}``, call the core once."""

    def _body(self) -> dict[str, Any]:
        try:
            body = self.get_json_body()
        except Exception as exc:
            raise http_error(400, f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise http_error(400, "the body must be a JSON object")
        for key in ("alias", "reason", "tracking_uri", "path", "model_uri", "name"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise http_error(400, f"{key} must be a string")
        return body

    def _required(self, body: dict[str, Any], key: str, what: str) -> str:
        value = str(body.get(key) or "").strip()
        if not value:
            raise http_error(400, f"{key} is required: {what}")
        return value

    def _tracking_uri(self, body: dict[str, Any]) -> str:
        """The store to move the alias in (confined like verify's), default beside the notebook."""
        from jupyter_handover.registry.tracking import default_tracking_uri

        cwd = Path(self.root_dir).resolve()
        if body.get("path"):
            cwd = resolve_notebook(self.root_dir, str(body["path"])).parent
        uri = body.get("tracking_uri") or None
        # the server's own store is the admin's choice; any other file store stays in the root
        if uri and uri != os.environ.get("MLFLOW_TRACKING_URI"):
            uri = confine_tracking_uri(self.root_dir, uri, cwd)
        return default_tracking_uri(cwd, uri)

    async def _call(self, func: Any, *args: Any, **kwargs: Any) -> None:
        try:
            move = await self.off_loop(lambda: func(*args, **kwargs))
        except HandoverError as exc:
            raise handle_handover_error(exc) from exc
        self.reply({"moved": move is not None, "move": move.to_dict() if move else None})


class PromoteHandler(_ReleaseHandler):
    """``{"model_uri", "alias"?, "reason"?}``: promote with ``--require-shadow`` (the panel
    offers it only when verify and shadow passed); 409 when a gate refuses."""

    @tornado.web.authenticated
    async def post(self) -> None:
        from jupyter_handover.registry.aliases import promote

        body = self._body()
        model_uri = self._required(body, "model_uri", "models:/NAME/VERSION")
        alias = body.get("alias") or DEFAULT_ALIAS
        uri = self._tracking_uri(body)
        reason = body.get("reason") or "promoted from the JupyterLab panel"
        await self._call(
            promote, model_uri, alias, require_shadow=True, reason=reason, tracking_uri=uri
        )


class RollbackHandler(_ReleaseHandler):
    """``{"name", "alias"?, "reason"?}``: back to the newest verified former holder; 409
    when there is none."""

    @tornado.web.authenticated
    async def post(self) -> None:
        from jupyter_handover.registry.aliases import rollback

        body = self._body()
        name = self._required(body, "name", "the registered model name")
        alias = body.get("alias") or DEFAULT_ALIAS
        uri = self._tracking_uri(body)
        reason = body.get("reason") or "rolled back from the JupyterLab panel"
        await self._call(rollback, name, alias, reason=reason, tracking_uri=uri)


def release_routes() -> list[tuple[str, type[tornado.web.RequestHandler]]]:
    """The release routes, relative to the server's ``base_url``."""
    return [
        (url_path_join(NAMESPACE, "promote"), PromoteHandler),
        (url_path_join(NAMESPACE, "rollback"), RollbackHandler),
    ]
