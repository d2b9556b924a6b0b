"""The Jupyter server extension: routes under ``/jupyter-handover/`` for the sidebar panel."""
