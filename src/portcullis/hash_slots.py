"""At most N password hashes at once on this machine, across every worker process."""

from __future__ import annotations

import fcntl
import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class HashSlots:
    """N lock files; hashes run while their thread holds one of them (``flock``).

    Each process that hashes (a server's hash service, a one-worker server, a command)
    has as many hashing threads as the machine has cores. Where several of them share a
    data directory on one machine (instances side by side, a command beside the server),
    the slots keep the machine-wide total at the number of cores: four 19 MiB hashes
    time-sliced on two cores cost more CPU each, as their memory is evicted from the
    caches.
    """

    def __init__(self, folder: Path, count: int):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._paths = [folder / f".hash-slot-{n}" for n in range(count)]
        self._local = threading.local()
        self._next = itertools.count()

    def _descriptors(self) -> list[int]:
        # flock locks belong to an open file, so each thread opens the slots itself: two
        # threads of one process then exclude each other as two processes do.
        descriptors: list[int] | None = getattr(self._local, "descriptors", None)
        if descriptors is None:
            descriptors = [os.open(path, os.O_RDWR | os.O_CREAT, 0o600) for path in self._paths]
            self._local.descriptors = descriptors
            self._local.fallback = next(self._next) % len(descriptors)
        return descriptors

    @contextmanager
    def held(self) -> Iterator[None]:
        """Block this (hashing) thread until a slot is free; hold it for the block."""
        descriptors = self._descriptors()
        held = None
        for descriptor in descriptors:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            held = descriptor
            break
        if held is None:
            held = descriptors[self._local.fallback]
            fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
