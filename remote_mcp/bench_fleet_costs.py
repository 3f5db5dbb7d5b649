"""Where a fleet call's time goes on a machine that is also every "remote host".

In ``invoke bench --fleet`` the client, the latency proxies and all 100
sshds with their shells share the same few cores, so a 100-host call is
bounded by the CPU it needs in total, not by the round trip. Two measures
say which part is whose:

* `CpuMeter`: the CPU time, over one call, of the client (this process),
  the proxy process, the "remote hosts" (every process under the bench's
  sshds, with the children they reaped) and the whole machine (/proc/stat;
  the rest is other load).
* `Floor`: the same number of hosts each running ``hostname`` on an
  already-open plain ``sh`` channel, the bytes written to all channels at
  once from one thread, the answers read with one selector: what any
  client could reach here for a trivial command (one fork+exec per host
  plus sshd's own work), however lean.

Linux only (/proc), like the benchmark.
"""

from __future__ import annotations

import os
import selectors
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from .fleet import SessionGroup
from .session import Session
from .templates import render

__all__ = ["CpuMeter", "CpuSpent", "Floor"]

_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
_FLOOR_END = b"__RMCP_FLOOR_END__"


@dataclass(frozen=True)
class CpuSpent:
    """CPU milliseconds spent during one measured span."""

    client: float
    proxy: float
    remote: float
    machine: float  # all cores, everything (other users' work included)
    wall: float

    @property
    def other(self) -> float:
        return max(0.0, self.machine - self.client - self.proxy - self.remote)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # from field 3 (state) on


def _process_ms(pid: int, children: bool) -> float:
    """CPU ms of single-threaded ``pid``: its own from schedstat (ns;
    /proc/PID/stat counts 10 ms ticks, and a connection's sshd spends less
    than one), plus with ``children`` those it reaped (ticks: nothing finer
    exists for them)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # utime, stime (fields 14, 15), cutime, cstime (16, 17): index = field - 3.
    try:  # the main thread's: the remote processes here have no other
        own = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        own = (int(fields[11]) + int(fields[12])) * _TICK_MS
    if children:
        own += (int(fields[13]) + int(fields[14])) * _TICK_MS
    return own


def _whole_process_ms(pid: int) -> float:
    """CPU ms of every thread of ``pid`` (the proxy process), ended ones too
    (10 ms ticks: the process's total is what counts here)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) * _TICK_MS if fields else 0.0


def _tree_ms(roots: set[int]) -> dict[int, float]:
    """CPU of each process below ``roots`` (not the roots: the listening
    sshds), each with the children it has reaped (short-lived commands)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))) is not None:
            parent[int(entry)] = int(fields[1])
    spent: dict[int, float] = {}
    for pid in parent:
        up, hops = parent.get(pid), 0
        while up is not None and up not in roots and up > 1 and hops < 64:
            up, hops = parent.get(up), hops + 1
        if up in roots:
            spent[pid] = _process_ms(pid, children=True)
    return spent


def _machine_ms() -> float:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) * _TICK_MS


class CpuMeter:
    """Snapshots of CPU time by owner; ``spent()`` since ``start()``.

    Short-lived remote processes count once their parent reaped them (as
    cutime); a process that exits between the snapshots without a surviving
    parent is missed, so ``remote`` is a lower bound (the worker shells and
    sshds live on, so little is missed)."""

    def __init__(self, proxy_pid: int | None, sshd_pids: set[int]) -> None:
        self.proxy_pid, self.sshd_pids = proxy_pid, sshd_pids
        self._start: tuple[float, ...] = ()
        self._remote: dict[int, float] = {}

    def _now(self) -> tuple[float, ...]:
        proxy = _whole_process_ms(self.proxy_pid) if self.proxy_pid else 0.0
        return (time.process_time() * 1000, proxy, _machine_ms(), time.perf_counter() * 1000)

    def start(self) -> None:
        self._remote = _tree_ms(self.sshd_pids)
        self._start = self._now()

    def spent(self) -> CpuSpent:
        now = self._now()
        remote = _tree_ms(self.sshd_pids)
        client, proxy, machine, wall = (b - a for a, b in zip(self._start, now, strict=True))
        # Per process: one that ended since start() takes its CPU with it.
        grown = sum(ms - self._remote.get(pid, 0.0) for pid, ms in remote.items())
        return CpuSpent(client, proxy, max(0.0, grown), machine, wall)


class Floor:
    """A plain ``sh`` on every member's open connection, for `call`."""

    def __init__(self, group: SessionGroup) -> None:
        opened = group.map(_open_sh)
        self.channels = [c for c in opened.values() if isinstance(c, paramiko.Channel)]

    def call(self, timeout_s: float = 60.0) -> tuple[float, float, int]:
        """Wall and client CPU ms of ``hostname`` on every channel at once, and
        how many answered before ``timeout_s``."""
        command = render("bench_floor.sh.j2", start=False, end=_FLOOR_END.decode()).encode()
        start, start_cpu = time.perf_counter(), time.process_time()
        with selectors.DefaultSelector() as selector:
            for channel in self.channels:
                channel.sendall(command)
                selector.register(channel, selectors.EVENT_READ, bytearray())
            answered = 0
            deadline = time.monotonic() + timeout_s
            while answered < len(self.channels) and time.monotonic() < deadline:
                for key, _ in selector.select(max(0.0, deadline - time.monotonic())):
                    ready: Any = key.fileobj
                    key.data.extend(ready.recv(65536))
                    if _FLOOR_END in key.data or ready.exit_status_ready():
                        selector.unregister(ready)
                        answered += 1
        return (
            (time.perf_counter() - start) * 1000,
            (time.process_time() - start_cpu) * 1000,
            answered,
        )

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


def _open_sh(session: Session) -> paramiko.Channel:
    channel = session.conn.open_channel()
    channel.exec_command(render("bench_floor.sh.j2", start=True).strip())
    return channel
