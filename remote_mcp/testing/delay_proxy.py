"""`DelayProxies`: many latency-only TCP proxies on one thread.

`LinkProxy` spends two threads per direction per connection so that it can
cut, stall and rate-limit each link. A fleet benchmark needs none of that,
only a fixed delay on 100 links at once, and there those 400 threads (each
waking every 100 ms to check its stop flag) cost a visible share of the same
two cores the "remote hosts" run on. Here one asyncio loop on one thread
serves every proxy: each direction is a queue of chunks stamped with the
time they may leave and at most one pending timer, so an idle link costs
nothing and a busy one a callback per chunk.

Nothing here imports other remote_mcp modules.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import threading

__all__ = ["DelayProxies"]

_CLOSE = "close"  # queued after a side's last chunk: close the other side then
_EOF = "eof"  # queued on a half-close: pass it on after the data before it


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; what it reads is delivered to its
    peer ``delay_s`` later, in order."""

    def __init__(self, delay_s: float, live: set[_Side], wait_for_peer: bool) -> None:
        self.delay_s = delay_s
        self.live = live  # the proxies' open sides, for close()
        self.wait_for_peer = wait_for_peer
        self.peer: _Side | None = None
        self.transport: asyncio.Transport | None = None
        self.queue: collections.deque[tuple[float, bytes | str]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.finished = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.live.add(self)
        if self.wait_for_peer:  # nothing is read before there is somewhere to send it
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        if self.peer is not None:
            self.peer.deliver_later(data)

    def eof_received(self) -> bool:
        if self.peer is not None:
            self.peer.deliver_later(_EOF)
        return True  # keep the other direction open (half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.finished = True
        self.live.discard(self)
        if self.peer is not None:
            self.peer.deliver_later(_CLOSE)

    def deliver_later(self, item: bytes | str) -> None:
        """Queue ``item`` for this side's socket, due ``delay_s`` from now."""
        loop = asyncio.get_running_loop()
        self.queue.append((loop.time() + self.delay_s, item))
        if self.timer is None:
            self.timer = loop.call_at(self.queue[0][0], self._flush)

    def _flush(self) -> None:
        """Write every chunk that is due (a chunk never overtakes an earlier one)."""
        self.timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self.queue and self.queue[0][0] <= now:
            item = self.queue.popleft()[1]
            if self.transport is None or self.finished:
                continue
            if item == _CLOSE:
                self.transport.close()
            elif item == _EOF:
                if self.transport.can_write_eof():
                    with contextlib.suppress(OSError):
                        self.transport.write_eof()
            else:
                assert isinstance(item, bytes)
                self.transport.write(item)
        if self.queue:
            self.timer = loop.call_at(self.queue[0][0], self._flush)


class DelayProxies:
    """One proxy on 127.0.0.1 per target port, each adding ``delay_s`` each
    way (round trip + ``2 * delay_s``), all served by one thread.

    ``ports[i]`` forwards to ``127.0.0.1:targets[i]``; a target that is down
    gives the client an immediate close. ``close()`` stops everything::

        with DelayProxies(0.025, [sshd.port]) as proxies:
            sock = socket.create_connection(("127.0.0.1", proxies.ports[0]))
    """

    def __init__(self, delay_s: float, targets: list[int]) -> None:
        self.delay_s = delay_s
        self.targets = list(targets)
        self.ports: list[int] = []
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._sides: set[_Side] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="DelayProxies")
        self._thread.daemon = True
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        try:
            started.result(30)
        except BaseException:
            self.close()
            raise

    async def _start(self) -> None:
        for target in self.targets:
            server = await self._loop.create_server(
                functools.partial(self._accepted, target), "127.0.0.1", 0
            )
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])

    def _accepted(self, target: int) -> _Side:
        client = _Side(self.delay_s, self._sides, wait_for_peer=True)
        self.connections += 1
        self._loop.create_task(self._link(client, target))
        return client

    async def _link(self, client: _Side, target: int) -> None:
        """Connect the upstream side; the client is not read until then."""
        try:
            _, upstream = await self._loop.create_connection(
                lambda: _Side(self.delay_s, self._sides, wait_for_peer=False), "127.0.0.1", target
            )
        except OSError:
            if client.transport is not None:
                client.transport.abort()  # target down: the client sees an abrupt close
            return
        assert client.transport is not None
        client.peer, upstream.peer = upstream, client
        if client.finished:  # the client left while we connected
            upstream.deliver_later(_CLOSE)
        else:
            client.transport.resume_reading()

    def close(self) -> None:
        """Stop listening, drop every connection and stop the thread (idempotent)."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for side in list(self._sides):
            if side.transport is not None:
                side.transport.abort()
        self._sides.clear()
        await asyncio.sleep(0)

    def __enter__(self) -> DelayProxies:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
