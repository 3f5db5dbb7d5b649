"""Remote flavours for `remote_mcp.testing.start_sshd`: the same box made to
look like the hosts users really have, so the tools are tested where they break.

Each flavour is a ``ForceCommand`` wrapper: sshd runs it (through the test
user's own login shell) for every exec request, and it hands the client's
command, from ``$SSH_ORIGINAL_COMMAND``, to the flavour's shell with ``-c``,
exactly what sshd itself does with a user's login shell. An empty command gets
that shell interactively. SFTP still works: the wrapper serves the sftp
subsystem (which reaches it as ``internal-sftp``) with OpenSSH's sftp-server.

* ``bash``: no wrapper; the current user's login shell (bash on Debian).
* ``busybox``: commands run under BusyBox ``sh`` (ash) with a PATH holding only
  symlinks to BusyBox applets: no bash, python3, perl, rg, GNU grep/find/sed/
  coreutils. When sshd runs in a private mount namespace (``isolated_root``),
  BusyBox is also bind-mounted over the program ``/bin/sh`` points to, so
  scripts that name ``/bin/sh`` get ash too; without the namespace ``/bin/sh``
  stays the system's (check `SshdServer.flavour_note`).
* ``dash``: commands run under dash with a PATH of symlinks to everything in
  /usr/bin and /usr/sbin except bash, python3 and rg: a minimal image whose
  /bin/sh is dash and that has GNU coreutils, grep, find and perl only.
* ``tcsh``, ``zsh``: the login shell is tcsh or zsh (commands run as
  ``tcsh -c COMMAND``), PATH and tools unchanged; remote-mcp's exec strings
  must be valid in those shells' syntax.

Nothing here imports other remote_mcp modules (see `remote_mcp.testing`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FLAVOURS = ("bash", "busybox", "dash", "tcsh", "zsh")
"""Every value `start_sshd` accepts for ``flavour``."""

_HIDDEN_FROM_DASH = ("bash", "rbash", "rg", "python3")
_SFTP_SERVERS = (
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/sftp-server",
    "/usr/libexec/openssh/sftp-server",
)


@dataclass(frozen=True)
class FlavourSetup:
    """What `start_sshd` adds for a flavour: sshd_config lines, programs to
    bind-mount BusyBox over inside sshd's namespace, and a note for the user."""

    extra_config: str = ""
    busybox_over: tuple[str, ...] = ()
    note: str = ""


def _which(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"the {name} flavour needs {name} installed (apt-get install {name})"
        )
    return found


def _link_dir(directory: Path, targets: dict[str, str]) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for name, target in targets.items():
        (directory / name).symlink_to(target)


def _busybox_bin(workdir: Path) -> Path:
    busybox = _which("busybox")
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    applets = listed.stdout.split()
    directory = workdir / "flavour-busybox-bin"
    _link_dir(directory, {a: busybox for a in applets if "/" not in a})
    return directory


def _dash_bin(workdir: Path) -> Path:
    targets: dict[str, str] = {}
    for source in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        with os.scandir(source) as entries:
            for entry in entries:
                hidden = entry.name in _HIDDEN_FROM_DASH or entry.name.startswith("python3")
                if not hidden and entry.name not in targets:
                    targets[entry.name] = entry.path
    directory = workdir / "flavour-dash-bin"
    _link_dir(directory, targets)
    return directory


def _wrapper(workdir: Path, flavour: str, shell: str, path_dir: Path | None) -> Path:
    sftp = next((p for p in _SFTP_SERVERS if os.access(p, os.X_OK)), _SFTP_SERVERS[0])
    path_line = f"PATH={path_dir}\nexport PATH\n" if path_dir is not None else ""
    script = workdir / f"flavour-{flavour}"
    # Written in POSIX sh; it runs under /bin/sh, which may be BusyBox itself.
    script.write_text(
        "#!/bin/sh\n"
        f"# {flavour} flavour of the remote-mcp test sshd (remote_mcp.testing.flavours).\n"
        'case "${SSH_ORIGINAL_COMMAND-}" in\n'
        f"  internal-sftp) exec {sftp} ;;\n"
        "esac\n"
        f"{path_line}"
        'if [ -z "${SSH_ORIGINAL_COMMAND-}" ]; then\n'
        f"  exec {shell}\n"
        "fi\n"
        f'exec {shell} -c "$SSH_ORIGINAL_COMMAND"\n'
    )
    script.chmod(0o755)
    return script


def prepare_flavour(workdir: Path, flavour: str) -> FlavourSetup:
    """Write the flavour's wrapper (and PATH directory) into ``workdir``."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}: use one of {', '.join(FLAVOURS)}")
    if flavour == "bash":
        return FlavourSetup()
    if flavour == "busybox":
        busybox = _which("busybox")
        wrapper = _wrapper(workdir, flavour, f"{busybox} sh", _busybox_bin(workdir))
        shell = os.path.realpath("/bin/sh")
        over = (shell,) if shell != os.path.realpath(busybox) else ()
        setup = FlavourSetup(f"ForceCommand {wrapper}", over)
    elif flavour == "dash":
        wrapper = _wrapper(workdir, flavour, _which("dash"), _dash_bin(workdir))
        setup = FlavourSetup(f"ForceCommand {wrapper}")
    else:
        wrapper = _wrapper(workdir, flavour, _which(flavour), None)
        setup = FlavourSetup(f"ForceCommand {wrapper}")
    return setup
