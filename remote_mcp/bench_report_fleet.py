"""The report's fleet section (``invoke bench --fleet``, issue 15) and its
lines of the targets table, every figure computed from fleet.json."""

from __future__ import annotations

from typing import Any

from .bench_report_words import conditions_line, num, pick, verdict_word

Line = tuple[str, str, str, str]  # target, condition, measured, verdict

FLEET_RTTS = 2  # issue 15: one call on 100 hosts after connect, in round trips
FLEET_CONNECT = 2  # issue 15: connecting 100 hosts, against one host's connect


def fleet_section(fleet: dict[str, Any], lang: str) -> str:
    meta, rows = fleet["meta"], fleet["rows"]
    rtt, one = meta["rtt_ms"], meta["one_connect_ms"]
    cpus = meta.get("cpus") or 1
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
            f"Each host is its own SSH connection through a proxy adding {rtt / 2:g} ms "
            f"each way, to one of {meta.get('sshds', '-')} throwaway sshds on 127.0.0.1; the "
            "proxies run in a child process"
            + (" on one thread" if meta.get("proxy") == "delay" else "")
            + ", so RSS and threads are the client's alone. "
            f"Connect: every host at once, against the best of {meta['repeat']} single-host "
            f"connects ({one:.0f} ms). Calls: median of {meta['repeat']} after a warm-up call, "
            "through the group dispatch as the server runs it. The floor is `hostname` on "
            "every host's already-open plain channel, written and read by one thread: what "
            "this machine gives with no client work at all. The last column is the load "
            "when the row was done: the remote logins and commands share the client's CPUs.",
            f"每台主机都有自己的 SSH 连接，经过代理（每个方向增加 {rtt / 2:g} ms），连到 "
            f"127.0.0.1 上 {meta.get('sshds', '-')} 个临时 sshd 之一；代理运行在子进程中"
            + ("的一个线程上" if meta.get("proxy") == "delay" else "")
            + "，因此 "
            f"RSS 和线程数只属于客户端。连接：所有主机同时连接，与 {meta['repeat']} 次单主机连接"
            f"中最好的一次（{one:.0f} ms）相比。调用：预热调用之后 {meta['repeat']} 次的中位数，"
            "走服务器所用的组分发路径。下限是在每台主机已打开的普通通道上运行 `hostname`，"
            "由一个线程写入和读取：即这台机器在客户端不做任何工作时能给出的时间。"
            "最后一列是该行完成时的负载：远端的登录和命令与客户端共用同样的 CPU。",
        ),
        "",
        pick(
            lang,
            "| hosts | connect ms (x one host) | Bash hostname ms (RTT) | Grep ms (RTT) "
            "| floor ms (RTT) | local RSS MB | threads | load |",
            "| 主机数 | 连接 ms（单主机的倍数） | Bash hostname ms（RTT） | Grep ms（RTT） "
            "| 下限 ms（RTT） | 本地 RSS MB | 线程数 | 负载 |",
        ),
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        down = (
            pick(lang, f" ({r['failed']} failed)", f"（{r['failed']} 台失败）")
            if r["failed"]
            else ""
        )
        floor = r.get("floor_ms") or None
        lines.append(
            f"| {r['hosts']}{down} | {r['connect_ms']:.0f} ({r['connect_ms'] / one:.1f}x) "
            f"| {r['bash_ms']:.0f} ({r['bash_ms'] / rtt:.1f}) "
            f"| {r['grep_ms']:.0f} ({r['grep_ms'] / rtt:.1f}) "
            f"| {num(floor)} ({num(floor / rtt if floor else None, 1)}) "
            f"| {r['rss_mb']:.0f} | {r['threads']} | {r['load']:.1f} |"
        )
    rounds = _rounds_line(rows, lang)
    if rounds:
        lines += ["", rounds]
    if any(r.get("machine_cpu_ms") for r in rows):
        lines += ["", *_cpu_table(rows, cpus, lang)]
    lines += [
        "",
        pick(lang, "![Fleet wall times](benchmark-fleet.png)", "![机群耗时](benchmark-fleet.png)"),
    ]
    if rows:
        lines += ["", _summary(rows, lang)]
        top = rows[-1]
        connect = _connect_line(top, cpus, lang)
        if connect:
            lines += ["", connect]
        cause = bash_cause(top, rtt, cpus, lang)
        if cause:
            lines += ["", cause]
    return "\n".join(lines) + "\n"


def _rounds_line(rows: list[dict[str, Any]], lang: str) -> str:
    """How far the rounds of each size spread (bench_fleet.run)."""
    spread = [r for r in rows if len(r.get("bash_rounds") or []) > 1]
    if not spread:
        return ""

    def span(values: list[float]) -> str:
        return f"{min(values):.0f}–{max(values):.0f}"

    n = len(spread[-1]["bash_rounds"])
    en = "; ".join(
        f"{r['hosts']} host{'s' if r['hosts'] > 1 else ''}: Bash {span(r['bash_rounds'])} ms, "
        f"Grep {span(r['grep_rounds'])} ms"
        for r in spread
    )
    zh = "；".join(
        f"{r['hosts']} 台：Bash {span(r['bash_rounds'])} ms，Grep {span(r['grep_rounds'])} ms"
        for r in spread
    )
    return pick(
        lang,
        f"Every size was measured in {n} rounds, interleaved (all sizes, then all again), "
        "because this machine's pace drifts from one minute to the next; each row is the "
        f"round with the median Bash time, and the rounds ranged: {en}.",
        f"每个规模测了 {n} 轮，交错进行（所有规模测完一遍再测下一遍），因为这台机器的速度"
        f"每分钟都在漂移；每一行取 Bash 耗时居中的那一轮，各轮的范围是：{zh}。",
    )


def _busy(cpu_ms: float, wall_ms: float, cpus: int) -> float:
    return cpu_ms / (wall_ms * cpus) if wall_ms > 0 else 0.0


def _cpu_table(rows: list[dict[str, Any]], cpus: int, lang: str) -> list[str]:
    lines = [
        pick(
            lang,
            f"CPU time in one Bash call, ms (all hosts share the {cpus} cores):",
            f"一次 Bash 调用中的 CPU 时间，ms（所有主机共用这 {cpus} 个核）：",
        ),
        "",
        pick(
            lang,
            "| hosts | client (per host) | proxies | remote hosts (per host) "
            "| whole machine (busy share of the cores) |",
            "| 主机数 | 客户端（每台） | 代理 | 远端主机（每台） | 整机（核的繁忙比例） |",
        ),
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        n = r["hosts"]
        busy = _busy(r["machine_cpu_ms"], r["bash_ms"], cpus)
        lines.append(
            f"| {n} | {r['bash_cpu_ms']:.0f} ({r['bash_cpu_ms'] / n:.1f}) "
            f"| {r['proxy_cpu_ms']:.0f} | {r['remote_cpu_ms']:.0f} ({r['remote_cpu_ms'] / n:.1f}) "
            f"| {r['machine_cpu_ms']:.0f} ({busy:.0%}) |"
        )
    return lines


def _summary(rows: list[dict[str, Any]], lang: str) -> str:
    top = rows[-1]
    failed = sum(r["failed"] for r in rows)
    return pick(
        lang,
        f"At {top['hosts']} hosts the client spent {top['bash_cpu_ms'] / top['hosts']:.1f} ms "
        f"of CPU per host in a Bash call ({top['bash_cpu_ms']:.0f} ms in all), held "
        f"{top['rss_mb']:.0f} MB and ran {top['threads']} threads. "
        + (
            f"{failed} host answers failed over the run."
            if failed
            else "Every host answered at every size."
        ),
        f"{top['hosts']} 台主机时，客户端在一次 Bash 调用中每台主机花 "
        f"{top['bash_cpu_ms'] / top['hosts']:.1f} ms CPU（共 {top['bash_cpu_ms']:.0f} ms），"
        f"占用 {top['rss_mb']:.0f} MB，运行 {top['threads']} 个线程。"
        + (f"整个运行中有 {failed} 个主机回答失败。" if failed else "每种规模下每台主机都有回答。"),
    )


def _connect_line(row: dict[str, Any], cpus: int, lang: str) -> str:
    if not row.get("handshake_ms"):
        return ""
    n, hs, sh = row["hosts"], row["handshake_ms"], row["shells_ms"]
    line = pick(
        lang,
        f"Connect of {n} hosts, per host (median): SSH handshake (TCP, key exchange, auth) "
        f"{hs:.0f} ms, then probe and worker shells {sh:.0f} ms.",
        f"连接 {n} 台主机，每台（中位数）：SSH 握手（TCP、密钥交换、认证）{hs:.0f} ms，"
        f"然后探测和工作 shell {sh:.0f} ms。",
    )
    spent = row.get("connect_cpu")
    if spent:
        busy = _busy(spent["machine"], spent["wall"], cpus)
        line += pick(
            lang,
            f" CPU in it, ms: client {spent['client']:.0f}, proxies {spent['proxy']:.0f}, "
            f"remote hosts {spent['remote']:.0f} ({spent['remote'] / n:.1f} per host), whole "
            f"machine {spent['machine']:.0f} ({busy:.0%} of the cores busy).",
            f"其中的 CPU，ms：客户端 {spent['client']:.0f}，代理 {spent['proxy']:.0f}，"
            f"远端主机 {spent['remote']:.0f}（每台 {spent['remote'] / n:.1f}），整机 "
            f"{spent['machine']:.0f}（核的繁忙比例 {busy:.0%}）。",
        )
    return line


CPU_BOUND = 0.8  # busy share of all cores above which a span is CPU-bound


def bash_cause(row: dict[str, Any], rtt: float, cpus: int, lang: str) -> str:
    """Why a Bash call over the fleet missed 2 RTT, from the row's own figures."""
    if row["bash_ms"] <= FLEET_RTTS * rtt or not row.get("machine_cpu_ms"):
        return ""
    busy = _busy(row["machine_cpu_ms"], row["bash_ms"], cpus)
    n, floor = row["hosts"], row["floor_ms"]
    remote, client, proxy = row["remote_cpu_ms"], row["bash_cpu_ms"], row["proxy_cpu_ms"]
    if busy < CPU_BOUND:
        return pick(
            lang,
            f"Cause: the cores were {busy:.0%} busy, so the call waits rather than computes: "
            f"remote hosts {remote:.0f} ms, client {client:.0f} ms ({client / n:.1f} per host), "
            f"proxies {proxy:.0f} ms; the floor takes {floor:.0f} ms ({floor / rtt:.1f} RTT).",
            f"原因：核只有 {busy:.0%} 繁忙，调用在等待而不是在计算：远端主机 {remote:.0f} ms，"
            f"客户端 {client:.0f} ms（每台 {client / n:.1f}），代理 {proxy:.0f} ms；"
            f"下限 {floor:.0f} ms（{floor / rtt:.1f} RTT）。",
        )
    beyond = floor > FLEET_RTTS * rtt
    return pick(
        lang,
        f"Cause: the call is CPU-bound, {busy:.0%} of the {cpus} cores busy for its whole wall "
        f"time: remote hosts {remote:.0f} ms ({remote / n:.1f} per host), client {client:.0f} ms "
        f"({client / n:.1f} per host), proxies {proxy:.0f} ms. Even with no client work the "
        f"floor takes {floor:.0f} ms ({floor / rtt:.1f} RTT), "
        + (
            f"so no client can meet {FLEET_RTTS} RTT on this machine"
            if beyond
            else "so a leaner remote command could come closer"
        )
        + "; on real hosts each host's share runs on its own CPUs.",
        f"原因：该调用受 CPU 限制，整个耗时内 {cpus} 个核 {busy:.0%} 繁忙：远端主机 {remote:.0f} ms"
        f"（每台 {remote / n:.1f}），客户端 {client:.0f} ms（每台 {client / n:.1f}），代理 "
        f"{proxy:.0f} ms。即使客户端不做任何工作，下限也要 {floor:.0f} ms"
        f"（{floor / rtt:.1f} RTT），"
        + (
            f"因此在这台机器上任何客户端都达不到 {FLEET_RTTS} RTT"
            if beyond
            else "因此更精简的远端命令可以更接近目标"
        )
        + "；在真实主机上，每台主机的那一份运行在它自己的 CPU 上。",
    )


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
    cpu, n = top["bash_cpu_ms"], top["hosts"]
    why = pick(
        lang,
        f"client CPU {cpu:.0f} ms ({cpu / n:.1f} ms per host)",
        f"客户端 CPU {cpu:.0f} ms（每台主机 {cpu / n:.1f} ms）",
    )
    if top.get("remote_cpu_ms"):
        remote = top["remote_cpu_ms"]
        why = (
            pick(
                lang,
                f"in a Bash call the remote hosts' CPU {remote:.0f} ms ({remote / n:.1f} ms per "
                "host), ",
                f"一次 Bash 调用中远端主机 CPU {remote:.0f} ms（每台主机 {remote / n:.1f} ms），",
            )
            + why
        )
    else:
        why = pick(lang, "in a Bash call ", "一次 Bash 调用中") + why
    if top.get("floor_ms"):
        floor = top["floor_ms"]
        why += pick(
            lang,
            f"; this machine's floor with no client work is {floor:.0f} ms = "
            f"{floor / rtt:.1f} RTT (the hosts share its {meta.get('cpus', '-')} CPUs)",
            f"；这台机器在客户端不做任何工作时的下限是 {floor:.0f} ms = {floor / rtt:.1f} RTT"
            f"（各主机共用它的 {meta.get('cpus', '-')} 个 CPU）",
        )
    connect_why = pick(
        lang,
        f"load {top['load']:.1f} on {meta.get('cpus', '-')} CPUs",
        f"负载 {top['load']:.1f}，{meta.get('cpus', '-')} 个 CPU",
    )
    spent = top.get("connect_cpu")
    if spent and top.get("handshake_ms"):
        busy = _busy(spent["machine"], spent["wall"], meta.get("cpus") or 1)
        connect_why = pick(
            lang,
            f"per host, handshake {top['handshake_ms']:.0f} ms and probe + shells "
            f"{top['shells_ms']:.0f} ms with {busy:.0%} of the cores busy (key exchanges "
            f"on both ends: remote {spent['remote']:.0f} ms, client {spent['client']:.0f} ms "
            "of CPU)",
            f"每台主机握手 {top['handshake_ms']:.0f} ms、探测和 shell {top['shells_ms']:.0f} ms，"
            f"核的繁忙比例 {busy:.0%}（两端的密钥交换：远端 {spent['remote']:.0f} ms、"
            f"客户端 {spent['client']:.0f} ms CPU）",
        )
    out: list[Line] = []
    for tool, key in (("Bash", "bash_ms"), ("Grep", "grep_ms")):
        ms = top[key]
        out.append(
            (
                t_call[tool],
                where,
                f"{ms:.0f} ms = {ms / rtt:.1f} RTT",
                verdict_word(lang, ms <= FLEET_RTTS * rtt if judged else None, why),
            )
        )
    ratio = top["connect_ms"] / one
    out.append(
        (
            t_connect,
            where,
            f"{top['connect_ms']:.0f} ms = {ratio:.1f} x {one:.0f} ms",
            verdict_word(lang, ratio <= FLEET_CONNECT if judged else None, connect_why),
        )
    )
    return out
