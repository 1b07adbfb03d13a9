"""The hash service: the workers' hashes over a real Unix socket, in one queue, in order."""

from __future__ import annotations

import asyncio
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from argon2 import PasswordHasher as Argon2Hasher

from portcullis.core.errors import Unavailable
from portcullis.core.passwords import HashThreads, LocalHashing, argon2id
from portcullis.hash_service import HASH, MAX_BODY, HashService, RemoteHashing

PASSWORD = "pässwörd ✓ 密码 correct horse"


class RecordingHashing(LocalHashing):
    """Real argon2 on real hashing threads, noting each password as its hash begins."""

    def __init__(self, threads: HashThreads):
        super().__init__(argon2id(1024, 1, 1), threads)
        self.hashed: list[str] = []

    def hash_now(self, password: str) -> str:
        self.hashed.append(password)
        return super().hash_now(password)


class ClosedGate:
    """A gate that holds the one hashing thread until it is opened: the queue fills."""

    def __init__(self) -> None:
        self.opened = threading.Event()

    @contextmanager
    def held(self) -> Iterator[None]:
        assert self.opened.wait(10)
        yield


@contextmanager
def hash_service(gate: ClosedGate | None = None) -> Iterator[tuple[HashService, RecordingHashing]]:
    threads = HashThreads(1, gate.held) if gate else HashThreads(2)
    hashing = RecordingHashing(threads)
    service = HashService(hashing)
    try:
        yield service, hashing
    finally:
        if gate:
            gate.opened.set()
        service.close()


def test_hashes_and_verifies_for_a_worker() -> None:
    async def run(service: HashService) -> tuple[str, bool, bool]:
        remote = RemoteHashing(str(service.path))
        try:
            await remote.ping()  # connects: the service is there
            stored = await remote.hash(PASSWORD)
            return stored, await remote.verify(stored, PASSWORD), await remote.verify(stored, "x")
        finally:
            remote.close()

    with hash_service() as (service, _):
        stored, right, wrong = asyncio.run(run(service))
    assert right is True
    assert wrong is False
    # A real argon2id hash of the password itself, with the service's parameters.
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert Argon2Hasher().verify(stored, PASSWORD)


def test_a_stored_hash_that_is_not_argon2_fails_verification() -> None:
    async def run(service: HashService) -> bool:
        remote = RemoteHashing(str(service.path))
        try:
            return await remote.verify("pbkdf2_sha256$1$salt$hash", PASSWORD)
        finally:
            remote.close()

    with hash_service() as (service, _):
        assert asyncio.run(run(service)) is False


def test_the_workers_hashes_run_first_come_first_served() -> None:
    gate = ClosedGate()

    async def run(service: HashService) -> None:
        first, second = RemoteHashing(str(service.path)), RemoteHashing(str(service.path))
        try:
            asked = []
            for worker, password in [(first, "a1"), (second, "b1"), (first, "a2"), (second, "b2")]:
                asked.append(asyncio.ensure_future(worker.hash(password)))
                await asyncio.sleep(0.1)  # each reaches the service's queue before the next
            gate.opened.set()
            await asyncio.gather(*asked)
        finally:
            first.close()
            second.close()

    with hash_service(gate) as (service, hashing):
        asyncio.run(run(service))
    assert hashing.hashed == ["a1", "b1", "a2", "b2"]


def test_a_hash_whose_worker_gave_up_is_not_run() -> None:
    gate = ClosedGate()

    async def run(service: HashService) -> None:
        remote = RemoteHashing(str(service.path))
        try:
            abandoned = asyncio.ensure_future(remote.hash("abandoned"))
            await asyncio.sleep(0.1)
            abandoned.cancel()  # a client that disconnected while its login queued
            await asyncio.sleep(0.1)
            gate.opened.set()
            await remote.hash("next")
        finally:
            remote.close()

    with hash_service(gate) as (service, hashing):
        asyncio.run(run(service))
    assert hashing.hashed == ["next"]


def test_no_service_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    async def run() -> None:
        remote = RemoteHashing(f"{tmp_path}/nothing-listens-here")
        with pytest.raises(Unavailable):
            await remote.verify("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA", PASSWORD)
        with pytest.raises(Unavailable):  # and readiness says so
            await remote.ping()

    asyncio.run(run())


def test_a_broken_stream_fails_its_waiting_hashes_and_the_next_one_reconnects() -> None:
    gate = ClosedGate()

    async def run(service: HashService) -> str:
        remote = RemoteHashing(str(service.path))
        try:
            waiting = asyncio.ensure_future(remote.hash("waiting"))
            await asyncio.sleep(0.1)
            # A frame longer than any request: the service hangs up on this connection.
            connection = remote._connection
            assert connection is not None
            connection.writer.write(
                b"H" + (1).to_bytes(4, "big") + (MAX_BODY + 1).to_bytes(4, "big")
            )
            with pytest.raises(Unavailable):
                await asyncio.wait_for(waiting, 5)
            with pytest.raises(Unavailable):  # nothing more is asked on the lost connection
                await asyncio.wait_for(connection.ask(HASH, 2, b"late"), 5)
            gate.opened.set()
            return await remote.hash("after")
        finally:
            remote.close()

    with hash_service(gate) as (service, hashing):
        stored = asyncio.run(run(service))
    assert Argon2Hasher().verify(stored, "after")
    assert hashing.hashed == ["after"]  # the lost connection's hash was dropped, not run


def test_only_the_servers_user_can_reach_the_socket() -> None:
    with hash_service() as (service, _):
        assert stat.S_ISSOCK(service.path.stat().st_mode)
        assert stat.S_IMODE(service.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(service.path.parent.stat().st_mode) == 0o700
        folder = service.path.parent
    assert not folder.exists()  # closing removes the socket and its folder
