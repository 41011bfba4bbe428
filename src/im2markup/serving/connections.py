"""The HTTP server's connections: uvicorn's HTTP/1.1 protocol with a deadline on headers.

uvicorn closes a keep-alive connection that sends nothing, but one that starts a request and
never finishes its headers stays open for good, and a few hundred of them hold every socket
the server can have. Here a connection whose request line and headers have not all arrived
within the read timeout of its opening (or of its previous answer) is closed; the body has
its own limit in the app (408).
"""

from __future__ import annotations

import asyncio

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from im2markup.serving.limits import ServerLimits


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """`H11Protocol` closing connections whose headers take longer than `seconds`."""

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._start_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._start_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            super().connection_lost(exc)

        def _start_header_timer(self) -> None:
            self._stop_header_timer()
            self._header_timer = self.loop.call_later(seconds, self._close_if_headers_missing)

        def _stop_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _close_if_headers_missing(self) -> None:
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


def server_config(
    app: object, host: str, port: int, limits: ServerLimits, log_level: str = "info"
) -> uvicorn.Config:
    """How `im2markup serve` runs `app`: HTTP/1.1 with the header deadline of `limits`."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=header_timeout_protocol(limits.read_timeout_s),
    )
