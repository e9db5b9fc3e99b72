"""What the local server tests share: request builders and raw HTTP exchanges."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from langchain_aichatfree.testing import (
    LocalServer,
)

ERROR_CT = "text/plain;charset=UTF-8"
STREAM_CT = "text/plain; charset=utf-8"
LAST_ROLE = (
    b'{"error":{"message":"Invalid message history: '
    b'The last message must be from user role."}}'
)
BAD_PASSWORD = b'{"error":{"message":"Invalid password."}}'
BAD_SIGNATURE = b'{"error":{"message":"Invalid signature."}}'
SENTINEL = b"Internal server error"
MULTIBYTE = "héllo wörld — 你好 🌍"


def sign(time_text: object, text: str, secret: str = "") -> str:
    return hashlib.sha256(f"{time_text}:{text}:{secret}".encode()).hexdigest()


def gemini_body(
    *turns: tuple[str, str],
    time: Any = 1,
    secret: str = "",
    password: str | None = None,
    signature: str | None = None,
) -> dict[str, Any]:
    messages = [{"role": role, "parts": [{"text": text}]} for role, text in turns]
    last = turns[-1][1] if turns else ""
    return {
        "messages": messages,
        "time": time,
        "pass": password,
        "sign": signature or sign(time, last, secret),
    }


def hi(**kwargs: Any) -> dict[str, Any]:
    return gemini_body(("user", "hi"), **kwargs)


def upstream_body(message: str) -> bytes:
    error = {"error": {"code": "Error", "message": message}}
    return json.dumps(error, separators=(",", ":"), ensure_ascii=False).encode()


def generate_url(server: LocalServer, path: str = "/api/generate") -> str:
    return server.url + path


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def post(
    session: aiohttp.ClientSession,
    server: LocalServer,
    payload: Any,
    *,
    path: str = "/api/generate",
) -> Answer:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with session.post(
        generate_url(server, path),
        data=data,
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    ) as response:
        body = await response.read()
        return Answer(response.status, dict(response.headers), body)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    chunks: list[bytes]
    complete: bool

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def raw_request(
    payload: Any, *, method: str = "POST", path: str = "/api/generate"
) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def parse_raw(raw: bytes) -> RawResponse:
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    chunks: list[bytes] = []
    complete = False
    if headers.get("transfer-encoding") == "chunked":
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                complete = rest == b"\r\n"
                break
            chunks.append(rest[:size])
            rest = rest[size + 2 :]
    else:
        complete = True
        if rest:
            chunks.append(rest)
    return RawResponse(int(status_line.split()[1]), headers, chunks, complete)


async def open_raw(
    server: LocalServer,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = URL(server.url)
    assert url.host is not None
    assert url.port is not None
    return await asyncio.open_connection(url.host, url.port)


async def close_raw(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):  # the server may have aborted
        await writer.wait_closed()


async def raw_exchange(server: LocalServer, request: bytes) -> RawResponse:
    reader, writer = await open_raw(server)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 5)
    finally:
        await close_raw(writer)
    return parse_raw(raw)
