"""remote-mcp: Claude Code's file and shell tools on a remote host over SSH.

Public API for scripts: :func:`remote_mcp.templates.render`, the tool routines in
:mod:`remote_mcp.tools`, :class:`remote_mcp.session.Session`, and the config
loader :func:`remote_mcp.config.load_config`.
"""

__version__ = "0.1.0"
