"""A foreground Bash command survives a dropped link (issue 12, part 3).

The command runs detached from the SSH channel with its output in a run
directory on the remote; a LinkProxy cuts the TCP connection mid-command and
the same call re-attaches: every byte exactly once, the exit status, the
state it left, and a [WARNING] that says what survived.
"""

from __future__ import annotations

import secrets
import shlex
import threading
import time

from remote_mcp.server import RemoteServer
from tests.test_faults import call, proxied_host, proxy  # noqa: F401 - proxy is a fixture

TICKS = "for i in $(seq {n}); do echo tick-{tag}-$i; sleep 0.2; done"


def unique(tag: str) -> str:
    """A tag no other run's output holds: the waits below grep every job
    directory, and a killed run (or another session) may have left some."""
    return f"{tag}{secrets.token_hex(3)}"


def wait_for_output(remote, needle: str, deadline_s: float = 30.0) -> None:
    """Wait on the remote (one SSH exec, polling there, not via the product)
    until a run's output file holds the line ``needle``."""
    script = (
        'cd "$HOME/.cache/remote-mcp/jobs" || exit 1; i=0; '
        f"until cat ./*/output 2>/dev/null | grep -qx -- {shlex.quote(needle)}; do "
        f'i=$((i + 1)); [ "$i" -lt {int(deadline_s * 20)} ] || exit 1; sleep 0.05; done'
    )
    rc, _, err = remote.run(script, timeout=deadline_s + 30)
    assert rc == 0, f"{needle!r} never appeared in a run's output on the remote: {err!r}"


def in_thread(server: RemoteServer, tool: str, args: dict) -> tuple[threading.Thread, list]:
    answer: list = []
    thread = threading.Thread(target=lambda: answer.append(call(server, tool, args)), daemon=True)
    thread.start()
    return thread, answer


def live(remote, marker: str) -> list[str]:
    out = remote.sh("ps -A -o stat= -o args=")
    return [
        line
        for line in out.splitlines()
        if marker in line and "ps -A" not in line and line.split()[0][0] not in "ZX"
    ]


def test_a_cut_mid_command_loses_no_output_and_repeats_none(sshd, proxy, remote) -> None:  # noqa: F811
    server = RemoteServer(proxied_host(sshd, proxy))
    tag = unique("a")
    try:
        assert call(server, "Bash", {"command": "echo warm"}) == (False, "warm")
        thread, answer = in_thread(server, "Bash", {"command": TICKS.format(n=20, tag=tag)})
        wait_for_output(remote, f"tick-{tag}-5")
        proxy.cut()
        thread.join(60)
        assert answer, "the Bash call never answered"
        is_error, text = answer[0]
        assert not is_error, text  # exit status 0
        warning, _, output = text.partition("\n\n")
        assert warning.startswith("[WARNING] SSH connection to test was lost"), text
        assert (
            f"The Bash command `for i in $(seq 20); do echo tick-{tag}-$i; sleep 0.2; done` kept "
            "running on the remote; its output continues below." in warning
        )
        assert output.splitlines() == [f"tick-{tag}-{i}" for i in range(1, 21)]
        assert server.session.reconnects == 1
        # The run directory is gone once the result is collected.
        assert remote.run(f'grep -l tick-{tag}- "$HOME"/.cache/remote-mcp/jobs/*/output')[1] == b""
    finally:
        server.close()


def test_state_set_by_a_command_that_ran_across_a_cut_persists(
    sshd,
    proxy,  # noqa: F811
    remote,
    remote_dir,
) -> None:
    server = RemoteServer(proxied_host(sshd, proxy))
    target = f"{remote_dir}/after the cut"
    remote.sh(f"mkdir -p {shlex.quote(target)}")
    tag = unique("b")
    command = f"cd {shlex.quote(target)} && export SURVIVOR=kept && " + TICKS.format(n=8, tag=tag)
    try:
        thread, answer = in_thread(server, "Bash", {"command": command})
        wait_for_output(remote, f"tick-{tag}-3")
        proxy.cut()
        thread.join(60)
        assert answer and not answer[0][0], answer
        assert answer[0][1].endswith(f"tick-{tag}-8")
        assert call(server, "Bash", {"command": 'pwd; echo "$SURVIVOR"'}) == (
            False,
            f"{target}\nkept",
        )
    finally:
        server.close()


def test_a_command_that_outlives_its_timeout_across_a_cut_is_handed_to_bash_output(
    sshd,
    proxy,  # noqa: F811
    remote,
) -> None:
    server = RemoteServer(proxied_host(sshd, proxy))
    tag = unique("c")
    command = TICKS.format(n=60, tag=tag)
    try:
        assert call(server, "Bash", {"command": "echo warm"}) == (False, "warm")
        thread, answer = in_thread(server, "Bash", {"command": command, "timeout": 2000})
        wait_for_output(remote, f"tick-{tag}-2")
        proxy.refuse()
        proxy.cut()
        thread.join(60)
        assert answer and answer[0][0], answer  # no link: an error that says what runs on
        assert "keeps running on the remote" in answer[0][1]
        assert "re-attach" in answer[0][1]
        wait_for_output(remote, f"tick-{tag}-15")  # well past its 2 s timeout
        proxy.refuse(False)
        is_error, text = call(server, "Bash", {"command": command, "timeout": 2000})
        assert not is_error, text
        assert "kept running on the remote" in text
        assert "It continues in the background with ID: bash_" in text
        job_id = text.rsplit("ID: ", 1)[1].split(".", 1)[0]
        seen = [line for line in text.splitlines() if line.startswith(f"tick-{tag}-")]
        assert seen[0] == f"tick-{tag}-1"
        is_error, rest = call(server, "BashOutput", {"bash_id": job_id, "block": True})
        assert not is_error, rest
        seen += [line for line in rest.splitlines() if line.startswith(f"tick-{tag}-")]
        assert seen == [f"tick-{tag}-{i}" for i in range(1, 61)]
        assert "<status>completed</status>" in rest
    finally:
        server.close()


def test_a_timeout_after_a_reattach_still_kills_the_whole_command(
    sshd,
    proxy,  # noqa: F811
    remote,
) -> None:
    server = RemoteServer(proxied_host(sshd, proxy))
    marker = "sleep 41.7"
    started = f"started-{unique('d')}"
    try:
        assert call(server, "Bash", {"command": "echo warm"}) == (False, "warm")
        thread, answer = in_thread(
            server, "Bash", {"command": f"echo {started}; {marker}; echo never", "timeout": 15000}
        )
        wait_for_output(remote, started)
        proxy.cut()
        thread.join(60)
        assert answer and answer[0][0], answer
        text = answer[0][1]
        assert server.session.reconnects == 1  # it was re-attached to, then timed out
        assert "Command timed out after 15s" in text
        assert started in text and "never" not in text
        end = time.monotonic() + 15
        while live(remote, marker) and time.monotonic() < end:
            time.sleep(0.1)
        assert live(remote, marker) == []
    finally:
        server.close()
