"""The clients measured, behind one small interface.

Each has ``invoke(spec) -> text`` (the whole answer, no token callbacks) and
``stream(spec) -> (text, pieces)`` (the answer as the caller saw it streamed,
and how many non-empty pieces it came in).

* ``raw``: a bare aiohttp session posting the signed request and decoding the
  body incrementally, one piece per network read: the floor for the protocol.
* ``ours``: `ChatAIChatFree` with its defaults (retries, chunk timeout, the
  sentinel hold-back), plus a stop sequence and a total timeout, so every
  feature costs what it costs.
* ``ours-sync``: the same model through its sync API (`invoke`, `stream`).
* ``lc+raw``: the raw client inside a minimal `BaseChatModel`, with no
  features: the least any LangChain integration of this protocol costs.
* ``floor``: a `BaseChatModel` that answers from memory, without any I/O:
  what LangChain itself costs per call and per chunk.
* ``openai``: `ChatOpenAI` against the server's OpenAI-compatible endpoint.
"""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from bench.spec import SECRET, Spec, sign

CLIENTS = ("raw", "ours", "ours-sync", "lc+raw", "openai", "floor")

MAX_CONNECTIONS = 1000
"""Raw's connector gets the same cap as ours (aiohttp's own default is 100)."""


class Raw:
    def __init__(self, url: str) -> None:
        self.url = url + "/api/generate"
        self.session: aiohttp.ClientSession | None = None
        self.headers = {"Content-Type": "text/plain;charset=UTF-8"}

    async def pieces(self, spec: Spec) -> AsyncIterator[str]:
        """The answer, one piece per network read."""
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
            )
        text = spec.prompt
        time_ms = time.time_ns() // 1_000_000
        body = json.dumps(
            {
                "messages": [{"role": "user", "parts": [{"text": text}]}],
                "time": time_ms,
                "pass": None,
                "sign": sign(time_ms, text, SECRET),
            },
            separators=(",", ":"),
        ).encode()
        async with self.session.post(
            self.url, data=body, headers=self.headers
        ) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            decoder = codecs.getincrementaldecoder("utf-8")()
            async for data in response.content.iter_any():
                piece = decoder.decode(data)
                if piece:
                    yield piece
            piece = decoder.decode(b"", final=True)
            if piece:
                yield piece

    async def invoke(self, spec: Spec) -> str:
        return "".join([piece async for piece in self.pieces(spec)])

    async def stream(self, spec: Spec) -> tuple[str, int]:
        parts = [piece async for piece in self.pieces(spec)]
        return "".join(parts), len(parts)

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


def make(name: str, url: str) -> Any:
    if name == "raw":
        return Raw(url)
    from bench import lc_clients

    kinds: dict[str, Any] = {
        "ours": lc_clients.Ours,
        "ours-sync": lc_clients.OursSync,
        "lc+raw": lc_clients.LangChainRaw,
        "openai": lc_clients.OpenAI,
        "floor": lc_clients.Floor,
    }
    return kinds[name](url)
