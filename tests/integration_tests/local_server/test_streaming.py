"""A successful answer: headers held until the first chunk, chunking, delays."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from langchain_aichatfree.testing import (
    LocalServer,
    Reply,
)
from tests.integration_tests.local_server._helpers import (
    MULTIBYTE,
    STREAM_CT,
    close_raw,
    generate_url,
    hi,
    open_raw,
    parse_raw,
    post,
    raw_exchange,
    raw_request,
)


async def test_success_headers(server, session):
    server.script(Reply(text="Hello", chunk_size=2))
    async with session.post(
        generate_url(server),
        json=hi(),
        headers={"Accept-Encoding": "gzip, deflate, br"},
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == STREAM_CT
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers
        assert "Content-Encoding" not in response.headers
        assert response.headers.get("Connection", "keep-alive").lower() != "close"
        assert await response.read() == b"Hello"


async def test_headers_are_held_until_the_first_chunk(server, session):
    server.script(Reply(text="late", first_byte_delay=0.5))
    reader, writer = await open_raw(server)
    try:
        started = time.monotonic()
        writer.write(raw_request(hi()))
        await writer.drain()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.2)  # not a single byte yet
        raw = parse_raw(await asyncio.wait_for(reader.read(), 5))
        assert time.monotonic() - started >= 0.5
    finally:
        await close_raw(writer)
    assert (raw.status, raw.chunks, raw.complete) == (200, [b"late"], True)

    # An aiohttp client waiting 0.2 s for the status line gives up as well.
    server.script(Reply(text="late", first_byte_delay=0.5))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(session.post(generate_url(server), json=hi()), 0.2)
    await server.wait_for(lambda: server.disconnects == 1)
    assert server.requests[-1].outcome == "client_disconnected"


async def test_rechunk_one_byte_reassembles_exact_utf8():
    async with LocalServer(rechunk=1) as server:
        server.script(Reply(text=MULTIBYTE, chunk_size=5))
        raw = await raw_exchange(server, raw_request(hi()))
        encoded = MULTIBYTE.encode()
        assert raw.complete
        assert len(raw.chunks) == len(encoded)
        assert all(len(chunk) == 1 for chunk in raw.chunks)
        assert raw.body == encoded
        async with aiohttp.ClientSession() as session:
            server.script(MULTIBYTE)
            answer = await post(session, server, hi())
            assert answer.body.decode("utf-8") == MULTIBYTE


async def test_chunk_size_splits_bytes_inside_characters(server):
    server.script(Reply(text="é€", chunk_size=2))
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.chunks == [b"\xc3\xa9", b"\xe2\x82", b"\xac"]


async def test_explicit_chunks_are_separate_writes(server):
    server.script(Reply(chunks=["ab", b"\xc3", "", b"\xa9", "c"]))
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.chunks == [b"ab", b"\xc3", b"\xa9", b"c"]
    assert raw.complete


async def test_empty_reply_is_an_empty_chunked_200(server):
    server.script("")
    raw = await raw_exchange(server, raw_request(hi()))
    assert (raw.status, raw.chunks, raw.complete) == (200, [], True)
    assert raw.headers["content-type"] == STREAM_CT


async def test_chunk_delay_spaces_the_writes(server):
    server.script(Reply(chunks=["a", "b", "c"], chunk_delay=0.1))
    started = time.monotonic()
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.chunks == [b"a", b"b", b"c"]
    assert time.monotonic() - started >= 0.2
