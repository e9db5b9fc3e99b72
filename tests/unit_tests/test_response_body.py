"""`_response_body`: a body read whole up to a bound, however it is split."""

from __future__ import annotations

import asyncio
from unittest import mock

import aiohttp
import pytest

from langchain_aichatfree._response_body import read_bounded


def stream_of(pieces: list[bytes]) -> aiohttp.StreamReader:
    """A body that arrives in `pieces`, then ends (no connection behind it)."""
    protocol = mock.Mock(_reading_paused=False)
    stream = aiohttp.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    for piece in pieces:
        stream.feed_data(piece)
    stream.feed_eof()
    return stream


BODIES = [
    # (pieces as they arrive, limit, what is read)
    ([b'{"error":', b'{"message":"x"}}'], 1024, b'{"error":{"message":"x"}}'),
    ([bytes([c]) for c in b"one byte at a time"], 1024, b"one byte at a time"),
    ([b"abcdef", b"ghij"], 8, b"abcdefgh"),  # the bound, across pieces
    ([b"abc"], 3, b"abc"),
    ([], 10, b""),
]


@pytest.mark.parametrize(("pieces", "limit", "expected"), BODIES)
async def test_the_whole_body_up_to_the_bound(
    pieces: list[bytes], limit: int, expected: bytes
) -> None:
    assert await read_bounded(stream_of(pieces), limit) == expected
