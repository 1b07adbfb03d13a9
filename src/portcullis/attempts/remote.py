"""The workers' lockout counts, kept in the memory of the serve process that runs them.

Without Redis, each of serve's N workers counting in its own memory would give every
subject N budgets. The workers already send their hashes to serve's process over a Unix
socket (``hash_service``): an admission is one more frame on it, answered at once on the
connection's thread from one ``MemoryAttempts``, never queued behind the hashes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping

from portcullis.attempts.memory import MemoryAttempts
from portcullis.core.models import Admission
from portcullis.hash_service import RemoteHashing

ADMIT, SUCCEEDED = b"A"[0], b"S"[0]  # a worker's requests; the body is the subject
_ADMISSION = struct.Struct("!II")  # refused for, hold started (seconds)


def served_by(attempts: MemoryAttempts) -> Mapping[int, Callable[[bytes], bytes]]:
    """What serve's process answers to the workers' frames, by kind."""

    def admit(body: bytes) -> bytes:
        admission = attempts.admit_now(body.decode())
        return _ADMISSION.pack(admission.retry_after, admission.hold)

    def succeeded(body: bytes) -> bytes:
        attempts.succeeded_now(body.decode())
        return b""

    return {ADMIT: admit, SUCCEEDED: succeeded}


class RemoteAttempts:
    """A worker's side: the Attempts port over its connection to serve's process.

    Raises Unavailable while serve's process cannot be reached, as a hash would.
    """

    def __init__(self, remote: RemoteHashing):
        self._remote = remote

    async def admit(self, subject: str) -> Admission:
        refused, hold = _ADMISSION.unpack(await self._remote.call(ADMIT, subject.encode()))
        return Admission(retry_after=refused, hold=hold)

    async def succeeded(self, subject: str) -> None:
        await self._remote.call(SUCCEEDED, subject.encode())
