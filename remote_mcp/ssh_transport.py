"""paramiko's Transport with the waits taken out of a connection's set-up.

After the key exchange, paramiko spends three round trips before a command
can be sent: the ``ssh-userauth`` service request, the authentication
request, and the opening of the session channel, each sent only once the
answer to the one before has arrived. Two of those waits are not needed:

- The authentication request may follow the service request at once: the
  server handles the two in order (this is what OpenSSH's client does).
- A channel may be opened right after the authentication request that will
  succeed. RFC 4252 (5.1) has the server pass any non-authentication
  message that follows a successful request on to the connection service,
  and OpenSSH does: its authentication loop stops at the request that
  succeeded and the rest of its input, handed over through privilege
  separation, is read by the session. If that request fails instead,
  OpenSSH answers the early open with UNIMPLEMENTED and goes on; the open is
  then sent again once a later request succeeds. Other servers may drop the
  connection on an early open (dropbear does), so it is sent to OpenSSH only.

With delayed compression (``zlib@openssh.com``, what OpenSSH offers) the
server inflates everything it reads after sending its success: the early
open is therefore already compressed, with the stream that goes on after
success. When the request fails, that stream is dropped before anything
else is sent.

Where the open rides on the request, connecting costs one round trip less
on every host, and the service request another: at 50 ms RTT, about 100 ms
of a fresh connection.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paramiko
from paramiko.auth_handler import AuthOnlyHandler
from paramiko.common import (
    MSG_UNIMPLEMENTED,
    MSG_USERAUTH_REQUEST,
    cMSG_CHANNEL_OPEN,
    cMSG_SERVICE_REQUEST,
    cMSG_USERAUTH_REQUEST,
)
from paramiko.compress import ZlibDecompressor
from paramiko.message import Message
from paramiko.transport import ServiceRequestingTransport

__all__ = ["EarlyChannelFailed", "StreamingCompressor", "Transport"]

# The server software that is known to queue an open sent during
# authentication (see the module docstring).
_QUEUES_EARLY_OPEN = "SSH-2.0-OpenSSH_"


class EarlyChannelFailed(Exception):
    """The early session channel was refused or never confirmed: open one
    the usual way, which reports the reason."""


class StreamingCompressor:
    """SSH zlib compression that keeps its history from packet to packet.

    paramiko ends every packet with a full flush, which resets the deflate
    history: each command is then compressed alone, and the template text it
    shares with the command before (most of its 6 KB) travels again, about
    1.9 KB per Bash call. A sync flush, which OpenSSH's own partial flush
    resembles, still ends each packet on a byte boundary the server can
    inflate at once, but the next packet may point back into the last 32 KB:
    about 0.2 KB per Bash call, and less CPU for it. The server inflates one
    stream either way, so this is the sender's choice alone."""

    def __init__(self) -> None:
        self.z = zlib.compressobj()

    def __call__(self, data: bytes) -> bytes:
        return self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)


@dataclass
class _EarlyOpen:
    """A session channel opened behind an authentication request."""

    channel: paramiko.Channel
    event: threading.Event
    message: Message


class _AuthHandler(AuthOnlyHandler):
    def send_auth_request(
        self, username: str, method: str, finish_message: Callable[[Message], None] | None = None
    ) -> list[str]:
        """As paramiko's, but the event the answer sets exists before the
        request leaves: paramiko makes it after sending, so an answer parsed
        in between (the transport thread got the CPU first, as it does while
        the server imports the MCP SDK) set no event, and the wait ran into
        the authentication timeout."""
        self.auth_event = threading.Event()
        self.auth_method = method
        self.username = username
        m = Message()
        m.add_byte(cMSG_USERAUTH_REQUEST)
        m.add_string(username)
        m.add_string("ssh-connection")
        m.add_string(method)
        if finish_message is not None:
            finish_message(m)
        with self.transport.lock:
            self.transport._send_message(m)
        allowed: list[str] = self.wait_for_response(self.auth_event)
        return allowed

    def _parse_userauth_failure(self, m: Message) -> None:
        # Before the caller wakes up and sends its next request.
        self.transport._early_open_refused()
        super()._parse_userauth_failure(m)


class Transport(ServiceRequestingTransport):
    """The transport every remote-mcp connection runs on.

    Set ``early_sessions`` before connecting to have that many session
    channels opened behind the authentication request; `take_early_channel`
    hands them out. Jump hosts leave it at 0: they open forwarding channels
    only."""

    _compression_info = {
        **paramiko.Transport._compression_info,
        "zlib@openssh.com": (StreamingCompressor, ZlibDecompressor),
        "zlib": (StreamingCompressor, ZlibDecompressor),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.early_sessions = 0
        self.early_session_window: int | None = None
        self.early_session_timeout = 30.0
        self._early: list[_EarlyOpen] = []
        self._early_decided = False
        self._early_refused = False
        # The compression stream the early opens were sent with (delayed
        # compression), kept after success.
        self._early_compressor: StreamingCompressor | None = None
        self._service_requested = False
        # Set when the public key algorithm may be chosen: the server's
        # EXT_INFO (server-sig-algs, for RSA keys) has arrived, or it will
        # not come any more (the service was accepted).
        self._auth_may_start = threading.Event()
        self._handler_table[MSG_UNIMPLEMENTED] = self._parse_unimplemented

    # -- authentication ---------------------------------------------------
    def ensure_session(self) -> None:
        """Ask for the userauth service without waiting for the answer."""
        if not self.active or not self.initial_kex_done:
            raise paramiko.SSHException("No existing session")
        if not self._service_requested:
            self._service_requested = True
            m = Message()
            m.add_byte(cMSG_SERVICE_REQUEST)
            m.add_string("ssh-userauth")
            self._send_message(m)
        if self._remote_ext_info == "ext-info-s":
            # OpenSSH sends EXT_INFO right behind its NEWKEYS: no wait in practice.
            deadline = self.auth_timeout or 30.0
            if not self._auth_may_start.wait(deadline):
                raise paramiko.AuthenticationException("Authentication timeout.")
        self.auth_handler = self.get_auth_handler()

    def get_auth_handler(self) -> AuthOnlyHandler:
        return _AuthHandler(self)

    def _parse_ext_info(self, m: Message) -> None:
        super()._parse_ext_info(m)
        self._auth_may_start.set()

    def _parse_service_accept(self, m: Message) -> None:
        super()._parse_service_accept(m)
        self._auth_may_start.set()

    def _parse_unimplemented(self, m: Message) -> None:
        # OpenSSH's answer to an open sent behind a request that failed.
        self._log(paramiko.common.DEBUG, f"server did not handle packet {m.get_int()}")

    # -- the early session channels ------------------------------------------
    def _send_message(self, data: Message) -> None:
        super()._send_message(data)
        # Decided once, at the first authentication request: every packet
        # passes here, and a message's bytes are a copy.
        if self._early_decided or not self.early_sessions:
            return
        if data.asbytes()[:1] != bytes([MSG_USERAUTH_REQUEST]):
            return
        self._early_decided = True
        if (self.remote_version or "").startswith(_QUEUES_EARLY_OPEN):
            if self.local_compression == "zlib@openssh.com":
                self._early_compressor = StreamingCompressor()
                self.packetizer.set_outbound_compressor(self._early_compressor)
            for _ in range(self.early_sessions):
                self._open_early()

    def _open_early(self) -> None:
        # Called with self.lock held (AuthOnlyHandler sends under it), which
        # _next_channel needs.
        window_size = self._sanitize_window_size(self.early_session_window)
        packet_size = self._sanitize_packet_size(None)
        chanid = self._next_channel()
        m = Message()
        m.add_byte(cMSG_CHANNEL_OPEN)
        m.add_string("session")
        m.add_int(chanid)
        m.add_int(window_size)
        m.add_int(packet_size)
        channel = paramiko.Channel(chanid)
        self._channels.put(chanid, channel)
        event = self.channel_events[chanid] = threading.Event()
        self.channels_seen[chanid] = True
        channel._set_transport(self)
        channel._set_window(window_size, packet_size)
        self._early.append(_EarlyOpen(channel, event, m))
        super()._send_message(m)

    def _early_open_refused(self) -> None:
        if self._early and not self.authenticated and not self._early_refused:
            self._early_refused = True
            if self._early_compressor is not None:
                self._early_compressor = None
                self.packetizer.set_outbound_compressor(None)

    def _auth_trigger(self) -> None:
        super()._auth_trigger()
        if self._early_refused:
            for early in self._early:
                super()._send_message(early.message)
        elif self._early_compressor is not None:
            # The server's inflater started with the early opens: go on with
            # that stream, not the fresh one paramiko has just set.
            self.packetizer.set_outbound_compressor(self._early_compressor)

    def take_early_channel(self) -> paramiko.Channel | None:
        """A session channel opened during authentication, once confirmed;
        None when none is left."""
        with self.lock:
            if not self._early:
                return None
            early = self._early.pop(0)
        if not early.event.wait(self.early_session_timeout) or not self.active:
            raise EarlyChannelFailed("the session channel was not confirmed")
        channel: paramiko.Channel | None = self._channels.get(early.channel.get_id())
        if channel is None:
            raise EarlyChannelFailed("the server refused the session channel")
        return channel
