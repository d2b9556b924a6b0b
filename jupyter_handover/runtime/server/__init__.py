"""The artifact's own HTTP server (shipped inside every artifact; relative imports only).

- :mod:`.app`: the ASGI app, ``/invocations`` on raw ASGI, the other routes on Starlette
- :mod:`.batching`: adaptive micro-batching
- :mod:`.observe`: request ids, metrics and the access log around every request
- :mod:`.metrics`: Prometheus text exposition
- :mod:`.openapi`: the OpenAPI document built from the contract
- :mod:`.config`, :mod:`.log`, :mod:`.profile`: tunables, JSON logs, the resource profile
"""

from .app import app_from_env, create_app, run
from .config import ServerConfig

__all__ = ["ServerConfig", "app_from_env", "create_app", "run"]
