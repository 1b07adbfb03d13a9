"""The directory where ``serve``'s processes keep their counts, for prometheus-client.

Each worker (and serve's own process, where several workers' hashes run) writes its
counts to files there, and a scrape of any worker sums them: one scrape, one truth,
however many workers uvicorn runs. It is serve's own, made at start and removed at
exit, so no count of an earlier run, or of another instance, is ever added in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def metrics_directory(enabled: bool) -> Iterator[None]:
    """While serving, PROMETHEUS_MULTIPROC_DIR names a fresh directory of this run.

    Set before prometheus-client is first imported (which reads it once), and
    inherited by the workers. An operator's own directory is used as it is.
    """
    if not enabled or MULTIPROCESS_DIR in os.environ:
        yield
        return
    path = tempfile.mkdtemp(prefix="portcullis-metrics-")
    os.environ[MULTIPROCESS_DIR] = path
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(path, ignore_errors=True)
