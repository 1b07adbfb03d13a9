"""One queue of password hashes for all the workers of a server.

``portcullis serve --workers N`` runs the hashes of its N workers in the process that
supervises them, on one set of hashing threads: the workers send each hash over a Unix
socket and await the answer. Measured on this project's 2-core machines against hashing
in each worker (docs/performance.md), with two workers behind 8 login connections:

- one first-come, first-served queue across the workers. Before, each worker queued
  its own hashes and the workers raced for the machine's slots (``flock``, which lets
  the process that just let go take a slot again at once): with the connections spread
  unevenly between the workers, the logins of the busier worker waited behind the
  other's, login p99 104-1,212 ms (563 ms in a bench) against 98-131 ms with one queue;
- a hash costs a little less CPU (0.1-0.7 ms a login in alternating runs): argon2's
  19 MiB stay with two threads, where four threads took turns on two cores with four
  areas of memory, each colder in the caches when its turn came.

The socket lies in a directory only the server's user can enter, and is itself 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from portcullis.core.errors import Unavailable
from portcullis.core.passwords import LocalHashing

log = logging.getLogger("portcullis")

# The environment variable that tells a worker where its server's hash service listens.
HASH_SERVICE_SOCKET = "PORTCULLIS_HASH_SERVICE_SOCKET"

# Every frame, either way: its kind, the request it belongs to, the length of its body.
_HEAD = struct.Struct("!BII")
_LENGTH = struct.Struct("!I")
VERIFY, HASH, CANCEL = b"V"[0], b"H"[0], b"C"[0]  # a worker's requests
DONE, FAILED = b"K"[0], b"E"[0]  # the service's answers
# Passwords over 1,024 characters are refused before they are hashed; NFKC can make one
# at most 18 times longer, 4 bytes a character. A longer frame is a broken stream.
MAX_BODY = 1 << 20


def _text(data: str) -> bytes:
    # A password is any str the JSON or form parsers produced, lone surrogates included.
    return data.encode("utf-8", "surrogatepass")


def _from_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


# A frame's kind to what answers it at once, on the connection's thread: quick, never
# queued behind hashes (the lockout's admissions, see attempts/remote.py).
AtOnce = Mapping[int, Callable[[bytes], bytes]]


class HashService:
    """Serves the hashes of a server's workers from this process's hashing threads,
    and the other requests ``at_once`` names."""

    def __init__(self, hashing: LocalHashing, at_once: AtOnce | None = None):
        self._hashing = hashing
        self._at_once = dict(at_once or {})
        if self._at_once.keys() & {VERIFY, HASH, CANCEL}:
            raise ValueError("a request kind answered at once is taken by the hashes")
        self._folder = Path(tempfile.mkdtemp(prefix="portcullis-hashing-"))  # 0700
        self.path = self._folder / "socket"
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self.path.chmod(0o600)  # before listen(): no connection is accepted until then
        self._listener.listen()
        threading.Thread(target=self._accept, name="hash-service", daemon=True).start()

    def close(self) -> None:
        """Stop listening, remove the socket; queued hashes still finish."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._folder.rmdir()
        self._hashing.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(
                target=self._serve, args=(connection,), name="hash-service-worker", daemon=True
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        """Read one worker's requests until it goes; each is answered as its hash ends."""
        writing = threading.Lock()
        waiting: dict[int, _Request] = {}

        def answer(kind: int, ident: int, body: bytes) -> None:
            with writing, contextlib.suppress(OSError):  # the worker has gone
                connection.sendall(_HEAD.pack(kind, ident, len(body)) + body)

        with connection, connection.makefile("rb") as stream:
            try:
                while (frame := _read_frame(stream)) is not None:
                    kind, ident, body = frame
                    if kind in self._at_once:
                        answer(*self._answer_at_once(kind, ident, body))
                        continue
                    if kind == CANCEL:
                        if request := waiting.get(ident):
                            request.cancelled = True
                        continue
                    request = _Request(ident, waiting, answer)
                    waiting[ident] = request
                    self._hashing.threads.submit(
                        self._call(kind, body), request.settle, request.wanted
                    )
            finally:
                for request in list(waiting.values()):  # nobody is left to answer
                    request.cancelled = True

    def _answer_at_once(self, kind: int, ident: int, body: bytes) -> tuple[int, int, bytes]:
        try:
            return DONE, ident, self._at_once[kind](body)
        except Exception as error:  # the worker is told, this thread serves on
            log.exception("the hash service failed a request")
            return FAILED, ident, _text(type(error).__name__)

    def _call(self, kind: int, body: bytes) -> Callable[[], bytes]:
        """What a request asks, to run on a hashing thread; its answer's body."""
        hashing = self._hashing

        def hash_password() -> bytes:
            return _text(hashing.hash_now(_from_text(body)))

        def verify_password() -> bytes:
            (stored_length,) = _LENGTH.unpack_from(body)
            stored = _from_text(body[_LENGTH.size : _LENGTH.size + stored_length])
            password = _from_text(body[_LENGTH.size + stored_length :])
            return b"\x01" if hashing.verify_now(stored, password) else b"\x00"

        def refuse() -> bytes:
            raise ValueError(f"no such request: {kind}")

        return {HASH: hash_password, VERIFY: verify_password}.get(kind, refuse)


def _read_frame(stream: BinaryIO) -> tuple[int, int, bytes] | None:
    """The next frame; None when the stream ends or breaks (a worker's protocol error too)."""
    try:
        head = stream.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return None
        kind, ident, length = _HEAD.unpack(head)
        if length > MAX_BODY:
            return None
        body = stream.read(length)
    except OSError:
        return None
    return (kind, ident, body) if len(body) == length else None


_Answer = Callable[[int, int, bytes], None]  # kind, request, body


class _Request:
    """One hash a worker waits for: answered once, or dropped if the worker gave up."""

    __slots__ = ("_answer", "_waiting", "cancelled", "ident")

    def __init__(self, ident: int, waiting: dict[int, _Request], answer: _Answer):
        self.ident = ident
        self._waiting = waiting
        self._answer = answer
        self.cancelled = False

    def wanted(self) -> bool:
        if self.cancelled:
            self._waiting.pop(self.ident, None)
        return not self.cancelled

    def settle(self, result: Any, error: BaseException | None) -> None:
        self._waiting.pop(self.ident, None)
        if error is None:
            self._answer(DONE, self.ident, result)
        else:
            self._answer(FAILED, self.ident, _text(type(error).__name__))


class RemoteHashing:
    """A worker's side of the hash service: the Hashing port over the server's socket.

    One connection per worker, opened at the first hash and again after a loss. While
    the service cannot be reached, hashes raise Unavailable.
    """

    def __init__(self, path: str):
        self._path = path
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()
        self._idents = itertools.cycle(range(1, 1 << 32))

    async def hash(self, password: str) -> str:
        return _from_text(await self.call(HASH, _text(password)))

    async def verify(self, stored_hash: str, password: str) -> bool:
        stored = _text(stored_hash)
        body = _LENGTH.pack(len(stored)) + stored + _text(password)
        return await self.call(VERIFY, body) == b"\x01"

    async def ping(self) -> None:
        """Connected, or connects: raises Unavailable when the service cannot be reached."""
        await self._connected()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.writer.close()
            self._connection = None

    async def call(self, kind: int, body: bytes) -> bytes:
        """Send one request to the service; its answer's body. Raises Unavailable."""
        connection = await self._connected()
        answer, result = await connection.ask(kind, next(self._idents), body)
        if answer != DONE:
            log.error("the hash service failed a request: %s", _from_text(result))
            raise Unavailable()
        return result

    async def _connected(self) -> _Connection:
        if self._connection is not None and not self._connection.lost:
            return self._connection  # every hash but the first: no lock to take
        async with self._connecting:
            if self._connection is None or self._connection.lost:
                try:
                    reader, writer = await asyncio.open_unix_connection(self._path)
                except OSError as error:
                    log.error("the hash service cannot be reached at %s: %s", self._path, error)
                    raise Unavailable() from error
                self._connection = _Connection(reader, writer)
            return self._connection


class _Connection:
    """One connection to the hash service and the answers awaited on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.writer = writer
        self.lost = False
        self._waiting: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._reading = asyncio.create_task(self._read(reader))

    async def ask(self, kind: int, ident: int, body: bytes) -> tuple[int, bytes]:
        if self.lost:  # nobody would answer
            raise Unavailable()
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        self.writer.write(_HEAD.pack(kind, ident, len(body)) + body)
        try:
            return await future
        except asyncio.CancelledError:
            # The client went away: the service drops the hash if it has not begun.
            if self._waiting.pop(ident, None) is not None and not self.lost:
                self.writer.write(_HEAD.pack(CANCEL, ident, 0))
            raise

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, ident, length = _HEAD.unpack(await reader.readexactly(_HEAD.size))
                body = await reader.readexactly(length)
                future = self._waiting.pop(ident, None)
                if future is not None and not future.done():
                    future.set_result((kind, body))
        except (asyncio.IncompleteReadError, OSError) as error:
            if self._waiting:
                log.error("the hash service went away: %s", error)
        finally:
            self.lost = True
            self.writer.close()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(Unavailable())
            self._waiting.clear()
