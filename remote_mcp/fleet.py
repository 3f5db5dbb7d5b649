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

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
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

        workers = min(self.max_parallel, len(chosen))
        with ThreadPoolExecutor(workers, thread_name_prefix="remote-mcp-group") as pool:
            list(pool.map(one, chosen))
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
