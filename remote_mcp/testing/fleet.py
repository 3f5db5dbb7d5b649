"""`start_fleet`: many throwaway sshds that look like distinct hosts.

A group server (``--group``) fans a tool call out to many hosts; testing it
against one sshd proves nothing about grouping, a host that differs, or one
that is down. Each fleet node is a `start_sshd` server on 127.0.0.1 with a
port of its own and its own private mount namespace, where the same
``isolated_root`` path is a tmpfs of its own: a file written on ``node03``
is not on ``node04``, as on real hosts. Each node has its own name:
``/etc/hostname`` reads it, and where a UTS namespace is permitted (root,
most CI containers) the ``hostname`` command prints it too
(`Fleet.own_uts`); otherwise ``hostname`` prints the local machine's name on
every node and tests should read ``/etc/hostname``.

The nodes start in parallel (a thread pool that lives as long as the fleet,
so each sshd still dies with the test process) and stop together. The fleet
writes what clients need to reach the nodes by name: ``config.yaml`` for
remote-mcp (``hosts:`` one entry per node and ``groups:`` one group of them
all, as a pattern) and ``ssh_config`` (a Host alias per node), both pointing
at one ``known_hosts`` file with every node's key.

Cost, measured on 2 cores under a load average of 10-12: 20 nodes start in
3.8 s and 100 in 17.8 s (process spawns: keys, config check, namespaces);
each listening sshd takes about 9 MB RSS but 1.3 MB PSS (`Fleet.memory_kib`:
127 MB PSS for 100 nodes); stopping 100 takes 0.1 s.

Nothing here imports other remote_mcp modules but its siblings in
`remote_mcp.testing`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from remote_mcp.testing.sshd import SshdServer, start_sshd
from remote_mcp.testing.sshd_setup import SshdError

__all__ = ["Fleet", "start_fleet"]

DEFAULT_PARALLEL = 8  # sshds started at once: process spawns, bounded by the CPUs anyway
START_ATTEMPTS = 3  # per node, when sshd listens but is too slow to greet (a loaded machine)


@dataclass(eq=False)
class Fleet:
    """Running fleet nodes by name (natural order), and the client files
    that name them. Use as a context manager, or call `stop` (idempotent)."""

    nodes: dict[str, SshdServer]
    workdir: Path
    isolated_root: Path
    group: str
    """The group of all nodes in ``config_path``."""
    pattern: str
    """The nodes as one host pattern, e.g. ``node[01-20]``."""
    config_path: Path
    ssh_config_path: Path
    known_hosts: Path
    start_s: float
    """Wall time it took to start every node."""
    _pool: ThreadPoolExecutor = field(repr=False)
    _remove_root: bool = field(default=False, repr=False)

    @property
    def names(self) -> list[str]:
        return list(self.nodes)

    @property
    def own_uts(self) -> bool:
        """True when ``hostname`` prints each node's own name on every node."""
        return all(node.own_uts for node in self.nodes.values())

    def __getitem__(self, key: str | int) -> SshdServer:
        """A node by name (``fleet["node03"]``) or by position (``fleet[2]``)."""
        if isinstance(key, int):
            return list(self.nodes.values())[key]
        return self.nodes[key]

    def __iter__(self) -> Iterator[SshdServer]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def memory_kib(self) -> tuple[int, int]:
        """(RSS, PSS) of the listening sshd processes, summed, in KiB. PSS
        shares each shared page out among the processes that map it, so it
        is the fleet's real cost; RSS counts shared pages once per process."""
        rss = pss = 0
        for node in self.nodes.values():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{node.process.pid}/smaps_rollup").read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in ("Rss", "Pss"):
                        kib = int(value.split()[0])
                        rss, pss = (rss + kib, pss) if key == "Rss" else (rss, pss + kib)
        return rss, pss

    def stop(self) -> None:
        """Stop every node (in parallel) and remove what the fleet made."""
        with contextlib.suppress(RuntimeError):  # the pool is already shut down
            list(self._pool.map(SshdServer.stop, self.nodes.values()))
        for node in self.nodes.values():
            node.stop()  # idempotent: covers a pool that was already gone
        self._pool.shutdown(wait=True)
        if self._remove_root:
            with contextlib.suppress(OSError):
                self.isolated_root.rmdir()
            self._remove_root = False

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_fleet(
    workdir: Path,
    count: int,
    *,
    isolated_root: Path,
    prefix: str = "node",
    group: str = "fleet",
    parallel: int = DEFAULT_PARALLEL,
) -> Fleet:
    """Start ``count`` nodes named ``node01``, ``node02``... (two digits at
    least, more when ``count`` needs them) and wait until each answers.

    Every node's files go under ``workdir/NAME``; each mounts its own tmpfs
    over ``isolated_root`` (one path for all, as one path on many hosts).
    Isolation is required: without mount namespaces the nodes would share
    one file system and could not pass for distinct hosts, so a node
    without it raises `SshdError`, as does a node that does not start (the
    others are stopped first).
    """
    if count < 1:
        raise ValueError(f"a fleet needs at least one node, got {count}")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    isolated_root = Path(isolated_root).resolve()
    # Made here, not by each start_sshd: a node's stop() would rmdir it under the others.
    remove_root = not isolated_root.exists()
    isolated_root.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(count)))
    names = [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]
    pool = ThreadPoolExecutor(max_workers=max(1, min(parallel, count)), thread_name_prefix="fleet")

    def start(name: str) -> SshdServer:
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return start_sshd(
                    workdir / name, isolated_root=isolated_root, hostname=name, die_with_parent=True
                )
            except SshdError as exc:
                # On a loaded machine one of many sshds can miss the banner deadline;
                # another try costs less than failing the whole run.
                if "no SSH banner" not in str(exc) or attempt == START_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    started = time.monotonic()
    futures = {name: pool.submit(start, name) for name in names}
    nodes: dict[str, SshdServer] = {}
    errors: list[str] = []
    for name, future in futures.items():
        try:
            nodes[name] = future.result()
        except Exception as exc:  # reported below, after the rest are stopped
            errors.append(f"{name}: {exc}")
    not_isolated = [name for name, node in nodes.items() if not node.isolated]
    if not_isolated:
        errors.append(f"{', '.join(not_isolated)}: no private mount namespace (isolation is off)")
    fleet = Fleet(
        nodes=nodes,
        workdir=workdir,
        isolated_root=isolated_root,
        group=group,
        pattern=f"{prefix}[{names[0][len(prefix) :]}-{names[-1][len(prefix) :]}]",
        config_path=workdir / "config.yaml",
        ssh_config_path=workdir / "ssh_config",
        known_hosts=workdir / "known_hosts",
        start_s=time.monotonic() - started,
        _pool=pool,
        _remove_root=remove_root,
    )
    if errors:
        fleet.stop()
        raise SshdError(f"the fleet did not start ({len(errors)} problems): " + "; ".join(errors))
    _write_client_files(fleet)
    return fleet


def _write_client_files(fleet: Fleet) -> None:
    fleet.known_hosts.write_text("".join(n.known_hosts_line + "\n" for n in fleet))
    hosts = "".join(
        f"  {name}:\n"
        f"    hostname: {node.host}\n"
        f"    port: {node.port}\n"
        f"    user: {node.user}\n"
        f"    key_path: {node.client_key}\n"
        f"    known_hosts: {fleet.known_hosts}\n"
        for name, node in fleet.nodes.items()
    )
    fleet.config_path.write_text(
        "# Written by remote_mcp.testing.start_fleet; throwaway test hosts.\n"
        f"hosts:\n{hosts}groups:\n  {fleet.group}:\n    - {fleet.pattern}\n"
    )
    fleet.ssh_config_path.write_text(
        "".join(
            f"Host {name}\n"
            f"  HostName {node.host}\n"
            f"  Port {node.port}\n"
            f"  User {node.user}\n"
            f"  IdentityFile {node.client_key}\n"
            f"  UserKnownHostsFile {fleet.known_hosts}\n"
            "  StrictHostKeyChecking yes\n"
            for name, node in fleet.nodes.items()
        )
    )
