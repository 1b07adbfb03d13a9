"""Where a user's files live: the folder BioStudies' clients upload into."""

from __future__ import annotations

from dataclasses import dataclass

from portcullis.core.models import Account, StorageMode


@dataclass(frozen=True, slots=True)
class UserFolder:
    relative_path: str  # secret[0:2] + "/" + secret[2:] + "-a" + id, as the portal's disks
    path: str  # as clients are told it: under the FTP root for an FTP user, if one is set
    mode: StorageMode


class Folders:
    """Names each account's folder as the real service does, from its secret and its id.

    The folders on the portal's disks already carry these names, so the rule must not
    change: an account keeps its secret and id for as long as its folder exists.
    """

    def __init__(self, ftp_root: str = ""):
        self._ftp_root = ftp_root.rstrip("/")

    def of(self, account: Account) -> UserFolder:
        secret = account.secret
        # An imported account keeps the id its folder on disk was named with.
        folder_id = account.id if account.folder_id is None else account.folder_id
        relative = f"{secret[:2]}/{secret[2:]}-a{folder_id}"
        path = relative
        if account.storage_mode is StorageMode.FTP and self._ftp_root:
            path = f"{self._ftp_root}/{relative}"
        return UserFolder(relative, path, account.storage_mode)
