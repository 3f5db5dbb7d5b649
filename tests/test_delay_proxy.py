"""DelayProxies (the fleet benchmark's one-thread latency proxies): bytes
arrive whole and in order, later by at least the delay, half-closes pass
through, a target that is down closes the client, and close() stops all."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from remote_mcp.testing import DelayProxies, free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A TCP echo server that closes its side after the client's EOF."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        conn.settimeout(10)
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    listener.close()


def test_bytes_come_back_whole_in_order_and_the_eof_passes(echo_port: int) -> None:
    rng = random.Random(7)
    data = rng.randbytes(1_500_000)
    got = bytearray()
    with DelayProxies(0.005, [echo_port, echo_port]) as proxies:
        with socket.create_connection(("127.0.0.1", proxies.ports[1]), timeout=10) as s:

            def send() -> None:
                i = 0
                while i < len(data):
                    n = rng.randint(1, 70_000)
                    s.sendall(data[i : i + n])
                    i += n
                s.shutdown(socket.SHUT_WR)

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            while chunk := s.recv(65536):  # ends only when the echo server's FIN came through
                got += chunk
            sender.join(10)
        assert bytes(got) == data
        assert proxies.connections == 1
        assert len(set(proxies.ports)) == 2


def test_a_round_trip_takes_at_least_twice_the_delay(echo_port: int) -> None:
    with DelayProxies(0.05, [echo_port]) as proxies:
        with socket.create_connection(("127.0.0.1", proxies.ports[0]), timeout=10) as s:
            for _ in range(3):
                start = time.monotonic()
                s.sendall(b"ping")
                assert s.recv(16) == b"ping"
                assert time.monotonic() - start >= 0.1  # a lower bound: cannot flake


def test_a_target_that_is_down_closes_the_client() -> None:
    with DelayProxies(0.0, [free_port()]) as proxies:
        with socket.create_connection(("127.0.0.1", proxies.ports[0]), timeout=10) as s:
            try:
                assert s.recv(16) == b""
            except ConnectionResetError:
                pass  # an abort may arrive as a reset


def test_close_stops_listening_and_drops_connections(echo_port: int) -> None:
    proxies = DelayProxies(0.0, [echo_port])
    s = socket.create_connection(("127.0.0.1", proxies.ports[0]), timeout=10)
    s.sendall(b"x")
    assert s.recv(1) == b"x"
    proxies.close()
    proxies.close()  # idempotent
    with s:
        try:
            assert s.recv(16) == b""
        except ConnectionResetError:
            pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxies.ports[0]), timeout=5).close()
