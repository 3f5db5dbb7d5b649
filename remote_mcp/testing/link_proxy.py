"""`LinkProxy`: a TCP proxy that adds latency and breaks the link on purpose.

Nothing here imports other remote_mcp modules.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import struct
import threading
import time
from types import TracebackType

_POLL = 0.1
"""Seconds between checks of stop flags; bounds how long a close() or cut() takes."""

_EOF = None

_MIN_PIECE = 1024
"""Smallest piece a rate-limited link sends at once (bytes)."""

_BURST_S = 0.05
"""Link time a rate-limited direction may catch up on at once (seconds)."""


class _Direction:
    """One way of one proxied connection: a reader fills a queue, a sender drains it.

    Reading and sending are separate threads so a delay never blocks the reader:
    data keeps flowing into the queue, stamped with when it may leave, which
    models a link with latency (like ``netem delay``). A rate limit paces the
    sender; the queue before it is then the link's buffer, which has no bound
    (the SSH window is what limits the data in flight).
    """

    def __init__(
        self, conn: _Conn, src: socket.socket, dst: socket.socket, up: bool, name: str
    ) -> None:
        self.conn, self.src, self.dst, self.up = conn, src, dst, up
        self.queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self.threads = [
            threading.Thread(target=self._read, name=f"{name}-read", daemon=True),
            threading.Thread(target=self._send, name=f"{name}-send", daemon=True),
        ]

    def _read(self) -> None:
        proxy, conn = self.conn.proxy, self.conn
        try:
            while not conn.aborted:
                try:
                    data = self.src.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    conn.abort()
                    return
                with proxy._cond:
                    self.queue.append((time.monotonic() + proxy.delay_s, data or _EOF))
                    proxy._cond.notify_all()
                if not data:
                    return
        finally:
            conn.thread_done()

    def _next(self) -> tuple[bool, bytes | None]:
        """Wait for the next chunk that is due; (False, None) if the connection died."""
        proxy, conn = self.conn.proxy, self.conn
        with proxy._cond:
            while not conn.aborted:
                if (
                    self.up
                    and proxy._stall_up_at is not None
                    and proxy.bytes_up >= proxy._stall_up_at
                ):
                    proxy._stalled, proxy._stall_up_at = True, None  # stall_after's mark passed
                    proxy._cond.notify_all()
                if self.queue and not proxy._stalled:
                    wait = self.queue[0][0] - time.monotonic()
                    if wait <= 0:
                        proxy._inflight += 1  # lets stall() wait for chunks already taken
                        return True, self.queue.popleft()[1]
                    proxy._cond.wait(min(wait, _POLL))
                else:
                    proxy._cond.wait(_POLL)
            return False, None

    def _send(self) -> None:
        proxy, conn = self.conn.proxy, self.conn
        try:
            while True:
                ok, data = self._next()
                if not ok:
                    return
                try:
                    if not self._deliver(data):
                        return
                finally:
                    with proxy._cond:
                        proxy._inflight -= 1
                        proxy._cond.notify_all()
        finally:
            conn.thread_done()

    def _deliver(self, data: bytes | None) -> bool:
        """Send one chunk (or pass EOF on); False when this direction is finished."""
        proxy, conn = self.conn.proxy, self.conn
        if data is _EOF:
            # Pass the half-close on, after everything queued before it.
            with contextlib.suppress(OSError):
                self.dst.shutdown(socket.SHUT_WR)
            return False
        rest = memoryview(data)
        while rest:
            allowed = self._wait_for_link(len(rest))
            if not allowed:
                return False
            piece, rest = rest[:allowed], rest[allowed:]
            while piece:
                if conn.aborted:
                    return False
                try:
                    n = self.dst.send(piece)
                except TimeoutError:
                    continue  # nothing was sent; re-check the abort flag
                except OSError:
                    conn.abort()
                    return False
                piece = piece[n:]
                with proxy._cond:
                    if self.up:
                        proxy.bytes_up += n
                    else:
                        proxy.bytes_down += n
        return True

    def _wait_for_link(self, size: int) -> int:
        """With a rate limit, book the link for the next piece of at most ``size``
        bytes and wait for its turn; return the piece's size (0: connection died).

        The booking is shared by every connection in this direction, like one
        physical link, and is taken before the wait so turns keep their order.
        """
        proxy, conn = self.conn.proxy, self.conn
        rate = proxy.rate_bytes_per_s
        if not rate:
            return size
        # ~10 ms of link time per piece: smooth pacing without a wake-up per byte.
        piece = min(size, max(_MIN_PIECE, int(rate / 100)))
        with proxy._cond:
            # Credit for up to _BURST_S of unused link time (like tc tbf's burst):
            # a sender thread woken late on a busy machine must not lose capacity.
            start = max(time.monotonic() - _BURST_S, proxy._link_free_at[self.up])
            proxy._link_free_at[self.up] = start + piece / rate
        while (wait := start - time.monotonic()) > 0:
            if conn.aborted:
                return 0
            time.sleep(min(wait, _POLL))
        return 0 if conn.aborted else piece


class _Conn:
    """A proxied connection: client socket, upstream socket, four threads."""

    def __init__(self, proxy: LinkProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.aborted = False
        self.closed = threading.Event()
        self._lock = threading.Lock()
        n = proxy.connections
        self.directions = [
            _Direction(self, client, upstream, True, f"LinkProxy-{n}-up"),
            _Direction(self, upstream, client, False, f"LinkProxy-{n}-down"),
        ]
        self._alive = 4
        for s in (client, upstream):
            s.settimeout(_POLL)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def start(self) -> None:
        for d in self.directions:
            for t in d.threads:
                t.start()

    def abort(self, reset: bool = True) -> None:
        """Tear down both sides; with ``reset``, they get a RST instead of a FIN."""
        with self._lock:
            if self.aborted:
                return
            self.aborted = True
        for s in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                if reset:
                    _set_linger0(s)
                # SHUT_RD wakes a blocked recv() and sends nothing to the peer; the
                # sockets are closed only when all threads are out (no fd reuse races).
                s.shutdown(socket.SHUT_RD)
        with self.proxy._cond:
            self.proxy._cond.notify_all()

    def thread_done(self) -> None:
        with self._lock:
            self._alive -= 1
            last = self._alive == 0
        if last:
            for s in (self.client, self.upstream):
                s.close()
            with self.proxy._cond:
                self.proxy._conns.discard(self)
            self.closed.set()


def _set_linger0(s: socket.socket) -> None:
    # Linger on with timeout 0: close() sends RST and drops unsent data.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _reset(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        _set_linger0(s)
    s.close()


class LinkProxy:
    """A TCP proxy on 127.0.0.1 in front of ``(target_host, target_port)``.

    For benchmarks and fault tests: ``delay_s`` adds that one-way delay in each
    direction (so the round-trip time grows by ``2 * delay_s``) while keeping
    byte order; ``rate_bytes_per_s`` (None: unlimited; may be changed while
    running) caps each direction's throughput, shared by all connections like
    one link (payload bytes: TCP/IP headers are not counted); and `cut`,
    `stall`/`resume` and `refuse` break the link on purpose. Counters
    ``bytes_up`` (client to target), ``bytes_down`` and ``connections`` count
    what was forwarded. Every thread is a daemon and stops on `close`::

        with LinkProxy("127.0.0.1", sshd.port, delay_s=0.05) as proxy:
            sock = socket.create_connection(("127.0.0.1", proxy.port))
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        delay_s: float = 0.0,
        rate_bytes_per_s: float | None = None,
    ) -> None:
        if rate_bytes_per_s is not None and rate_bytes_per_s <= 0:
            raise ValueError(f"rate_bytes_per_s must be positive or None, not {rate_bytes_per_s}")
        self.target = (target_host, target_port)
        self.delay_s = delay_s
        self.rate_bytes_per_s = rate_bytes_per_s
        # When each direction's link is next free (monotonic time), keyed by "up".
        self._link_free_at = {True: 0.0, False: 0.0}
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections = 0
        self.refused = 0
        self._cond = threading.Condition()
        self._conns: set[_Conn] = set()
        self._stalled = False
        self._stall_up_at: int | None = None  # bytes_up at which to stall (stall_after)
        self._inflight = 0
        self._refusing = False
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept_loop, name="LinkProxy-accept")
        self._accepter.daemon = True

    def start(self) -> LinkProxy:
        """Start accepting connections (idempotent). Returns self."""
        if not self._accepter.is_alive() and not self._stop.is_set():
            self._listener.listen(64)
            self._listener.settimeout(_POLL)
            self._accepter.start()
        return self

    def _accept_loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._accept_one()
        finally:
            # Closed here, not in close(): closing a socket another thread is polling
            # could hand its fd number to a new socket under that thread's feet.
            self._listener.close()

    def _accept_one(self) -> None:
        try:
            client, _ = self._listener.accept()
        except TimeoutError:
            return
        except OSError:
            self._stop.set()  # listener broken: nothing more to accept
            return
        if self._refusing:
            self.refused += 1
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            # Target down: the client sees the same thing, an abrupt close.
            _reset(client)
            return
        conn = _Conn(self, client, upstream)
        with self._cond:
            self.connections += 1
            self._conns.add(conn)
        conn.start()

    def _current(self) -> list[_Conn]:
        with self._cond:
            return list(self._conns)

    def cut(self, timeout: float = 2.0) -> None:
        """Close every current connection abruptly (RST to both ends).

        Returns when they are closed (at most ``timeout`` s). New connections
        are still accepted, like a link that drops and comes back.
        """
        conns = self._current()
        for c in conns:
            c.abort(reset=True)
        deadline = time.monotonic() + timeout
        for c in conns:
            c.closed.wait(max(0.0, deadline - time.monotonic()))

    def stall(self, timeout: float = 2.0) -> None:
        """Stop forwarding: data is read and held, nothing is delivered, until `resume`.

        Returns once chunks already being sent are out (at most ``timeout`` s), so
        the byte counters and the peers see nothing more after it returns.
        """
        with self._cond:
            self._stalled = True
            self._cond.wait_for(lambda: self._inflight == 0, timeout)

    def stall_after(self, up_bytes: int) -> None:
        """Stall (as `stall`) once ``up_bytes`` more bytes have gone from the
        client to the target: the link stops there, between two chunks,
        however fast either end is. `wait_stalled` tells when it has."""
        with self._cond:
            self._stall_up_at = self.bytes_up + up_bytes

    def wait_stalled(self, timeout: float) -> bool:
        """Wait until the link is stalled and nothing is being delivered any
        more (at most ``timeout`` s); False if it did not stall in time."""
        with self._cond:
            return self._cond.wait_for(lambda: self._stalled and self._inflight == 0, timeout)

    def resume(self) -> None:
        """Deliver the held data and forward normally again."""
        with self._cond:
            self._stalled = False
            self._cond.notify_all()

    def refuse(self, on: bool = True) -> None:
        """While on, new connections are accepted and closed at once (RST)."""
        self._refusing = on

    def close(self) -> None:
        """Stop listening, drop every connection and stop all threads (idempotent)."""
        self._stop.set()
        if self._accepter.is_alive():
            # Joined before cut() so that no connection is accepted after it.
            self._accepter.join(10.0)
        else:
            self._listener.close()
        self.cut()

    def __enter__(self) -> LinkProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<LinkProxy 127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]} "
            f"delay_s={self.delay_s} rate_bytes_per_s={self.rate_bytes_per_s} "
            f"up={self.bytes_up} down={self.bytes_down} "
            f"connections={self.connections}>"
        )
