"""Fixtures for the Redis backends: the shared server, a key prefix per test, a server to stop.

The shared server is Redis at ``127.0.0.1:6379`` (``REDIS_URL`` overrides it). Without it the
tests skip with a reason; under ``CI`` its absence is a failure, because there the suite must
prove the Redis backends. Tests that need Redis to fail start a second server of their own on a
free port (``redis-server`` must be installed) and stop it, so the shared one stays up.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.connection
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the Redis tests")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared server's URL; skips (fails under ``CI``) when nothing answers there."""
    client = redis.Redis.from_url(URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        _unavailable(f"no Redis server answers at {URL} ({error})")
    finally:
        client.close()
    return URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    name = f"ck-test:{uuid.uuid4().hex[:12]}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=name + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class CountingConnection(redis.connection.Connection):
    """Counts the commands it sends: without pipelining, one send is one round trip."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


@pytest.fixture
def counting_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the shared server whose round trips ``CountingConnection.sent`` counts."""
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    c = redis.Redis(connection_pool=pool)
    yield c
    c.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A sync client of the shared server."""
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


class Server:
    """A ``redis-server`` of a test's own, on a free port, that the test may stop and start."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port: int = s.getsockname()[1]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        # No retries: a refused connection then fails at once instead of after redis-py's backoff.
        return redis.Redis(
            port=self.port, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
        )

    def aclient(self) -> redis.asyncio.Redis:
        return redis.asyncio.Redis(
            port=self.port,
            socket_connect_timeout=1,
            socket_timeout=1,
            retry=AsyncRetry(NoBackoff(), 0),
        )

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = self.client()
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    probe.ping()
                except redis.ConnectionError:  # noqa: PERF203 - polled until the server is up
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
                else:
                    return
        finally:
            probe.close()

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def server() -> Iterator[Server]:
    """A second Redis server, started; stopped (killed) after the test."""
    if shutil.which("redis-server") is None:
        _unavailable("redis-server is not installed, so no server can be started and stopped")
    s = Server()
    s.start()
    yield s
    s.stop()
