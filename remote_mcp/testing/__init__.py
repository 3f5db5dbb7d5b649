"""Test helpers for code that talks to a remote host over SSH.

Shipped with the package (like ``fabric.testing``) so that remote-mcp's own
tests and the tests of projects built on it can run against a *real* OpenSSH
server instead of a mock: mocked SSH hides exactly the bugs that matter here
(quoting, channel handling, host-key checks, slow or broken links).

What is here:

* `start_sshd` / `SshdServer`: a throwaway ``sshd`` child process on
  127.0.0.1 with its own config, host key and client key. Optionally it runs
  in a private mount namespace where one directory (``isolated_root``) is a
  tmpfs that only the SSH side can see. The remote and the local machine are
  the same box in tests, so without this a bug that touches a local file
  instead of going over SSH would pass unnoticed.
* ``start_sshd(..., flavour=...)``: the remote as another kind of host:
  ``busybox`` (BusyBox ash and applets only), ``dash`` (no bash, python3 or
  rg), ``tcsh`` or ``zsh`` login shells (`remote_mcp.testing.flavours`).
* `remote_exec`: runs a command on such a server with plain paramiko, an
  independent channel for checking remote state without the code under test.
* `LinkProxy`: a TCP proxy that adds latency and injects faults (cut, stall,
  refuse), because ``tc netem`` is not available everywhere and tests of
  reconnect logic need a link they can break on purpose.
* `DelayProxies`: many latency-only proxies served by one thread, for
  benchmarks of many links at once (no faults, no per-link threads).
* `start_fleet` / `Fleet`: many such servers at once, each in namespaces of
  its own (files, ``/etc/hostname``, ``hostname`` where permitted), with the
  config and ssh_config that name them ``node01``... for group tests.
* `free_port`.

Nothing in this package imports other remote_mcp modules: the helpers must
stay usable when the product code under test is broken.

Modules: `sshd` (`start_sshd`, `SshdServer`), `sshd_setup` (its keys, config
and readiness checks), `fleet` (`start_fleet`, `Fleet`), `flavours`, `hostile`
(`start_hostile_login_sshd`), `remote` (`remote_exec`, `wait_until`) and
`link_proxy` (`LinkProxy`), `delay_proxy` (`DelayProxies`). Import
the names from ``remote_mcp.testing`` itself; the module split may change.

.. versionadded:: 0.1
"""

from __future__ import annotations

from remote_mcp.testing.delay_proxy import DelayProxies
from remote_mcp.testing.flavours import FLAVOURS
from remote_mcp.testing.fleet import Fleet, start_fleet
from remote_mcp.testing.hostile import HostileLogin, start_hostile_login_sshd
from remote_mcp.testing.link_proxy import LinkProxy
from remote_mcp.testing.remote import remote_exec, wait_until
from remote_mcp.testing.sshd import SshdServer, start_sshd
from remote_mcp.testing.sshd_setup import SSHD, SshdError, free_port

__all__ = [
    "FLAVOURS",
    "SSHD",
    "DelayProxies",
    "Fleet",
    "HostileLogin",
    "LinkProxy",
    "SshdError",
    "SshdServer",
    "free_port",
    "remote_exec",
    "start_fleet",
    "start_hostile_login_sshd",
    "start_sshd",
    "wait_until",
]
