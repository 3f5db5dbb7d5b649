"""The report's fleet section (``invoke bench --fleet``, issue 15) and its
lines of the targets table, every figure computed from fleet.json."""

from __future__ import annotations

from typing import Any

from .bench_report_words import conditions_line, pick, verdict_word

Line = tuple[str, str, str, str]  # target, condition, measured, verdict

FLEET_RTTS = 2  # issue 15: one call on 100 hosts after connect, in round trips
FLEET_CONNECT = 2  # issue 15: connecting 100 hosts, against one host's connect


def fleet_section(fleet: dict[str, Any], lang: str) -> str:
    meta, rows = fleet["meta"], fleet["rows"]
    rtt, one = meta["rtt_ms"], meta["one_connect_ms"]
    lines = [
        pick(
            lang,
            f"## Fleet: one call on many hosts, RTT {rtt:g} ms",
            f"## 机群：一次调用作用于多台主机，RTT {rtt:g} ms",
        ),
        "",
        conditions_line(lang, fleet["conditions"]),
        pick(
            lang,
            f"Each host is its own SSH connection through its own proxy adding {rtt / 2:g} ms "
            f"each way, to one of {meta.get('sshds', '-')} throwaway sshds on 127.0.0.1; the "
            "proxies run in a child process, so RSS and threads are the client's alone. "
            f"Connect: every host at once, against the best of {meta['repeat']} single-host "
            f"connects ({one:.0f} ms). Calls: median of {meta['repeat']} after a warm-up call, "
            "through the group dispatch as the server runs it. The last column is the load "
            "when the row was done: the remote logins and commands share the client's CPUs.",
            f"每台主机都有自己的 SSH 连接，经过各自的代理（每个方向增加 {rtt / 2:g} ms），连到 "
            f"127.0.0.1 上 {meta.get('sshds', '-')} 个临时 sshd 之一；代理运行在子进程中，因此 "
            f"RSS 和线程数只属于客户端。连接：所有主机同时连接，与 {meta['repeat']} 次单主机连接"
            f"中最好的一次（{one:.0f} ms）相比。调用：预热调用之后 {meta['repeat']} 次的中位数，"
            "走服务器所用的组分发路径。最后一列是该行完成时的负载：远端的登录和命令与客户端"
            "共用同样的 CPU。",
        ),
        "",
        pick(
            lang,
            "| hosts | connect ms (x one host) | Bash hostname ms (RTT) | client CPU ms in it "
            "| Grep ms (RTT) | local RSS MB | threads | load |",
            "| 主机数 | 连接 ms（单主机的倍数） | Bash hostname ms（RTT） | 其中客户端 CPU ms "
            "| Grep ms（RTT） | 本地 RSS MB | 线程数 | 负载 |",
        ),
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        down = (
            pick(lang, f" ({r['failed']} failed)", f"（{r['failed']} 台失败）")
            if r["failed"]
            else ""
        )
        lines.append(
            f"| {r['hosts']}{down} | {r['connect_ms']:.0f} ({r['connect_ms'] / one:.1f}x) "
            f"| {r['bash_ms']:.0f} ({r['bash_ms'] / rtt:.1f}) | {r['bash_cpu_ms']:.0f} "
            f"| {r['grep_ms']:.0f} ({r['grep_ms'] / rtt:.1f}) | {r['rss_mb']:.0f} "
            f"| {r['threads']} | {r['load']:.1f} |"
        )
    lines += [
        "",
        pick(lang, "![Fleet wall times](benchmark-fleet.png)", "![机群耗时](benchmark-fleet.png)"),
    ]
    if rows:
        top = rows[-1]
        failed = sum(r["failed"] for r in rows)
        lines += [
            "",
            pick(
                lang,
                f"At {top['hosts']} hosts the client spent "
                f"{top['bash_cpu_ms'] / top['hosts']:.1f} ms "
                f"of CPU per host in a Bash call ({top['bash_cpu_ms']:.0f} ms in all), held "
                f"{top['rss_mb']:.0f} MB and ran {top['threads']} threads. "
                + (
                    f"{failed} host answers failed over the run."
                    if failed
                    else "Every host answered at every size."
                ),
                f"{top['hosts']} 台主机时，客户端在一次 Bash 调用中每台主机花 "
                f"{top['bash_cpu_ms'] / top['hosts']:.1f} ms CPU"
                f"（共 {top['bash_cpu_ms']:.0f} ms），"
                f"占用 {top['rss_mb']:.0f} MB，运行 {top['threads']} 个线程。"
                + (
                    f"整个运行中有 {failed} 个主机回答失败。"
                    if failed
                    else "每种规模下每台主机都有回答。"
                ),
            ),
        ]
    return "\n".join(lines) + "\n"


def fleet_targets(fleet: dict[str, Any] | None, lang: str) -> list[Line]:
    t_call = {
        tool: pick(
            lang,
            f"fleet: {tool} after connect ≤ {FLEET_RTTS} RTT at 100 hosts",
            f"机群：100 台主机时连接后的 {tool} ≤ {FLEET_RTTS} RTT",
        )
        for tool in ("Bash", "Grep")
    }
    t_connect = pick(
        lang,
        f"fleet: connecting 100 hosts ≤ {FLEET_CONNECT} x one host",
        f"机群：连接 100 台主机 ≤ 单主机的 {FLEET_CONNECT} 倍",
    )
    if not fleet or not fleet["rows"]:
        return [(t, "-", "-", verdict_word(lang, None)) for t in (*t_call.values(), t_connect)]
    meta, top = fleet["meta"], fleet["rows"][-1]
    judged = top["hosts"] >= 100  # the targets are for 100 hosts: a smaller run only informs
    rtt, one = meta["rtt_ms"], meta["one_connect_ms"]
    where = pick(
        lang,
        f"{top['hosts']} hosts, RTT {rtt:g} ms, load {top['load']:.1f}",
        f"{top['hosts']} 台主机，RTT {rtt:g} ms，负载 {top['load']:.1f}",
    )
    cpu = top["bash_cpu_ms"]
    why = pick(
        lang,
        f"client CPU {cpu:.0f} ms in the call ({cpu / top['hosts']:.1f} ms per host)",
        f"客户端 CPU 在该调用中 {cpu:.0f} ms（每台主机 {cpu / top['hosts']:.1f} ms）",
    )
    load_why = pick(
        lang,
        f"load {top['load']:.1f} on {meta.get('cpus', '-')} CPUs",
        f"负载 {top['load']:.1f}，{meta.get('cpus', '-')} 个 CPU",
    )
    out: list[Line] = []
    for tool, key in (("Bash", "bash_ms"), ("Grep", "grep_ms")):
        ms = top[key]
        out.append(
            (
                t_call[tool],
                where,
                f"{ms:.0f} ms = {ms / rtt:.1f} RTT",
                verdict_word(
                    lang,
                    ms <= FLEET_RTTS * rtt if judged else None,
                    why if tool == "Bash" else load_why,
                ),
            )
        )
    ratio = top["connect_ms"] / one
    out.append(
        (
            t_connect,
            where,
            f"{top['connect_ms']:.0f} ms = {ratio:.1f} x {one:.0f} ms",
            verdict_word(lang, ratio <= FLEET_CONNECT if judged else None, load_why),
        )
    )
    return out
