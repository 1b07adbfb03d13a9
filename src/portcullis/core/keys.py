"""Single-use, expiring one-time keys and the links that carry them."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlsplit

from portcullis.core.errors import InvalidInput, UnknownInstance
from portcullis.core.models import Account, KeyPurpose, LinkTarget, UsedKey
from portcullis.core.ports import Clock, UnitOfWork
from portcullis.core.tokens import Hasher, new_key

MAX_KEY_LENGTH = 256

# A link's path stands between the front end's address and the key: plain path characters
# only, so the key never lands in a query or a fragment and the link stays under the base.
_LINK_PATH = re.compile(r"^[A-Za-z0-9._~/-]*$")
LINK_PATH_PROBLEM = "path: only letters, digits and - . _ ~ / are allowed, and no '..'"
# The keys that set a password: every change of the password voids them all.
PASSWORD_KEYS = (KeyPurpose.PASSWORD_RESET, KeyPurpose.PASSWORD_SETUP)


# A front end's link template names where the key (and the account's handle) go, e.g.
# https://thr.example/reset_password?uidb64={uid}&token={key}.
KEY_FIELD = "{key}"
UID_FIELD = "{uid}"


def is_link_template(base: str) -> bool:
    return KEY_FIELD in base


class Links:
    """Builds mailed links from configured front ends, never from the request.

    An instance is either a base, under which the target's path and the key follow, or a
    template holding ``{key}`` (and perhaps ``{uid}``), for front ends that read the key
    from a query; the target's path is then not used.

    With ``dev_instances``, an instance key that is itself an address on this machine
    (``http://localhost…``, ``https://localhost…``, ``http://127.0.0.1…``) is its own
    base, as the real service allows for its own tests: such a link leads nowhere but
    to the machine of the one who reads it.
    """

    def __init__(self, instances: Mapping[str, str], dev_instances: bool = False):
        self._instances = {key: base.rstrip("/") for key, base in instances.items()}
        self._dev_instances = dev_instances

    def check(self, target: LinkTarget) -> None:
        """Raises UnknownInstance unless the target's instance is configured, and
        InvalidInput for a path that is not a plain path."""
        self._base(target.instance_key)
        if not _LINK_PATH.match(target.path) or ".." in target.path.split("/"):
            raise InvalidInput([LINK_PATH_PROBLEM])

    def build(self, target: LinkTarget, key: str, uid: str = "") -> str:
        """The link; ``key`` and ``uid`` are URL-safe already (new_key, account_handle)."""
        self.check(target)
        path = target.path.strip("/")
        base = self._base(target.instance_key)
        if is_link_template(base):
            return base.replace(UID_FIELD, uid).replace(KEY_FIELD, key)
        return f"{base}/{path}/{key}" if path else f"{base}/{key}"

    def _base(self, instance_key: str) -> str:
        base = self._instances.get(instance_key)
        if base is not None:
            return base
        if self._dev_instances and is_local_address(instance_key):
            return instance_key.rstrip("/")
        raise UnknownInstance()


def is_local_address(url: str) -> bool:
    """Whether ``url`` is a plain web address of this machine, such as http://localhost:4200.

    Parsed, not matched by prefix: ``http://localhost.example.com`` and
    ``http://localhost@example.com`` start alike but lead elsewhere.
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return False
    allowed = {"http": ("localhost", "127.0.0.1"), "https": ("localhost",)}
    return (
        parts.hostname in allowed.get(parts.scheme, ())
        and parts.netloc in (parts.hostname, f"{parts.hostname}:{port}")
        and not parts.query
        and not parts.fragment
        and bool(_LINK_PATH.match(parts.path))
    )


class Keys:
    def __init__(self, hasher: Hasher, clock: Clock, lifetimes: Mapping[KeyPurpose, timedelta]):
        self._hasher = hasher
        self._clock = clock
        self._lifetimes = lifetimes

    def lifetime(self, purpose: KeyPurpose) -> timedelta:
        """How long a key for ``purpose`` works once issued (its mail says so)."""
        return self._lifetimes[purpose]

    def account_handle(self, account_id: int) -> str:
        """The opaque handle mailed beside a key (see tokens.Hasher.account_handle)."""
        return self._hasher.account_handle(account_id)

    def names_account(self, handle: str, account_id: int) -> bool:
        return hmac.compare_digest(handle.encode(), self.account_handle(account_id).encode())

    async def issue(
        self,
        uow: UnitOfWork,
        account_id: int,
        purpose: KeyPurpose,
        new_email: str | None = None,
    ) -> str:
        """A fresh key for ``purpose`` (an e-mail change: the ``new_email`` it proves);
        older keys of that purpose stop working."""
        key = new_key()
        now = self._clock.now()
        expires_at = now + self._lifetimes[purpose]
        await uow.keys.replace(
            account_id, purpose, self._hasher.key_hash(key), now, expires_at, new_email
        )
        return key

    async def consume(self, uow: UnitOfWork, key: str, *purposes: KeyPurpose) -> UsedKey | None:
        """Use up ``key`` if it is live and of one of ``purposes``: what it was for."""
        if not key or len(key) > MAX_KEY_LENGTH:
            return None
        return await uow.keys.consume(self._hasher.key_hash(key), purposes, self._clock.now())

    async def peek(self, uow: UnitOfWork, key: str, *purposes: KeyPurpose) -> int | None:
        """The account of a live ``key`` without using it up (to check a new password first)."""
        if not key or len(key) > MAX_KEY_LENGTH:
            return None
        return await uow.keys.peek(self._hasher.key_hash(key), purposes, self._clock.now())


def mailed_key_values(
    keys: Keys, links: Links, account: Account, target: LinkTarget, key: str, purpose: KeyPurpose
) -> dict[str, str]:
    """What a mail carrying ``key`` shows: the link to ``target``, the key, the account's
    handle and name, and how long the key lasts. Raises UnknownInstance, InvalidInput."""
    uid = keys.account_handle(account.id)
    minutes = max(1, int(keys.lifetime(purpose).total_seconds() // 60))
    return {
        "name": account.full_name,
        "link": links.build(target, key, uid),
        "key": key,
        "uid": uid,
        "lifetime_minutes": str(minutes),
    }
