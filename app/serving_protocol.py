"""The HTTP protocol `hourglass serve` gives uvicorn: its own, with Nagle's algorithm off.

With `--workers N` uvicorn binds the listening socket itself (`socket.socket(family)`, protocol
number 0), and asyncio only sets `TCP_NODELAY` on a transport whose socket says `IPPROTO_TCP`:
every accepted connection kept Nagle's algorithm on. A response goes out in two writes (head,
then body), so the body waited for the client's delayed ACK: ~40 ms added to every request,
`GET /health` included (measured on loopback: p50 44 ms with 2 workers, 1.5 ms with one). This
protocol turns Nagle off on each connection it is given, whatever socket it came from.

httptools' parser when it is installed (uvicorn's "auto" choice), h11 otherwise.
"""

from __future__ import annotations

import asyncio
import socket

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is a dependency; h11 ships with uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]


def set_no_delay(transport: asyncio.BaseTransport) -> bool:
    """Turn Nagle's algorithm off on a TCP transport's socket; False when it has none."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # pragma: no cover - a socket closed before it was served
        return False
    return True


class NoDelayHTTPProtocol(_Base):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        set_no_delay(transport)
        super().connection_made(transport)  # type: ignore[arg-type]


PROTOCOL = f"{__name__}:{NoDelayHTTPProtocol.__name__}"
