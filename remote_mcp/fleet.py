"""A Fabric ``Group`` whose members are remote-mcp sessions.

``SessionGroup`` is used exactly like ``fabric.ThreadingGroup`` -- ``run()``
returns a ``GroupResult`` mapping each member to its ``Result`` (or to the
exception it raised; ``GroupException`` then carries the whole result) --
but each member is a :class:`~remote_mcp.session.Session`: a command goes to
an already-open worker shell, so a group ``run()`` costs one round trip per
host, all hosts at once.

Connections open lazily (on a member's first command, or all at once with
:meth:`SessionGroup.connect`), in parallel, at most ``max_parallel`` at a
time. Every member works in its own thread with its own timeouts, so a host
that is down or slow fails or delays only its own entry.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fabric.exceptions import GroupException
from fabric.group import Group, GroupResult

from .config import HostConfig, load_config
from .session import RemoteInfo, Session

__all__ = ["DEFAULT_MAX_PARALLEL", "SessionGroup"]

# A laptop handles 100 SSH handshakes at once (each is a few ms of CPU and a
# thread); more hosts than this queue for a free slot.
DEFAULT_MAX_PARALLEL = 128

T = TypeVar("T")
log = logging.getLogger("remote_mcp")

IDLE_WORKER_S = 60.0  # a worker thread with nothing to do for this long ends
_Task = Callable[[Callable[[], None]], None]  # given park(): call it once when idle


class _Crew:
    """Worker threads kept between calls, shared by every group.

    Starting a thread costs ~0.1-0.2 ms of CPU, and the caller starts them
    one after the other: a 100-host call would pay that 100 times before
    the last host's command leaves. Idle workers are reused instead. Each
    call still gets workers of its own (as many as it may use), so a slow
    call never waits for another one's hosts.
    """

    def __init__(self) -> None:
        self._idle: list[queue.SimpleQueue[_Task]] = []
        self._lock = threading.Lock()

    def run(self, jobs: list[Callable[[], None]], workers: int) -> None:
        """Run every job on at most ``workers`` threads; return when all are done."""
        pending: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        for job in jobs:
            pending.put(job)
        left = len(jobs)
        done = threading.Event()
        count_lock = threading.Lock()

        def drain(park: Callable[[], None]) -> None:
            """Run jobs until none is left; park (be idle for the next call)
            before the count-down that may end this call."""
            nonlocal left
            while True:
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    park()
                    return
                try:
                    job()
                except BaseException:  # the jobs catch their own; never lose a count
                    log.exception("group worker job failed")
                last = pending.empty()
                if last:
                    park()
                with count_lock:
                    left -= 1
                    if left == 0:
                        done.set()
                if last:
                    return

        for _ in range(min(workers, len(jobs))):
            with self._lock:
                inbox = self._idle.pop() if self._idle else None
            if inbox is not None:
                inbox.put(drain)
            else:
                threading.Thread(
                    target=self._work, args=(drain,), name="remote-mcp-group", daemon=True
                ).start()
        done.wait()

    def _work(self, first: _Task) -> None:
        inbox: queue.SimpleQueue[_Task] = queue.SimpleQueue()

        def park() -> None:
            with self._lock:
                self._idle.append(inbox)

        task = first
        while True:
            task(park)
            try:
                task = inbox.get(timeout=IDLE_WORKER_S)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:  # nobody took us: end
                        self._idle.remove(inbox)
                        return
                task = inbox.get()  # taken just now: the task is on its way


_CREW = _Crew()


class SessionGroup(Group):  # type: ignore[misc]  # fabric has no type hints: Group is Any
    """A ``fabric.Group`` of :class:`Session` members (see module docstring).

    Members are given as ``--host`` names (config.yaml entries, ssh_config
    aliases, ``user@host[:port]``), :class:`HostConfig` objects or sessions.
    """

    def __init__(
        self,
        *hosts: str | HostConfig | Session,
        max_parallel: int = DEFAULT_MAX_PARALLEL,
        config: str | None = None,
    ) -> None:
        super().__init__()
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}.")
        self.max_parallel = max_parallel
        loaded = load_config(config) if any(isinstance(h, str) for h in hosts) else None
        for host in hosts:
            if isinstance(host, Session):
                self.append(host)
            elif isinstance(host, HostConfig):
                self.append(Session(host))
            else:
                assert loaded is not None
                self.append(Session(loaded.host(host)))

    @classmethod
    def from_connections(
        cls, connections: Iterable[Session], max_parallel: int = DEFAULT_MAX_PARALLEL
    ) -> SessionGroup:
        group = cls(max_parallel=max_parallel)
        group.extend(connections)
        return group

    @classmethod
    def from_config(
        cls, name: str, config: str | None = None, max_parallel: int = DEFAULT_MAX_PARALLEL
    ) -> SessionGroup:
        """The members of ``groups: {name: [...]}`` in the config file."""
        from .fleet_config import group_hosts

        return cls(*group_hosts(load_config(config), name), max_parallel=max_parallel)

    def __hash__(self) -> int:  # a list is unhashable; a group is an identity
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    @property
    def names(self) -> list[str]:
        return [member.host.name for member in self]

    def member(self, name: str) -> Session:
        session: Session
        for session in self:
            if session.host.name == name:
                return session
        raise KeyError(name)

    def map(
        self, work: Callable[[Session], T], members: Iterable[Session] | None = None
    ) -> GroupResult:
        """``work(member)`` for each member (default: all), in parallel, at most
        ``max_parallel`` at a time: a ``GroupResult`` of return values or the
        exceptions raised. Never raises for a member's failure."""
        chosen = list(self if members is None else members)
        results: dict[Session, Any] = {}
        if not chosen:
            return GroupResult()
        lock = threading.Lock()

        def one(session: Session) -> None:
            try:
                value: Any = work(session)
            except Exception as exc:  # a member's failure is its result
                value = exc
            with lock:
                results[session] = value

        _CREW.run([functools.partial(one, s) for s in chosen], self.max_parallel)
        # GroupResult sorts into succeeded/failed when first asked; keep member order.
        return GroupResult((s, results[s]) for s in chosen)

    def _do(self, method: str, *args: Any, **kwargs: Any) -> GroupResult:
        results = self.map(lambda session: getattr(session, method)(*args, **kwargs))
        if results.failed:
            raise GroupException(results)
        return results

    def connect(self) -> GroupResult:
        """Open every member's connection now (in parallel): a ``GroupResult``
        of :class:`RemoteInfo`, or of the exception for a host that failed."""
        return self.map(Session.connect)

    def info(self) -> dict[str, RemoteInfo | None]:
        return {member.host.name: member.info for member in self}

    def close(self) -> None:
        """Close every member's connection, in parallel (bounded by each close)."""
        self.map(Session.close)
