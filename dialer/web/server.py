"""Run the app under uvicorn: check the bind address, take the run log, listen, stop cleanly."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from dialer.errors import DialerError
from dialer.web.auth import check_bind, create_token
from dialer.web.config import WebConfig

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 4100
EPHEMERAL_TOKEN_TTL = 12 * 3600


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one); DialerError when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DialerError(
                f"port {port} on {host} is already in use",
                hint="stop the other server or pick another port with --port",
            ) from None
        raise DialerError(f"can not listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    config: WebConfig,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    log_level: str = "info",
    announce: Callable[[str], None] = print,
) -> None:
    """`dialer serve`: run the API until Ctrl-C or SIGTERM.

    Refuses (DialerError) a non-loopback host without `DIALER_JWT_SECRET`, a run log another
    process holds (RunLogLocked) and a port in use, each before anything starts. Without a
    secret (loopback only) it signs with a throwaway one and announces an admin token that
    works until the server stops. `announce` receives the lines a user should see.
    """
    import uvicorn

    from dialer.web.app import create_app
    from dialer.web.redact import log_config

    check_bind(host, config.jwt_secret)
    app = create_app(config)
    state = app.state.server
    state.open()  # the run log lock first: a held lock is a one-line error, not a traceback
    try:
        sock = bind(host, port)
    except BaseException:
        state.close()
        raise
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{sock.getsockname()[1]}"
    if state.ephemeral_secret:
        token = create_token(state.secret, "admin", EPHEMERAL_TOKEN_TTL, "dialer-serve")
        announce(
            "no DIALER_JWT_SECRET: tokens below work until this server stops; set it to issue "
            "lasting ones with dialer token create"
        )
        announce(f"admin token: {token}")
    announce(f"dialer serve: {url}/ (API docs at {url}/docs), run log {config.db}")
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=log_config(log_level), log_level=log_level)
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        state.close()
