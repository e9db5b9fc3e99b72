"""A protocol-faithful local AIChatFree server, for tests, demos and benchmarks.

`LocalServer` speaks the AIChatFree wire protocol (GeminiProChat, or the older
chatgpt-demo dialect) on 127.0.0.1 exactly like the real server: the same
checks in the same order, the same errors byte for byte, headers held back until
the first chunk, and the real failure modes, scripted with `Reply`:

.. code-block:: python

    from langchain_aichatfree.testing import LocalServer, Reply, UPSTREAM_ERRORS

    with LocalServer() as server:  # or `async with` on the running loop
        server.script(
            Reply(text="Hello there!", chunk_size=3, chunk_delay=0.05),
            Reply.rate_limited(retry_in=2),
            Reply(error=UPSTREAM_ERRORS["upstream_503"]),
            Reply(text="partial", fail_after=1),
        )
        ...  # point the chat model's base URL at server.url
        assert server.requests[0].payload["messages"][-1]["role"] == "user"

    # The upstream's quota: 2 requests per second, 100 per day (Gemini's texts).
    with LocalServer(quota=Quota(rpm=2, rpd=100, window=1.0)) as server:
        ...

For pytest, add ``pytest_plugins = ["langchain_aichatfree.testing.pytest_plugin"]``
and use the ``aichatfree_server`` fixture. From a shell:
``python -m langchain_aichatfree.testing --port 8000``.
"""

from __future__ import annotations

from langchain_aichatfree.testing._quota import Quota
from langchain_aichatfree.testing._reply import UPSTREAM_ERRORS, Reply, echo_responder
from langchain_aichatfree.testing._server import LocalServer, RecordedRequest
from langchain_aichatfree.testing._site import SitePages, SiteRequest

__all__ = [
    "UPSTREAM_ERRORS",
    "LocalServer",
    "Quota",
    "RecordedRequest",
    "Reply",
    "SitePages",
    "SiteRequest",
    "echo_responder",
]
