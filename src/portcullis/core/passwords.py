"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import queue
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from portcullis.core.errors import Problem
from portcullis.core.ports import Instruments, Unobserved

MAX_PASSWORD_LENGTH = 1024

# A hash another service made, brought by an import: ``legacy-<scheme>$<as found>``. It is
# verified by a LegacyVerifier once, then replaced by argon2id.
LEGACY_PREFIX = "legacy-"

T = TypeVar("T")


def normalise(password: str) -> str:
    """NFKC, so the same password typed on two keyboards hashes the same (NIST 800-63B)."""
    return unicodedata.normalize("NFKC", password)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    new_hash: str | None = None  # set when the stored hash should be replaced


Gate = Callable[[], AbstractContextManager[object]]

# How many queued hashes one thread runs, once through the gate, before it lets another
# thread in. Measured here (two processes of two threads sharing two slots, 8 hashes in
# flight): a run of 1 cost 24.6 ms CPU per verify and p99 130 ms; runs of 3 cost 23.4 ms
# at p99 155 ms; runs of 4 no less CPU and a p99 up to 270 ms.
RUN_LENGTH = 3

# Hashing threads yield the cores to the event loop when both want them: in a login storm
# the token checks, which every request of a portal makes, keep their pace and the logins
# wait a little longer. Linux gives each thread its own nice value.
HASHING_NICENESS = 5

# The operating system's name of every hashing thread (at most 15 bytes on Linux).
HASHING_THREAD_NAME = "argon2-hash"
# The threads' Python names: argon2_0, argon2_1, ...
HASHING_THREAD_PREFIX = "argon2_"

# A queued hash: what to run, what to call with its result or error (on the hashing
# thread), and whether it is still wanted when its turn comes.
Settle = Callable[[Any, BaseException | None], None]
_Job = tuple[Callable[[], Any], Settle, Callable[[], bool], float]


def _always() -> bool:
    return True


class HashThreads:
    """A few threads that run hashes off the event loop, in the order they were asked for.

    A thread claims a waiting job before it enters the gate (a machine-wide slot, where
    several processes share the cores) and then runs up to ``run_length`` waiting jobs
    before it leaves: an argon2 hash costs less CPU on the thread, and the memory, that
    ran the last one, still warm in the caches. A thread never holds the gate while it
    has nothing to run, and holds no job while it waits at the gate, so a job waits for
    whichever thread gets through first.
    """

    def __init__(
        self,
        threads: int,
        gate: Gate = nullcontext,
        run_length: int = RUN_LENGTH,
        instruments: Instruments | None = None,
    ):
        self._gate = gate
        self._instruments = instruments or Unobserved()
        self._run_length = run_length
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._unclaimed = threading.Semaphore(0)
        self._threads = [
            threading.Thread(target=self._serve, name=f"{HASHING_THREAD_PREFIX}{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            _settle_from_thread(future, loop, result, error)

        # A cancelled future is a client that went away: its hash is not spent.
        self.submit(functools.partial(fn, *args), settle, lambda: not future.cancelled())
        return await future

    def submit(
        self, call: Callable[[], Any], settle: Settle, wanted: Callable[[], bool] = _always
    ) -> None:
        """Queue ``call``; a hashing thread runs it and passes ``settle`` its result or
        error (the gate's too). Dropped unsettled if ``wanted()`` is false by its turn."""
        self._jobs.put((call, settle, wanted, time.perf_counter()))
        self._unclaimed.release()

    def close(self) -> None:
        """Let each thread finish what was asked before, then stop."""
        for _ in self._threads:
            self._jobs.put(None)
            self._unclaimed.release()

    def _serve(self) -> None:
        if sys.platform == "linux":
            native_id = threading.get_native_id()
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, native_id, HASHING_NICENESS)
            # Under its own name in top -H, perf and /proc, where the benchmark tells the
            # hashing's CPU from the event loop's. A thread may rename itself.
            with contextlib.suppress(OSError):
                Path(f"/proc/self/task/{native_id}/comm").write_text(HASHING_THREAD_NAME)
        while True:
            self._unclaimed.acquire()
            claimed = True  # a claim guarantees a job is queued for us
            try:
                with self._gate():
                    ran = 0
                    while True:
                        job = self._jobs.get_nowait()
                        claimed = False
                        if job is None:
                            return
                        self._run(*job)
                        ran += 1
                        if ran >= self._run_length or not self._unclaimed.acquire(blocking=False):
                            break
                        claimed = True
            except Exception as error:  # the gate failed: the claimed job fails with it
                if claimed:
                    job = self._jobs.get_nowait()
                    if job is None:
                        return
                    job[1](None, error)

    def _run(
        self, call: Callable[[], Any], settle: Settle, wanted: Callable[[], bool], queued: float
    ) -> None:
        if not wanted():
            return
        started = time.perf_counter()
        try:
            result = call()
        except Exception as error:
            settle(None, error)
        else:
            settle(result, None)
        finally:
            # The wait includes the gate: slots held by another process are queueing too.
            self._instruments.hashed(started - queued, time.perf_counter() - started)


def _settle_from_thread(
    future: asyncio.Future[Any],
    loop: asyncio.AbstractEventLoop,
    result: Any,
    error: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def argon2id(memory_kib: int, time_cost: int, parallelism: int) -> Argon2Hasher:
    return Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


class Hashing(Protocol):
    """Where argon2 runs: this process's hashing threads, or the server's hash service."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, stored_hash: str, password: str) -> bool: ...

    async def ping(self) -> None:
        """Return when hashes can be run; raises Unavailable when they cannot."""

    def close(self) -> None: ...


class LegacyVerifier(Protocol):
    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` made ``stored_hash`` (a LEGACY_PREFIX hash), in constant
        time; False for a scheme it does not know. Runs on a hashing thread."""
        ...


def is_legacy(stored_hash: str) -> bool:
    return stored_hash.startswith(LEGACY_PREFIX)


def is_usable(stored_hash: str | None) -> bool:
    """Whether a password can match: not NULL, not empty, not Django's unusable ``!...``."""
    return bool(stored_hash) and not (stored_hash or "").startswith("!")


class LocalHashing:
    """argon2id on this process's hashing threads, with a bounded number in flight.

    Hashing holds a core for tens of milliseconds and releases the GIL, so it runs
    on a few threads: token checks on the event loop never wait behind it, and a
    login storm queues here instead of starving the process. Legacy hashes go to
    ``legacy`` on the same threads; without one they never match.
    """

    def __init__(
        self, argon2: Argon2Hasher, threads: HashThreads, legacy: LegacyVerifier | None = None
    ):
        self._argon2 = argon2
        self._legacy = legacy
        self.threads = threads

    async def hash(self, password: str) -> str:
        return await self.threads.run(self.hash_now, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        return await self.threads.run(self.verify_now, stored_hash, password)

    async def ping(self) -> None:
        """The threads are this process's own: while it answers, they are there."""

    def close(self) -> None:
        self.threads.close()

    def hash_now(self, password: str) -> str:
        """On the calling thread: for the hashing threads, here or in the hash service."""
        return self._argon2.hash(password)

    def verify_now(self, stored_hash: str, password: str) -> bool:
        if is_legacy(stored_hash):
            return self._legacy is not None and self._legacy.verify(stored_hash, password)
        try:
            return self._argon2.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


class PasswordHasher:
    """Hashes and verifies normalised passwords, and says when a stored hash is outdated."""

    def __init__(self, argon2: Argon2Hasher, hashing: Hashing):
        self._argon2 = argon2  # its parameters decide when a stored hash needs a rehash
        self._hashing = hashing
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await self._hashing.hash(normalise(password))

    async def verify(self, stored_hash: str | None, password: str) -> Verdict:
        """Check ``password`` against ``stored_hash``; a missing hash spends the same time.

        Raises Unavailable when the server's hash service cannot be reached.
        """
        if stored_hash is None or not is_usable(stored_hash):
            await self._spend_decoy(password)
            return Verdict(ok=False)
        if is_legacy(stored_hash):
            return await self._verify_legacy(stored_hash, password)
        ok = await self._hashing.verify(stored_hash, normalise(password))
        if ok and self._argon2.check_needs_rehash(stored_hash):
            return Verdict(ok=True, new_hash=await self.hash(password))
        return Verdict(ok=ok)

    async def ping(self) -> None:
        """Raises Unavailable when hashes cannot be run (the server's hash service is gone)."""
        await self._hashing.ping()

    def close(self) -> None:
        self._hashing.close()

    async def _verify_legacy(self, stored_hash: str, password: str) -> Verdict:
        """Checked as typed (the old service did not normalise), and either way followed by
        one argon2id run: the new hash when right, the decoy when wrong, so a guess at an
        imported account costs what one at any other account does."""
        if await self._hashing.verify(stored_hash, password):
            return Verdict(ok=True, new_hash=await self.hash(password))
        await self._spend_decoy(password)
        return Verdict(ok=False)

    async def _spend_decoy(self, password: str) -> None:
        await self._hashing.verify(await self._decoy_hash(), normalise(password))

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await self.hash("decoy password for unknown accounts")
        return self._decoy


# --- the policy: small validators that all report ---------------------------------

Validator = Callable[[str, "PasswordContext"], Iterable[str]]

TOO_SHORT = "The password must be at least {length} characters long."
TOO_LONG = "The password must be at most {length} characters long."


@dataclass(frozen=True, slots=True)
class PasswordContext:
    email: str
    username: str | None


def minimum_length(length: int) -> Validator:
    def check(password: str, _: PasswordContext) -> Iterable[str]:
        if len(password) < length:
            yield Problem(TOO_SHORT, length=length)

    return check


def maximum_length(password: str, _: PasswordContext) -> Iterable[str]:
    if len(password) > MAX_PASSWORD_LENGTH:
        yield Problem(TOO_LONG, length=MAX_PASSWORD_LENGTH)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords from breach corpora, as bundled with zxcvbn.

    Read from zxcvbn's data module alone: importing the package would also build its
    estimator's ranked dictionaries of every list, about 8 MiB more in each worker.
    """
    spec = importlib.util.find_spec("zxcvbn")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "frequency_lists.py"
    data_spec = importlib.util.spec_from_file_location("_zxcvbn_frequency_lists", path)
    assert data_spec is not None and data_spec.loader is not None
    data = importlib.util.module_from_spec(data_spec)
    data_spec.loader.exec_module(data)
    return frozenset(data.FREQUENCY_LISTS["passwords"])


def not_common(password: str, _: PasswordContext) -> Iterable[str]:
    if password.lower() in common_passwords():
        yield "The password is too common: it appears in lists of breached passwords."


def not_personal(password: str, context: PasswordContext) -> Iterable[str]:
    lowered = password.lower()
    names = [context.email.split("@", 1)[0].lower()]
    if context.username:
        names.append(context.username.lower())
    # A one- or two-letter name would refuse half of all passwords: those must only differ.
    if any(lowered == name or (len(name) >= 3 and name in lowered) for name in names if name):
        yield "The password must not contain your e-mail name or username."


def not_repetitive(password: str, _: PasswordContext) -> Iterable[str]:
    # NIST SP 800-63B names repetitive passwords ("aaaaaa") among those to refuse; fifteen
    # spaces pass every length rule and no list holds them all.
    if password and len(set(password)) == 1:
        yield "The password must not be one character repeated."


class PasswordPolicy:
    def __init__(
        self,
        validators: Sequence[Validator],
        rules: Sequence[str] = (),
        checks: Sequence[str] = (),
    ):
        self._validators = validators
        self._rules = tuple(rules)
        self._checks = tuple(checks) or ("",) * len(self._rules)

    @classmethod
    def default(cls, min_length: int) -> PasswordPolicy:
        return cls(
            [minimum_length(min_length), maximum_length, not_common, not_repetitive, not_personal],
            [
                f"At least {min_length} characters (at most {MAX_PASSWORD_LENGTH}).",
                "Not one of the passwords common in lists of breached passwords.",
                "Not one character repeated.",
                "Not containing your e-mail name or username.",
            ],
            ["length", "common", "repeated", "personal"],
        )

    @property
    def rules(self) -> tuple[str, ...]:
        """The policy in words, one line per validator, to show before a password is chosen."""
        return self._rules

    @property
    def checks(self) -> tuple[str, ...]:
        """A short name per rule ("length", "common", "repeated", "personal"; "" for one
        of no such kind), for forms that check the rules as the password is typed."""
        return self._checks

    def problems(self, password: str, context: PasswordContext) -> list[str]:
        """Every reason the password is refused; empty when it is acceptable."""
        password = normalise(password)
        return [problem for check in self._validators for problem in check(password, context)]
