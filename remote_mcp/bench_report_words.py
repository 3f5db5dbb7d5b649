"""The benchmark report's words in its two languages: the verdicts, the
conditions line, and the Chinese names of the measured calls (the data keeps
the English ones the benches write)."""

from __future__ import annotations

import math
from typing import Any

from .bench_verdicts import VERDICT_WORDS


def pick(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def verdict_word(lang: str, met: bool | None, cause: str = "") -> str:
    """``**met**`` / ``**missed**: cause`` (``not measured`` for None)."""
    words = VERDICT_WORDS[lang]
    if met is None:
        return pick(lang, "not measured", "未测量")
    if met:
        return words["met"]
    return words["missed"] + (words["colon"] + cause if cause else "")


def num(value: Any, digits: int = 0) -> str:
    """A figure for a table; ``-`` when it was not measured."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def conditions_line(lang: str, c: dict[str, Any] | None) -> str:
    """Date, machine, Python and load of one run (from its ``conditions``)."""
    if not c:  # data saved before the benches recorded their conditions
        return ""
    line = pick(
        lang,
        f"Measured {c['date']} on {c['machine']} ({c['cpus']} CPUs), Python {c['python']}; "
        f"load average {num(c.get('load_before'), 2)} before, {num(c.get('load_after'), 2)} "
        "after.",
        f"测量于 {c['date']}，{c['machine']}（{c['cpus']} 个 CPU），Python {c['python']}；"
        f"负载均值运行前 {num(c.get('load_before'), 2)}，运行后 {num(c.get('load_after'), 2)}。",
    )
    pace = c.get("pace")
    if not pace:  # data saved before the benches measured the machine's pace
        return line
    return line + pick(
        lang,
        f" Machine pace: 10⁶ Python loop steps {num(pace['loop_ms'])} ms, a process started "
        f"from sh {num(pace['spawn_ms'], 1)} ms, python3 -I -S started "
        f"{num(pace.get('python_ms'))} ms, 10 MB written and fsync'ed "
        f"{num(pace['fsync_10mb_ms'])} ms.",
        f" 本机速度：Python 循环 10⁶ 步 {num(pace['loop_ms'])} ms，从 sh 启动一个进程 "
        f"{num(pace['spawn_ms'], 1)} ms，启动 python3 -I -S {num(pace.get('python_ms'))} ms，"
        f"写入并 fsync 10 MB {num(pace['fsync_10mb_ms'])} ms。",
    )


# The calls the benches measure, as the Chinese page names them.
CALLS_ZH = {
    "20 lines at offset 100000 of a 20 MB file": "20 MB 文件中 offset 100000 处的 20 行",
    "whole 200-line file": "整个 200 行的文件",
    "10 files of 200 lines": "10 个 200 行的文件",
    "1 path": "1 个路径",
    "10 paths": "10 个路径",
    "1 KB file (atomic replace)": "1 KB 文件（原子替换）",
    "10 KB file (atomic replace)": "10 KB 文件（原子替换）",
    "1 line of a 200-line file": "200 行文件中的 1 行",
    "2 edits of a 200-line file": "200 行文件上的 2 处编辑",
    "1 line of a 10 MB file, python3 on the remote": "10 MB 文件中的 1 行，远端用 python3",
    "1 line of a 10 MB file, perl on the remote": "10 MB 文件中的 1 行，远端用 perl",
    "1 line of a 10 MB file, local fallback (no python3/perl)": (
        "10 MB 文件中的 1 行，本地回退（远端没有 python3/perl）"
    ),
    "5 edits of a 10 MB file, python3 on the remote": "10 MB 文件上的 5 处编辑，远端用 python3",
    "**/*.txt over 12 files": "在 12 个文件上匹配 **/*.txt",
    "content mode, -C 2, 10 files": "content 模式，-C 2，10 个文件",
    "files_with_matches mode, 10 files": "files_with_matches 模式，10 个文件",
    "count mode, 10 files": "count 模式，10 个文件",
    "echo hi on the persistent shell": "在持久 shell 上执行 echo hi",
    "a running background job": "一个仍在运行的后台作业",
    "fabric Connection.run of the same 20-line read": "用 fabric Connection.run 做同样的 20 行读取",
    "Read of a 259 MB file (whole)": "读取整个 259 MB 文件",
    "Read of a 259 MB file, offset 1, limit 1000000": "读取 259 MB 文件，offset 1，limit 1000000",
    'Grep "." content, offset 29000000, head_limit 3 (259 MB file)': (
        'Grep "." content 模式，offset 29000000，head_limit 3（259 MB 文件）'
    ),
    'Grep "." content, no limit (259 MB file)': 'Grep "." content 模式，不限条数（259 MB 文件）',
}


def call_name(lang: str, what: str) -> str:
    return CALLS_ZH.get(what, what) if lang == "zh" else what
