import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server", "handover_fixtures")


@pytest.fixture
def jp_server_config(jp_server_config):
    """Every Jupyter server that a test starts loads the jupyter_handover extension."""
    return {"ServerApp": {"jpserver_extensions": {"jupyter_handover": True}}}
