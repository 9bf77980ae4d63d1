"""Serving the review app on 127.0.0.1 with uvicorn until Ctrl-C."""

from __future__ import annotations

import contextlib
import socket
import webbrowser
from collections.abc import Callable

from grader.errors import ConfigError
from grader.review.app import create_app
from grader.review.desk import Desk
from grader.review.guard import Guard

HOST = "127.0.0.1"  # never another interface: the app shows answers and takes corrections


def listen(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (`port` 0: a free one)."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on connections whose socket says so, and without it
    # every kept-alive response waits ~40 ms for the browser's delayed ACK between its headers and its body.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a stopped server's port is free again at once
    try:
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}; try another --port") from None
    return sock


def serve(desk: Desk, port: int = 0, open_browser: bool = True, announce: Callable[[str], None] | None = None) -> None:
    """Serve `desk` until Ctrl-C (SIGINT) or SIGTERM; `announce` gets the URL (with its access token) first."""
    import uvicorn

    guard = Guard()
    sock = listen(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/?token={guard.token}"
    if announce is not None:
        announce(url)
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(create_app(desk, guard), log_level="warning", access_log=False, lifespan="off")
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn shuts down, then raises the Ctrl-C again: we are done
        uvicorn.Server(config).run(sockets=[sock])
