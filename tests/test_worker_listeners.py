"""``serve --workers N`` gives each worker a listening socket of its own (worker_listeners.py).

Read from outside, as the kernel sees it: which process holds which socket of the port,
in /proc, and which worker each of a burst of connections landed on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.processes import PORTCULLIS, ServeProcess, portcullis_env, workers_of

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT balances on Linux")

LISTEN = "0A"  # /proc/net/tcp's code for a listening socket
BURST = 64


def _sockets_of_port(port: int) -> list[tuple[str, int, int]]:
    """(state, remote port, inode) of every IPv4 TCP socket whose local port is ``port``."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if int(local.split(":")[1], 16) == port:
            found.append((state, int(remote.split(":")[1], 16), inode))
    return found


def _owner_of(inodes: set[int], pids: list[int]) -> dict[int, int]:
    """Which of ``pids`` holds each socket inode (a socket held by none is left out)."""
    owners = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                inode = int(target[len("socket:[") : -1])
                if inode in inodes:
                    owners[inode] = pid
    return owners


def _listeners(server: ServeProcess, pids: list[int]) -> dict[int, int]:
    """Each listening socket of the port, by inode, and the process holding it."""
    inodes = {inode for state, _, inode in _sockets_of_port(server.port) if state == LISTEN}
    return _owner_of(inodes, pids)


def _listening_processes(server: ServeProcess, workers: list[int]) -> list[int]:
    """Which of the supervisor and ``workers`` hold the port's listening sockets, one a socket."""
    return sorted(_listeners(server, [server.process.pid, *workers]).values())


@contextmanager
def _burst(server: ServeProcess, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections opened at once, each answered once, open until the end."""
    connections = [socket.socket() for _ in range(count)]
    try:
        for connection in connections:
            connection.setblocking(False)
            connection.connect_ex(("127.0.0.1", server.port))
        for connection in connections:
            connection.setblocking(True)
            connection.settimeout(10)
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: portcullis\r\n\r\n")
        for connection in connections:
            assert connection.recv(4096).startswith(b"HTTP/1.1 200 ")
        yield connections
    finally:
        for connection in connections:
            connection.close()


def _worker_of_each(
    server: ServeProcess, connections: list[socket.socket], workers: list[int]
) -> Counter[int]:
    ours = {connection.getsockname()[1] for connection in connections}
    inodes = {inode for state, remote, inode in _sockets_of_port(server.port) if remote in ours}
    return Counter(_owner_of(inodes, workers).values())


def _listening_workers(server: ServeProcess, count: int, gone: int | None = None) -> list[int]:
    """The ``count`` workers, once each listens (and ``gone`` is no longer among them)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = workers_of(server, count)
        listening = set(_listeners(server, workers).values())
        if gone not in workers and len(workers) == count and listening == set(workers):
            return workers
        time.sleep(0.2)
    raise AssertionError(f"{count} workers did not all listen: {server.log.read_text()}")


def test_each_worker_listens_on_its_own_socket_and_a_burst_is_spread(tmp_path: Path) -> None:
    server = ServeProcess(portcullis_env(tmp_path / "data"), "--workers", "2")
    try:
        workers = _listening_workers(server, 2)
        # One socket each; the supervisor holds the port but listens on nothing.
        assert _listening_processes(server, workers) == sorted(workers)

        with _burst(server, BURST) as connections:
            spread = _worker_of_each(server, connections, workers)
        assert sum(spread.values()) == BURST
        # The kernel hashes each connection to a socket: an even split but for chance.
        # Fewer than 16 of 64 on one worker happens about once in 30,000 bursts; on one
        # shared socket a burst goes mostly to whichever worker woke first.
        assert min(spread[pid] for pid in workers) >= BURST // 4, spread

        # A worker that dies is replaced, and its replacement listens on its own socket.
        os.kill(workers[0], signal.SIGKILL)
        replaced = _listening_workers(server, 2, gone=workers[0])
        assert _listening_processes(server, replaced) == sorted(replaced)
        with _burst(server, BURST) as connections:
            assert set(_worker_of_each(server, connections, replaced)) == set(replaced)
    finally:
        server.stop()


def test_a_port_another_service_listens_on_stops_serve_at_once(tmp_path: Path) -> None:
    # Any process of the same user may join a SO_REUSEPORT group: a second serve on the
    # port must be refused, not handed half the connections.
    env = portcullis_env(tmp_path / "data")
    server = ServeProcess(env, "--workers", "2")
    try:
        _listening_workers(server, 2)
        # In a session of its own: were it to start, its workers go down with it.
        second = subprocess.Popen(
            [PORTCULLIS, "serve", "--port", str(server.port), "--workers", "2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            said, _ = second.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            second.communicate()
            raise AssertionError("a second serve on the port started") from None
        assert second.returncode != 0
        assert "address already in use" in said.lower()
        assert len(_listening_workers(server, 2)) == 2
    finally:
        server.stop()
