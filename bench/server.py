"""A lean loopback server for the benchmark, speaking docs/protocol.md.

It is `asyncio.Protocol` over raw HTTP/1.1, so that it costs far less per chunk
than any client it measures:

* ``POST /api/generate``: the signed JSON body is checked (last message from
  ``user``, signature over ``time:last text:secret``; a bad one is a 401 as the
  real server sends it), then the reply named in the last user message
  (`bench.spec.Spec`) is streamed as ``text/plain; charset=utf-8`` with chunked
  encoding, the status line with the first chunk: one write per chunk
  (``separate``), the framed chunks in 64 KiB writes (``burst``), or one write
  per chunk with ~1 ms between them (``paced``).
* ``POST /v1/chat/completions``: the same text in the same chunks, as OpenAI's
  SSE stream (``data: {...}`` per chunk, a finish chunk, ``data: [DONE]``), or
  one JSON completion when the request does not ask to stream.
* A second port (the control port) answers any request with the number of TCP
  connections the main port has accepted, as JSON.

Run: ``python -m bench.server`` prints ``READY <port> <control port>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import resource
import signal
import sys
import time
from typing import Any

from bench.spec import BURST, PACE, SECRET, Spec, sign

_OK_TEXT = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
)
_OK_SSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
)
_END = b"0\r\n\r\n"
_YIELD_EVERY = 16
"""Separate writes yield to the loop this often, so concurrent streams interleave."""


class Stats:
    opened = 0
    open_now = 0


def _frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _response(status: str, body: bytes, content_type: str) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    ).encode() + body


@functools.lru_cache(maxsize=32)
def _text_frames(spec: Spec) -> list[bytes]:
    return [_frame(chunk) for chunk in spec.chunks()]


@functools.lru_cache(maxsize=32)
def _sse_frames(spec: Spec) -> list[bytes]:
    created = int(time.time())
    frames = []
    for i, piece in enumerate(spec.text_chunks()):
        delta: dict[str, Any] = {"content": piece}
        if i == 0:
            delta["role"] = "assistant"
        event = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": created,
            "model": "bench",
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}
            ],
        }
        frames.append(_frame(b"data: %s\n\n" % json.dumps(event).encode()))
    last = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": created,
        "model": "bench",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    frames.append(_frame(b"data: %s\n\n" % json.dumps(last).encode()))
    frames.append(_frame(b"data: [DONE]\n\n"))
    return frames


@functools.lru_cache(maxsize=32)
def _bursts(frames: tuple[bytes, ...]) -> list[bytes]:
    data = b"".join(frames)
    return [data[i : i + BURST] for i in range(0, len(data), BURST)]


def _completion(spec: Spec) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": spec.text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
    return _response("200 OK", json.dumps(body).encode(), "application/json")


class _Http(asyncio.Protocol):
    """One TCP connection: requests one after the other (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False
        self.closed = False
        self.can_write: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        Stats.opened += 1
        Stats.open_now += 1

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        Stats.open_now -= 1
        self.resume_writing()

    def pause_writing(self) -> None:
        self.can_write = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.can_write is not None and not self.can_write.done():
            self.can_write.set_result(None)
        self.can_write = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end == -1:
            return
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        method, path, _ = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        self.busy = True
        task = asyncio.get_running_loop().create_task(self._handle(method, path, body))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)

    async def _handle(self, method: str, path: str, body: bytes) -> None:
        assert self.transport is not None
        try:
            if method == "POST" and path in ("/api/generate", "//api/generate"):
                await self._generate(body)
            elif method == "POST" and path.endswith("/chat/completions"):
                await self._openai(body)
            else:
                self.transport.write(_response("404 Not Found", b"", "text/plain"))
        except Exception as e:  # a bench bug: say so, and drop the connection
            print(f"bench server: {e!r}", file=sys.stderr, flush=True)
            self.transport.abort()
            return
        self.busy = False
        if self.buffer and not self.closed:
            self._next()

    async def _generate(self, body: bytes) -> None:
        assert self.transport is not None
        payload = json.loads(body)
        last = payload["messages"][-1]
        text = "".join(part["text"] for part in last["parts"])
        if last["role"] != "user":
            error = b'{"error":{"message":"Invalid message history: The last message must be from user role."}}'  # noqa: E501
            self.transport.write(_response("400 Bad Request", error, "text/plain"))
            return
        if payload.get("sign") != sign(payload["time"], text, SECRET):
            error = b'{"error":{"message":"Invalid signature."}}'
            self.transport.write(_response("401 Unauthorized", error, "text/plain"))
            return
        spec = Spec.from_prompt(text)
        await self._stream(spec, _OK_TEXT, _text_frames(spec))

    async def _openai(self, body: bytes) -> None:
        assert self.transport is not None
        payload = json.loads(body)
        spec = Spec.from_prompt(payload["messages"][-1]["content"])
        if payload.get("stream"):
            await self._stream(spec, _OK_SSE, _sse_frames(spec))
        else:
            self.transport.write(_completion(spec))

    async def _stream(self, spec: Spec, head: bytes, frames: list[bytes]) -> None:
        transport = self.transport
        assert transport is not None
        if spec.mode == "burst":
            bursts = _bursts(tuple(frames))
            transport.write(head + bursts[0])
            for burst in bursts[1:]:
                await self._drain()
                if self.closed:
                    return
                transport.write(burst)
        else:
            transport.write(head + frames[0])
            for i, frame in enumerate(frames[1:], 1):
                if spec.mode == "paced":
                    await asyncio.sleep(PACE)
                elif i % _YIELD_EVERY == 0:
                    await self._drain()
                if self.closed:
                    return
                transport.write(frame)
        transport.write(_END)

    async def _drain(self) -> None:
        if self.can_write is not None:
            await self.can_write
        else:
            await asyncio.sleep(0)


_TASKS: set[asyncio.Task[None]] = set()


class _Control(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if b"\r\n\r\n" in data:
            body = json.dumps({"opened": Stats.opened, "open": Stats.open_now})
            assert isinstance(self.transport, asyncio.Transport)
            self.transport.write(
                _response("200 OK", body.encode(), "application/json").replace(
                    b"keep-alive", b"close"
                )
            )
            self.transport.close()


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


async def serve(host: str = "127.0.0.1") -> None:
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    main = await loop.create_server(_Http, host, 0, backlog=4096)
    control = await loop.create_server(_Control, host, 0)
    port = main.sockets[0].getsockname()[1]
    control_port = control.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {port} {control_port}", flush=True)
    await stop.wait()
    main.close()
    control.close()


if __name__ == "__main__":
    asyncio.run(serve())
