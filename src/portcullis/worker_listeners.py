"""Several workers on one port, each with a listening socket of its own.

uvicorn's supervisor binds one socket and every worker accepts from it. asyncio accepts
every connection waiting when it wakes, so a burst of new connections (a proxy filling
its keep-alive pool, a load test) lands on whichever worker woke first: 32 connections
were seen split 32/0 and 22/10, and a worker left with none idles while the other
queues. Measured on the bench: 7,700 answers a second against 14,000 when split evenly.

With ``SO_REUSEPORT`` each worker listens on a socket of its own in one group, and
Linux hands each new connection to one of them by a hash of its addresses: an even
split, whatever the timing. This is what nginx's ``reuseport`` and Envoy do.

uvicorn passes the sockets it is given to each worker it starts (and restarts) by
pickling them. So the supervisor holds a :class:`ReusePortListener`: bound, never
listening, it receives no connection; unpickled in a worker, it becomes that worker's
own socket, bound to the same address and port. A port something else listens on is
refused at start, as uvicorn's own bind would refuse it. Elsewhere than Linux, where
``SO_REUSEPORT`` does not balance, the workers share one socket as uvicorn does itself.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")  # where uvicorn says the same things

BALANCES = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def _bound(host: str, port: int, reuse_port: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _refuse_a_port_in_use(host: str, port: int) -> None:
    """Any process of the same user may join a ``SO_REUSEPORT`` group, so a second
    service started on the port would silently take its share of the connections. A
    plain bind first fails, as uvicorn's own would, where anything listens there."""
    _bound(host, port, reuse_port=False).close()


class ReusePortListener(socket.socket):
    """The supervisor's socket: bound, not listening; each worker gets a new one."""

    def __init__(self, host: str, port: int):
        bound = _bound(host, port)
        super().__init__(bound.family, bound.type, bound.proto, fileno=bound.detach())
        self._host = host

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # The port as bound, so that port 0 (any free port) means the same port in all.
        return (_bound, (self._host, self.getsockname()[1]))


def serve(app: str, host: str, port: int, workers: int, **options: Any) -> None:
    """uvicorn.run, with one listening socket a worker where the kernel balances them."""
    if workers == 1 or not BALANCES:
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)
    try:
        _refuse_a_port_in_use(host, port)
        listener = ReusePortListener(host, port)
    except OSError as error:
        # What uvicorn says and does when its own bind fails.
        logger.error(error)
        sys.exit(STARTUP_FAILURE)
    with listener:
        logger.info(
            "Uvicorn running on http://%s:%d, one socket a worker (Press CTRL+C to quit)",
            host,
            listener.getsockname()[1],
        )
        Multiprocess(config, sockets=[listener]).run()
