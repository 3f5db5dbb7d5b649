"""The report's scaling and fleet sections (``invoke bench --scaling`` and
``--fleet``), and their lines of the targets table: tables, plot references
and what the curves show, every figure computed from the data."""

from __future__ import annotations

from typing import Any

from .bench_report_words import conditions_line, num, pick, verdict_word
from .bench_scaling import Point
from .bench_scaling_report import BASH, GLOB, GREP, MULTI, READ, SECTIONS, table_rows

Line = tuple[str, str, str, str]  # target, condition, measured, verdict

IDLE_RSS_MB = 80  # issue 13 target 7
GROWTH_BOUND_MB = 32  # "bounded": no big answer grows the local process by more than this
LINK_SHARE = 0.9  # issue 13 target 6: transfers reach 90 % of the link


def _points(scaling: dict[str, Any]) -> list[Point]:
    return [Point(**p) for p in scaling["points"]]


def _series(points: list[Point], name: str) -> list[Point]:
    return sorted((p for p in points if p.series == name), key=lambda p: p.x)


def _titles(meta: dict[str, Any], lang: str) -> list[tuple[str, str, list[str]]]:
    """Each SECTIONS table's title, x unit and column headings, in ``lang``."""
    rate, link_rtt = meta.get("link_rate_mb_s", 8), meta.get("link_rtt_ms", 20)
    rtt = meta.get("parallel_rtt_ms", 50)
    if lang != "zh":
        return [
            (
                f"Upload and Write over a {rate:g} MB/s link (RTT {link_rtt:g} ms): payload MB/s "
                "(share of the link)"
                if i == 5
                else f"N Reads at once, RTT {rtt:g} ms"
                if i == 3
                else title,
                unit,
                [c[2] for c in columns],
            )
            for i, (title, unit, columns) in enumerate(SECTIONS)
        ]
    return [
        ("在 1 GB 文件中越来越深的 offset 处读取 20 行", "offset（行）", ["ms", "接收字节"]),
        (
            "在越来越大的目录树上运行 Grep 和 Glob",
            "文件数",
            ["Grep ms", "Grep 接收字节", "Glob ms", "Glob 接收字节"],
        ),
        ("MultiRead 读取 N 个文件", "文件数", ["ms", "接收字节"]),
        (
            f"同时发起 N 个 Read，RTT {rtt:g} ms",
            "调用数",
            ["池大小 3：ms", "RTT", "池大小 16：ms", "RTT"],
        ),
        ("Bash 输出 N 字节：本地内存峰值", "输出字节", ["ms", "峰值 RSS 增长 MB", "接收字节"]),
        (
            f"在 {rate:g} MB/s 链路（RTT {link_rtt:g} ms）上的 Upload 和 Write："
            "有效载荷 MB/s（占链路带宽的比例）",
            "MB",
            ["Upload 关闭 zlib", "Upload 开启 zlib", "Write 关闭 zlib", "Write 开启 zlib"],
        ),
    ]


def scaling_section(scaling: dict[str, Any], lang: str) -> str:
    meta, points = scaling["meta"], _points(scaling)
    rss = meta.get("idle_rss_mb", {})
    lines = [
        pick(lang, "## Scaling", "## 扩展曲线"),
        "",
        conditions_line(lang, scaling.get("conditions")),
        pick(
            lang,
            f"sshd on 127.0.0.1, plain loopback except where a table names a link (`LinkProxy` "
            f"with a delay, and for transfers its rate limit). Median of {meta.get('repeat', 3)} "
            f"calls on an open session; transfers and Bash once per size. The run took "
            f"{meta['minutes']:.1f} min, of which {meta.get('setup_s', 0):.0f} s created the files "
            f"(one of {meta['lines']} lines, {meta['file_bytes'] / 1e9:.2f} GB, and the trees); it "
            "removes them at the end. The plot (matplotlib, the optional `bench` extra) is "
            "redrawn with the data.",
            f"sshd 运行在 127.0.0.1 上；除非表格写明了链路（带延迟的 `LinkProxy`，传输部分还用了"
            f"它的限速），都是普通回环。在已打开的会话上取 {meta.get('repeat', 3)} 次调用的中位数；"
            f"传输和 Bash 每个大小只测一次。整个运行耗时 {meta['minutes']:.1f} 分钟，其中 "
            f"{meta.get('setup_s', 0):.0f} 秒用于创建文件（一个 {meta['lines']} 行、"
            f"{meta['file_bytes'] / 1e9:.2f} GB 的文件和目录树）；结束时会删除它们。图"
            "（matplotlib，可选的 `bench` 附加依赖）随数据一起重新绘制。",
        ),
        "",
        pick(
            lang, "![Scaling curves](benchmark-scaling.png)", "![扩展曲线](benchmark-scaling.png)"
        ),
    ]
    if rss:
        lines += [
            "",
            pick(
                lang,
                f"Server memory: a real server process (stdio, raw JSON-RPC) holds "
                f"{rss.get('initialize', 0):.0f} MB RSS after `initialize` and "
                f"{rss.get('first_call', 0):.0f} MB idle after its first Read (connected, tools "
                f"loaded), peak {rss.get('peak', 0):.0f} MB.",
                f"服务器内存：一个真实的服务器进程（stdio，原始 JSON-RPC）在 `initialize` 之后 RSS "
                f"为 {rss.get('initialize', 0):.0f} MB，第一次 Read 之后空闲时为 "
                f"{rss.get('first_call', 0):.0f} MB（已连接，工具已加载），峰值 "
                f"{rss.get('peak', 0):.0f} MB。",
            ),
        ]
    for (_, _, columns), (title, unit, headings) in zip(SECTIONS, _titles(meta, lang), strict=True):
        rows = table_rows(points, columns)
        if rows:
            lines += ["", f"### {title}", "", "| " + " | ".join([unit, *headings]) + " |"]
            lines += ["|" + "---:|" * (len(columns) + 1), *rows]
    shown = _what_curves_show(points, lang)
    if shown:
        lines += ["", pick(lang, "### What the curves show", "### 曲线说明"), "", *shown]
    return "\n".join(lines) + "\n"


def _what_curves_show(points: list[Point], lang: str) -> list[str]:
    out = []
    read = _series(points, READ)
    if read:
        got = [p.extra["received"] for p in read]
        out.append(
            pick(
                lang,
                f"- Read: {min(got):.0f}–{max(got):.0f} bytes received for 20 lines at every "
                f"offset; {read[-1].ms:.0f} ms at line {read[-1].x:.0f}, where the remote scans "
                "the lines before it.",
                f"- Read：任何 offset 读 20 行都只接收 {min(got):.0f}–{max(got):.0f} 字节；在第 "
                f"{read[-1].x:.0f} 行需要 {read[-1].ms:.0f} ms，远端要扫描它前面的行。",
            )
        )
    grep, glob = _series(points, GREP), _series(points, GLOB)
    if grep and glob:
        got = [p.extra["received"] for p in grep + glob]
        out.append(
            pick(
                lang,
                f"- Grep and Glob: the answer stays at {min(got):.0f}–{max(got):.0f} bytes; at "
                f"{grep[-1].x:.0f} files Grep takes {grep[-1].ms:.0f} ms and Glob "
                f"{glob[-1].ms:.0f} ms.",
                f"- Grep 和 Glob：回答一直是 {min(got):.0f}–{max(got):.0f} 字节；"
                f"{grep[-1].x:.0f} 个文件时 Grep 用 {grep[-1].ms:.0f} ms，Glob 用 "
                f"{glob[-1].ms:.0f} ms。",
            )
        )
    multi = _series(points, MULTI)
    if len(multi) > 1:
        slope = (multi[-1].ms - multi[0].ms) / (multi[-1].x - multi[0].x)
        out.append(
            pick(
                lang,
                f"- MultiRead: about {slope:.1f} ms more per file ({multi[-1].x:.0f} files: "
                f"{multi[-1].ms:.0f} ms).",
                f"- MultiRead：每多一个文件约多 {slope:.1f} ms（{multi[-1].x:.0f} 个文件："
                f"{multi[-1].ms:.0f} ms）。",
            )
        )
    for p in _parallel_tops(points):
        out.append(
            pick(
                lang,
                f"- {p.x:.0f} Reads at once with {_pool(p, lang)}: {p.extra['rtts']:.1f} RTT.",
                f"- 同时发起 {p.x:.0f} 个 Read，{_pool(p, lang)}：{p.extra['rtts']:.1f} RTT。",
            )
        )
    bash = _series(points, BASH)
    if bash:
        peak = max(p.extra["peak_rss_mb"] for p in bash)
        out.append(
            pick(
                lang,
                f"- Bash: local peak RSS grows by at most {peak:.1f} MB for {bash[0].x:.0f} to "
                f"{bash[-1].x:.0f} bytes of output; {bash[-1].extra['received']:.0f} bytes cross "
                "the link for the largest (the remote keeps the output).",
                f"- Bash：输出从 {bash[0].x:.0f} 到 {bash[-1].x:.0f} 字节，本地 RSS 峰值增长最多 "
                f"{peak:.1f} MB；最大的输出只有 {bash[-1].extra['received']:.0f} 字节经过链路"
                "（输出留在远端）。",
            )
        )
    for tool in ("Upload", "Write"):
        top = _transfer_tops(points, tool)
        if top:
            shares = pick(lang, ", ", "，").join(
                f"{_zlib(p, lang)} {p.extra['of_link']:.0%}" for p in top
            )
            out.append(
                pick(
                    lang,
                    f"- {tool} of {top[0].x:.0f} MB: {shares} of the link.",
                    f"- {tool} {top[0].x:.0f} MB：{shares}（占链路带宽的比例）。",
                )
            )
    return out


def _pool(point: Point, lang: str) -> str:
    """ "pool of 3" from a parallel series' name."""
    size = point.series.split("pool of ")[1].split(",")[0]
    return pick(lang, f"pool of {size}", f"池大小 {size}")


def _zlib(point: Point, lang: str) -> str:
    """ "zlib off" / "zlib on" from a transfer series' name."""
    on = point.series.endswith(" on")
    return pick(lang, f"zlib {'on' if on else 'off'}", "开启 zlib" if on else "关闭 zlib")


def _parallel_tops(points: list[Point]) -> list[Point]:
    """The largest burst of each pool size."""
    found = {p.series for p in points if p.series.startswith("N parallel Reads")}
    names = sorted(found, key=lambda n: int(n.split("pool of ")[1].split(",")[0]))
    return [_series(points, n)[-1] for n in names]


def _transfer_tops(points: list[Point], tool: str) -> list[Point]:
    """``tool``'s points at its largest size, compression off then on."""
    mine = [p for p in points if p.series.startswith(f"{tool}, compression")]
    if not mine:
        return []
    top = max(p.x for p in mine)
    return sorted((p for p in mine if p.x == top), key=lambda p: p.series.endswith("on"))


def scaling_targets(
    scaling: dict[str, Any] | None, memory: dict[str, Any] | None, lang: str
) -> list[Line]:
    t_read = pick(
        lang, "Read at a growing offset: bytes do not grow", "Read 的 offset 增大：字节数不增长"
    )
    t_transfer = {
        tool: pick(lang, f"{tool} ≥ 90 % of the link", f"{tool} ≥ 链路的 90 %")
        for tool in ("Upload", "Write")
    }
    t_parallel = pick(
        lang, "parallel calls: where the worker pool saturates", "并行调用：工作池在哪里饱和"
    )
    t_idle = pick(lang, f"server RSS idle ≤ {IDLE_RSS_MB} MB", f"服务器空闲 RSS ≤ {IDLE_RSS_MB} MB")
    t_bound = pick(
        lang,
        f"local memory bounded under large outputs (growth ≤ {GROWTH_BOUND_MB} MB)",
        f"大输出下本地内存有界（增长 ≤ {GROWTH_BOUND_MB} MB）",
    )
    out: list[Line] = []
    points = _points(scaling) if scaling else []
    meta = scaling["meta"] if scaling else {}
    load = pick(lang, "load ", "负载 ") + num(
        (scaling or {}).get("conditions", {}).get("load_before"), 2
    )
    read = _series(points, READ)
    if read:
        got = [p.extra["received"] for p in read]
        flat = max(got) < 2 * min(got)
        out.append(
            (
                t_read,
                load,
                pick(
                    lang,
                    f"{min(got):.0f}–{max(got):.0f} bytes at offsets "
                    f"{read[0].x:.0f}–{read[-1].x:.0f}",
                    f"offset {read[0].x:.0f}–{read[-1].x:.0f} 处 "
                    f"{min(got):.0f}–{max(got):.0f} 字节",
                ),
                verdict_word(lang, flat, pick(lang, "grows with the offset", "随 offset 增长")),
            )
        )
    else:
        out.append((t_read, "-", "-", verdict_word(lang, None)))
    for tool, target in t_transfer.items():
        sizes = _series(points, f"{tool}, compression off")
        if not sizes:
            out.append((target, "-", "-", verdict_word(lang, None)))
            continue
        shares = pick(lang, ", ", "，").join(
            f"{p.x:.0f} MB {p.extra['of_link']:.0%}" for p in sizes
        )
        worst = min(sizes, key=lambda p: p.extra["of_link"])
        why = pick(
            lang,
            f"{worst.x:.0f} MB: {worst.extra['payload_mb_s']:.2f} MB/s of payload",
            f"{worst.x:.0f} MB：有效载荷 {worst.extra['payload_mb_s']:.2f} MB/s",
        )
        ideal = worst.extra.get("ideal_ms")
        if ideal:
            share = worst.x / meta.get("link_rate_mb_s", 8) * 1000 / ideal
            why += pick(
                lang,
                f"; the link's ideal with one round trip ({ideal:.0f} ms) is {share:.0%} at "
                "that size",
                f"；该大小下链路加一个往返的理想值（{ideal:.0f} ms）为 {share:.0%}",
            )
        out.append(
            (
                target,
                pick(
                    lang,
                    f"1–{sizes[-1].x:.0f} MB, {meta.get('link_rate_mb_s', 8):g} MB/s, zlib off",
                    f"1–{sizes[-1].x:.0f} MB，{meta.get('link_rate_mb_s', 8):g} MB/s，关闭 zlib",
                ),
                shares,
                verdict_word(lang, worst.extra["of_link"] >= LINK_SHARE, why),
            )
        )
    tops = _parallel_tops(points)
    if tops:
        shown = pick(lang, ", ", "，").join(
            f"{_pool(p, lang)}: {p.extra['rtts']:.1f} RTT" for p in tops
        )
        out.append(
            (
                t_parallel,
                f"{tops[0].x:.0f} " + pick(lang, "calls", "个调用"),
                shown,
                pick(lang, "reported", "已报告"),
            )
        )
    else:
        out.append((t_parallel, "-", "-", verdict_word(lang, None)))
    rss = meta.get("idle_rss_mb")
    if rss:
        idle = rss.get("first_call", 0)
        out.append(
            (
                t_idle,
                load,
                pick(
                    lang,
                    f"{idle:.0f} MB idle, peak {rss.get('peak', 0):.0f} MB",
                    f"空闲 {idle:.0f} MB，峰值 {rss.get('peak', 0):.0f} MB",
                ),
                verdict_word(
                    lang,
                    idle <= IDLE_RSS_MB,
                    pick(
                        lang,
                        f"{idle - IDLE_RSS_MB:.0f} MB over",
                        f"超出 {idle - IDLE_RSS_MB:.0f} MB",
                    ),
                ),
            )
        )
    else:
        out.append((t_idle, "-", "-", verdict_word(lang, None)))
    growth = [p.extra["peak_rss_mb"] for p in _series(points, BASH)]
    growth += [r["peak_mb"] for r in (memory or {}).get("rows", [])]
    if growth:
        out.append(
            (
                t_bound,
                pick(
                    lang, "Bash output, 259 MB Read and Grep", "Bash 输出、259 MB 的 Read 和 Grep"
                ),
                pick(lang, f"at most {max(growth):.1f} MB", f"最多 {max(growth):.1f} MB"),
                verdict_word(lang, max(growth) <= GROWTH_BOUND_MB),
            )
        )
    else:
        out.append((t_bound, "-", "-", verdict_word(lang, None)))
    return out
