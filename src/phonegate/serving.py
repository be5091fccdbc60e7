"""``phonegate serve --workers N`` on Linux: N server processes, each accepting on its own
listening socket bound to the same port with SO_REUSEPORT.

uvicorn's own supervisor shares one socket between its workers, and the kernel wakes
whichever worker is waiting in accept first: a busy worker keeps winning, so a handful of
keep-alive connections (a load balancer's pool) can pile onto one process while the others
idle (docs/benchmarks.md measured 13 of 16 on one of two). With a socket per worker the
kernel spreads connections over the sockets by a hash of their addresses instead. The
sockets are opened before the workers start, so connections made while a worker is still
starting wait in its backlog rather than going to the others.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

log = logging.getLogger("phonegate.serving")

RESTART_PAUSE_SECONDS = 1.0


def reuse_port_supported() -> bool:
    """Linux balances connections over SO_REUSEPORT sockets; other systems may not."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def _serve_one(sock: socket.socket, options: dict[str, Any]) -> None:
    import uvicorn

    # Each worker builds its own container (engine, pools) from the environment.
    config = uvicorn.Config("phonegate.web.app:make_app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(workers: int, options: dict[str, Any]) -> None:
    """Run ``workers`` server processes until SIGTERM or SIGINT; a worker that dies is
    started again on its socket."""
    sockets = [listen(str(options["host"]), int(options["port"])) for _ in range(workers)]
    # fork: the child gets its socket as it is; nothing here has started a thread or loop.
    context = multiprocessing.get_context("fork")
    processes: dict[int, multiprocessing.process.BaseProcess] = {}
    stopping = False

    def start(index: int) -> None:
        process = context.Process(
            target=_serve_one,
            args=(sockets[index], options),
            name=f"phonegate-worker-{index}",
        )
        process.start()
        processes[index] = process

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if signum == signal.SIGTERM:
            # Ctrl-C reaches the workers itself (one process group); a second signal
            # would make uvicorn drop requests in flight.
            for process in processes.values():
                if process.is_alive() and process.pid is not None:
                    process.terminate()

    for index in range(workers):
        start(index)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving on %s:%s with %d workers", options["host"], options["port"], workers)
    while not stopping:
        for index, process in list(processes.items()):
            if not process.is_alive() and not stopping:
                log.error("worker %d exited with %s; starting it again", index, process.exitcode)
                time.sleep(RESTART_PAUSE_SECONDS)
                start(index)
        time.sleep(0.2)
    for process in processes.values():
        process.join(timeout=30)  # uvicorn finishes the requests in flight
        if process.is_alive():  # SIGINT sent to this process alone never reached it
            process.terminate()
            process.join()
    for sock in sockets:
        sock.close()
