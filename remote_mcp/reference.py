"""Generate the reference pages from the code, so they cannot drift:
``python -m remote_mcp.reference`` rewrites docs/reference/{tools,config,cli,
errors,environment}.md and their Chinese siblings (*.zh.md: the prose is
translated, the tool descriptions and messages stay as the program sends
them); ``tests/test_docs.py`` fails when they are stale."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import cli
from .host_settings import HOST_KEYS, KEY_HELP, type_words
from .reference_code import ENV_HELP, cli_help, env_reads, error_sites, warning_texts
from .schemas import TOOLS
from .tool_list import input_schema

__all__ = [
    "cli_reference",
    "config_reference",
    "env_reference",
    "errors_reference",
    "tools_reference",
]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "reference"


def _type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(json.dumps(v) for v in prop["enum"])
    kind = prop.get("type", "")
    if kind == "array":
        return f"array of {_type(prop.get('items', {}))}"
    return str(kind)


def _other(name: str, lang: str) -> str:
    """The language switch line at the top of every page."""
    if lang == "zh":
        return f"[English]({name}.md) | 简体中文"
    return f"English | [简体中文]({name}.zh.md)"


def tools_reference(lang: str = "en") -> str:
    intro = {
        "en": "Generated from `remote_mcp/schemas.py` by `python -m remote_mcp.reference`; do "
        "not edit by hand. `{host}` is the configured host name.",
        "zh": "本页由 `python -m remote_mcp.reference` 根据 `remote_mcp/schemas.py` 生成，"
        "请勿手工修改。`{host}` 为配置中的主机名。工具描述与参数说明保持英文原文："
        "它们就是 agent 在 tools/list 中看到的文字。",
    }
    out = [
        "# " + {"en": "Tools reference", "zh": "工具参考"}[lang],
        "",
        _other("tools", lang),
        "",
        intro[lang],
        "",
    ]
    for spec in TOOLS.values():
        schema = input_schema(spec)
        hints = [
            name
            for name, on in (
                ("read-only", spec.read_only),
                ("destructive", spec.destructive),
                ("idempotent", spec.idempotent),
                ("open-world", spec.open_world),
            )
            if on
        ]
        out += [
            f"## {spec.name}",
            "",
            spec.description,
            "",
            ("Annotations" if lang == "en" else "注解（annotations）")
            + f": {', '.join(hints) or 'none'}.",
            "",
        ]
        head = {
            "en": "| parameter | type | required | default | description |",
            "zh": "| 参数 | 类型 | 必填 | 默认值 | 说明 |",
        }[lang]
        out += [head, "|---|---|---|---|---|"]
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            default = json.dumps(prop["default"]) if "default" in prop else ""
            desc = prop.get("description", "").replace("|", "\\|")
            yes = ("yes" if lang == "en" else "是") if name in required else ""
            out.append(f"| `{name}` | {_type(prop)} | {yes} | {default} | {desc} |")
        out.append("")
    return "\n".join(out)


def config_reference(lang: str = "en") -> str:
    text = {
        "en": [
            "# Configuration reference",
            "",
            _other("config", lang),
            "",
            "Generated from `remote_mcp/host_settings.py` by `python -m remote_mcp.reference`.",
            "",
            "File: `--config PATH`, else `$REMOTE_MCP_CONFIG`, else "
            "`~/.config/remote-mcp/config.yaml` (optional: `--host` also takes a Host alias "
            "of ~/.ssh/config or `user@host[:port]`).",
            "Keys set here win over ~/.ssh/config; unset ones come from it (HostName, User, "
            "Port, IdentityFile, ProxyJump, UserKnownHostsFile, StrictHostKeyChecking, "
            "ConnectTimeout, ServerAliveInterval, Compression), then from the defaults below.",
            "Top level: `hosts:` (a mapping of names to the keys below), `default_host:` and "
            "`groups:`.",
            "",
            "`groups:` maps a group name to its members, served as one server by `--group NAME` "
            "([run on many hosts at once](../how-to/run-on-many-hosts.md)). A member is a name "
            "`--host` accepts (an entry of `hosts:`, a Host alias of ~/.ssh/config, "
            "`user@host[:port]`) or a host pattern: `gpu[01-16]`, `web[1-3,7]`, "
            "`rack[1-2]-node[01-04]` (at most 10,000 names). A single pattern may stand for the "
            "list; quote patterns inside a flow list: `groups: {gpu: ['gpu[01-16]', login1]}`.",
            "",
            "| key | type | default | meaning |",
        ],
        "zh": [
            "# 配置参考",
            "",
            _other("config", lang),
            "",
            "本页由 `python -m remote_mcp.reference` 根据 `remote_mcp/host_settings.py` 生成；"
            "说明列保持代码中的英文原文。",
            "",
            "配置文件：`--config PATH`，否则 `$REMOTE_MCP_CONFIG`，否则 "
            "`~/.config/remote-mcp/config.yaml`（可选：`--host` 也接受 ~/.ssh/config 中的 "
            "Host 别名或 `user@host[:port]`）。",
            "这里设置的键优先于 ~/.ssh/config；未设置的键取自 ~/.ssh/config（HostName、User、"
            "Port、IdentityFile、ProxyJump、UserKnownHostsFile、StrictHostKeyChecking、"
            "ConnectTimeout、ServerAliveInterval、Compression），再取下表中的默认值。",
            "顶层：`hosts:`（主机名到下列键的映射）、`default_host:` 和 `groups:`。",
            "",
            "`groups:` 把组名映射到它的成员，由 `--group NAME` 作为一个服务器提供"
            "（[同时在多台主机上运行](../how-to/run-on-many-hosts.zh.md)）。成员可以是 `--host` "
            "接受的名称（`hosts:` 中的条目、~/.ssh/config 中的 Host 别名、`user@host[:port]`），"
            "也可以是主机模式：`gpu[01-16]`、`web[1-3,7]`、`rack[1-2]-node[01-04]`"
            "（最多 10,000 个名称）。单个模式可以代替整个列表；在流式列表中要给模式加引号："
            "`groups: {gpu: ['gpu[01-16]', login1]}`。",
            "",
            "| 键 | 类型 | 默认值 | 含义 |",
        ],
    }
    out = [*text[lang], "|---|---|---|---|"]
    for key, info in HOST_KEYS.items():
        if info.is_required():
            default = "required" if lang == "en" else "必填"
        else:
            value = info.default
            default = json.dumps(list(value) if isinstance(value, tuple) else value)
        meaning = KEY_HELP[key].replace("|", "\\|")  # a table cell
        out.append(f"| `{key}` | `{type_words(key)}` | {default} | {meaning} |")
    return "\n".join(out) + "\n"


def cli_reference(lang: str = "en") -> str:
    intro = {
        "en": [
            "# Command-line reference",
            "",
            _other("cli", lang),
            "",
            "Generated from the argument parser in `remote_mcp/cli.py` by "
            "`python -m remote_mcp.reference`.",
            "",
            "Installing the package gives the console script `remote-mcp`; "
            "`python -m remote_mcp` is the same program. Without a subcommand it serves "
            "MCP over stdio; with a configuration error it still serves, and every tool "
            "call returns the error. Exit status: 0 on success; with `--test`, 1 when a "
            "step fails and 2 for a configuration error (one line on stderr, starting "
            "`remote-mcp:`); `doctor` exits 0 only if the host is usable.",
        ],
        "zh": [
            "# 命令行参考",
            "",
            _other("cli", lang),
            "",
            "本页由 `python -m remote_mcp.reference` 根据 `remote_mcp/cli.py` 中的参数解析器生成。",
            "",
            "安装本包后会得到控制台脚本 `remote-mcp`；`python -m remote_mcp` 是同一个程序。"
            "不带子命令时，它通过 stdio 提供 MCP 服务；即使配置有错也照样提供服务，每次工具"
            "调用都返回该错误。退出码：成功为 0；使用 `--test` 时，某一步失败为 1，配置错误"
            "为 2（stderr 上输出一行，以 `remote-mcp:` 开头）；`doctor` 只有在主机可用时才"
            "返回 0。",
        ],
    }
    out = intro[lang]
    for command, help_text in cli_help(cli._parser()):
        out += ["", f"## `{command}`", "", "```text", help_text.rstrip(), "```"]
    return "\n".join(out) + "\n"


def errors_reference(lang: str = "en") -> str:
    sites = error_sites()
    intro = {
        "en": [
            "# Error messages",
            "",
            _other("errors", lang),
            "",
            "Generated by `python -m remote_mcp.reference` from the source: every `raise` of "
            "a class from `remote_mcp/errors.py` (and every `return` of one, where library "
            "errors are translated), with message tables (a template's status "
            "word -> message) expanded row by row. `{...}` is filled in at run time; "
            "`[word]` is the status word the remote template answered. A `ToolError` is "
            "what the agent reads as the tool result (`isError: true`); a `ConfigError` is "
            "printed by the CLI as `remote-mcp: <message>` with exit status 2; the session "
            "errors reach the agent through the tool that was running.",
            "",
            "Not covered: the wording of messages a helper composes at run time (shown "
            "as a single `{expression}`), Claude Code-compatible texts that are results rather "
            "than errors (for example `No files found`), and the MCP SDK's own argument "
            "validation errors.",
        ],
        "zh": [
            "# 错误信息",
            "",
            _other("errors", lang),
            "",
            "本页由 `python -m remote_mcp.reference` 从源码生成：代码中凡是 `raise` "
            "`remote_mcp/errors.py` 里的异常类（或在转换第三方库异常时 `return` 它）的地方"
            "都会收录；消息表（远端模板返回的状态词 -> 消息）逐行展开。`{...}` 在运行时"
            "填入；`[word]` 是远端模板返回的状态词。`ToolError` 就是 agent 看到的工具结果"
            "（`isError: true`）；`ConfigError` 由命令行输出为 `remote-mcp: <消息>`，退出码 2；"
            "会话类错误经由当时正在运行的工具返回给 agent。消息保持程序实际输出的英文原文。",
            "",
            "未收录：运行时拼出的消息（显示为单个 `{表达式}`）、与 Claude Code 一致的"
            "非错误结果文字（例如 `No files found`），以及 MCP SDK 自身的参数校验错误。",
        ],
    }
    head = {"en": "| module | message |", "zh": "| 模块 | 消息 |"}[lang]
    out = intro[lang]
    for kind in sorted({s.kind for s in sites}):
        out += ["", f"## {kind}", "", head, "|---|---|"]
        for site in (s for s in sites if s.kind == kind):
            text = site.text.replace("|", "\\|").replace("\n", " ")
            out.append(f"| `{site.module}` | {text} |")
    out += ["", "## [WARNING]", "", head, "|---|---|"]
    for module, text in warning_texts():
        out.append(f"| `{module}` | {text} |")
    return "\n".join(out) + "\n"


def env_reference(lang: str = "en") -> str:
    intro = {
        "en": [
            "# Environment variables",
            "",
            _other("environment", lang),
            "",
            "Generated by `python -m remote_mcp.reference` from every `os.environ` read in "
            "`remote_mcp/`; a test fails when the code reads a variable this page does not "
            "describe. Set them in the MCP client's server entry (`env`) or the shell that "
            "starts the server.",
            "",
            "| variable | read in | meaning |",
        ],
        "zh": [
            "# 环境变量",
            "",
            _other("environment", lang),
            "",
            "本页由 `python -m remote_mcp.reference` 根据 `remote_mcp/` 中每一处 "
            "`os.environ` 读取生成；代码读取了本页未说明的变量时测试会失败。可以在 MCP "
            "客户端的服务器配置（`env`）或启动服务器的 shell 中设置。说明列保持英文原文。",
            "",
            "| 变量 | 读取位置 | 含义 |",
        ],
    }
    out = [*intro[lang], "|---|---|---|"]
    for name, modules in env_reads().items():
        where = ", ".join(f"`{m}`" for m in modules)
        out.append(f"| `${name}` | {where} | {ENV_HELP[name]} |")
    return "\n".join(out) + "\n"


_MAKERS: dict[str, Callable[[str], str]] = {
    "tools": tools_reference,
    "config": config_reference,
    "cli": cli_reference,
    "errors": errors_reference,
    "environment": env_reference,
}
PAGES: dict[str, Callable[[], str]] = {
    f"{name}{suffix}.md": functools.partial(make, lang)
    for name, make in _MAKERS.items()
    for suffix, lang in (("", "en"), (".zh", "zh"))
}


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, make in PAGES.items():
        (DOCS / name).write_text(make())
        print(f"wrote {DOCS / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
