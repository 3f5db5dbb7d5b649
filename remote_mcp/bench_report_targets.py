"""The report's first table: every target of issue 13 (per call, the 10 MB
Edit, set-up, first result, cold start, tools/list, scaling, memory) and of
issue 15 (fleets), each met or missed with the measured cause, or ``not
measured`` when its bench's data is missing."""

from __future__ import annotations

from typing import Any

from .bench_report_curves import scaling_targets
from .bench_report_fleet import fleet_targets
from .bench_report_sections import (
    big_edit_cause,
    big_edit_met,
    big_edits,
    busy_remote,
    first_result_met,
    rows_of,
)
from .bench_report_words import call_name, num, pick, verdict_word
from .bench_verdicts import PER_CALL, cause, is_met, link_rtt, target_for

TOOLS_LIST_BUDGET = 11_000  # bytes; tests/test_protocol.py pins the same budget


def targets_section(data: dict[str, Any], lang: str) -> str:
    lines = [
        pick(lang, "## Targets (issues 13 and 15)", "## 目标（issue 13 和 15）"),
        "",
        pick(
            lang,
            "| target | condition | measured | verdict |",
            "| 目标 | 条件 | 测量值 | 结论 |",
        ),
        "|---|---|---|---|",
    ]
    rows = _calls(data.get("calls"), lang) + _startup(data.get("startup"), lang)
    rows += scaling_targets(data.get("scaling"), data.get("memory"), lang)
    rows += fleet_targets(data.get("fleet"), lang)
    lines += [f"| {t} | {c} | {m} | {v} |" for t, c, m, v in rows]
    return "\n".join(lines) + "\n"


Line = tuple[str, str, str, str]  # target, condition, measured, verdict


def _unmeasured(lang: str, *targets: str) -> list[Line]:
    return [(t, "-", "-", verdict_word(lang, None)) for t in targets]


def _calls(calls: dict[str, Any] | None, lang: str) -> list[Line]:
    per_call = [
        pick(
            lang, f"every single call ≤ {PER_CALL.rtts:g} RTT", f"每次调用 ≤ {PER_CALL.rtts:g} RTT"
        ),
        pick(
            lang,
            f"every single call ≤ {PER_CALL.ms_at_zero:g} ms",
            f"每次调用 ≤ {PER_CALL.ms_at_zero:g} ms",
        ),
    ]
    edit = pick(
        lang,
        "one-line Edit of a 10 MB file ≤ 2.2 RTT, 1 command, < 64 KB",
        "10 MB 文件的单行 Edit ≤ 2.2 RTT、1 条命令、< 64 KB",
    )
    multi = pick(
        lang,
        "MultiEdit of 5 edits of a 10 MB file: the same",
        "10 MB 文件上 5 处编辑的 MultiEdit：同上",
    )
    setup = pick(lang, "connection set-up ≤ handshake + 2 RTT", "建立连接 ≤ 握手 + 2 RTT")
    if not calls:
        return _unmeasured(lang, *per_call, edit, multi, setup)
    out: list[Line] = []
    busy = busy_remote(calls)
    for run in calls["runs"]:
        nominal, rtt = run["rtt_ms"], link_rtt(run)
        rows = rows_of(run)
        where = (
            f"RTT {nominal:.0f} ms"
            + (
                pick(lang, f" ({rtt:.1f} measured)", f"（实测 {rtt:.1f}）")
                if rtt != nominal
                else ""
            )
            + pick(lang, ", ", "，")
            + pick(lang, "load ", "负载 ")
            + num(run["conditions"].get("load_before"), 2)
        )
        held = [r for r in rows if target_for(r.name, r.what) is PER_CALL]
        missed = [r for r in held if not is_met(r, rtt)]
        worst = max(held, key=lambda r: r.median_ms, default=None)
        if worst is None:
            out.append((per_call[0 if rtt else 1], where, "-", verdict_word(lang, None)))
        else:
            measured = pick(
                lang,
                f"{len(held) - len(missed)} of {len(held)} calls met; worst {worst.name} "
                f"({call_name(lang, worst.what)}) {worst.median_ms:.0f} ms",
                f"{len(held)} 次调用中 {len(held) - len(missed)} 次达标；最慢的是 {worst.name}"
                f"（{call_name(lang, worst.what)}）{worst.median_ms:.0f} ms",
            ) + (f" = {worst.rtts:.2f} RTT" if rtt else "")
            why = cause(worst, rtt, lang, busy.get((worst.name, worst.what))) if missed else ""
            out.append(
                (per_call[0 if rtt else 1], where, measured, verdict_word(lang, not missed, why))
            )
        for edit_rtt, r in big_edits({"runs": [run]}):
            met = big_edit_met(r, edit_rtt)
            if met is None:
                continue
            out.append(
                (
                    f"{r.name} {call_name(lang, r.what)} {target_for(r.name, r.what).text(rtt)}",  # type: ignore[union-attr]
                    f"RTT {nominal:.0f} ms",
                    pick(
                        lang,
                        f"{r.median_ms:.0f} ms, {r.sent + r.received:.0f} bytes, "
                        f"remote commands: {r.commands:.0f}",
                        f"{r.median_ms:.0f} ms，{r.sent + r.received:.0f} 字节，"
                        f"远端命令 {r.commands:.0f} 条",
                    ),
                    verdict_word(lang, met, big_edit_cause(r, edit_rtt, lang)),
                )
            )
        if rtt:
            s = run["setup_ms"]
            out.append(
                (
                    setup,
                    f"RTT {nominal:.0f} ms",
                    pick(
                        lang,
                        f"handshake {run['handshake_ms']:.0f} ms, then {s:.0f} ms "
                        f"= {s / rtt:.2f} RTT",
                        f"握手 {run['handshake_ms']:.0f} ms，之后 {s:.0f} ms = {s / rtt:.2f} RTT",
                    ),
                    verdict_word(
                        lang,
                        s <= 2 * rtt,
                        pick(
                            lang,
                            f"{s / rtt:.1f} RTT after the handshake",
                            f"握手之后 {s / rtt:.1f} RTT",
                        ),
                    ),
                )
            )
    if not any(r.name == "MultiEdit" for _, r in big_edits(calls)):
        out += _unmeasured(lang, multi)
    return out


def _startup(startup: dict[str, Any] | None, lang: str) -> list[Line]:
    first_t = pick(
        lang,
        "first tool result ≤ handshake + 3 RTT (after `initialize`)",
        "第一个工具结果 ≤ 握手 + 3 RTT（`initialize` 之后）",
    )
    cold_t = pick(
        lang,
        "spawn -> `initialize` ≤ `import mcp` + 80 ms",
        "启动 -> `initialize` ≤ `import mcp` + 80 ms",
    )
    list_t = pick(
        lang, f"tools/list ≤ {TOOLS_LIST_BUDGET} bytes", f"tools/list ≤ {TOOLS_LIST_BUDGET} 字节"
    )
    startup = startup or {}
    out: list[Line] = []
    load = pick(lang, "load ", "负载 ") + num(
        (startup.get("conditions") or {}).get("load_before"), 2
    )
    f = startup.get("first_result")
    if f and f["rtt_ms"]:
        rtt, after = f["rtt_ms"], f["first_result_ms"] - f["initialize_ms"]
        beyond = (after - f["handshake_ms"]) / rtt
        out.append(
            (
                first_t,
                f"RTT {rtt:.0f} ms" + pick(lang, ", ", "，") + load,
                pick(
                    lang,
                    f"{after:.0f} ms (bound: handshake {f['handshake_ms']:.0f} ms + 3 RTT)",
                    f"{after:.0f} ms（上限：握手 {f['handshake_ms']:.0f} ms + 3 RTT）",
                ),
                verdict_word(
                    lang,
                    first_result_met(f),
                    pick(
                        lang, f"{beyond:.1f} RTT after the handshake", f"握手之后 {beyond:.1f} RTT"
                    ),
                ),
            )
        )
    else:
        out += _unmeasured(lang, first_t)
    c = startup.get("cold_start")
    if c:
        extra = c["initialize_ms"] - c["import_mcp_ms"]
        why = ""
        if "importtime_remote_mcp.server_ms" in c and "importtime_mcp_ms" in c:
            why = pick(
                lang,
                "importing `remote_mcp.server` takes "
                f"{c['importtime_remote_mcp.server_ms']:.0f} ms, "
                f"of which `mcp` {c['importtime_mcp_ms']:.0f} ms",
                f"导入 `remote_mcp.server` 需要 {c['importtime_remote_mcp.server_ms']:.0f} ms，"
                f"其中 `mcp` {c['importtime_mcp_ms']:.0f} ms",
            )
        out.append(
            (
                cold_t,
                load,
                pick(
                    lang,
                    f"{c['initialize_ms']:.0f} ms vs {c['import_mcp_ms']:.0f} ms ({extra:+.0f} ms)",
                    f"{c['initialize_ms']:.0f} ms 对 {c['import_mcp_ms']:.0f} ms"
                    f"（{extra:+.0f} ms）",
                ),
                verdict_word(lang, extra <= 80, why),
            )
        )
    else:
        out += _unmeasured(lang, cold_t)
    size = startup.get("tools_list_bytes")
    if size:
        out.append(
            (
                list_t,
                pick(lang, "host named `test`", "主机名 `test`"),
                pick(lang, f"{size} bytes", f"{size} 字节"),
                verdict_word(
                    lang,
                    size <= TOOLS_LIST_BUDGET,
                    pick(
                        lang,
                        f"{size - TOOLS_LIST_BUDGET} bytes over",
                        f"超出 {size - TOOLS_LIST_BUDGET} 字节",
                    ),
                ),
            )
        )
    else:
        out += _unmeasured(lang, list_t)
    return out
