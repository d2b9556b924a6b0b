"""Error messages of the server routes show the request's text as written (issue 15.16)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tornado.httpclient


@pytest.mark.parametrize("path", ["..%2f..%2fetc%2fpasswd.ipynb", "50%.ipynb"])
async def test_a_percent_sign_in_a_message_is_not_doubled(jp_fetch: Any, path: str) -> None:
    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await jp_fetch("jupyter-handover", "status", params={"path": path})
    assert raised.value.response is not None
    message = json.loads(raised.value.response.body)["message"]
    assert path in message and "%%" not in message
