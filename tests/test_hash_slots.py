"""Hash slots bound concurrent hashing across threads and processes alike."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from portcullis.hash_slots import HashSlots


def test_never_more_holders_than_slots(tmp_path: Path) -> None:
    slots = HashSlots(tmp_path, 2)
    inside, most = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(5):
            with slots.held():
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.01)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2


HOLD_ONE_SLOT = """
import sys, time
from pathlib import Path
from portcullis.hash_slots import HashSlots
with HashSlots(Path(sys.argv[1]), 1).held():
    print("held", flush=True)
    time.sleep(1.0)
"""


def test_another_process_holding_the_only_slot_makes_us_wait(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_ONE_SLOT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with HashSlots(tmp_path, 1).held():
            waited = time.monotonic() - started
    assert waited > 0.5  # the slot came free only when the other process let it go
