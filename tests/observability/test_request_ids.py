"""Made request ids: 32 hex digits, never the same twice, in a forked worker too."""

from __future__ import annotations

import os
import re

from portcullis.observability.context import RandomIds, request_id_from

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_a_valid_id_sent_is_kept_and_an_invalid_one_replaced() -> None:
    assert request_id_from(b"trace-1:abc") == "trace-1:abc"
    made = request_id_from(b"two words")
    assert HEX_ID.fullmatch(made)


def test_made_ids_are_hex_and_all_different_across_blocks() -> None:
    ids = RandomIds()
    made = [ids.next() for _ in range(3 * RandomIds.BLOCK + 7)]
    assert all(HEX_ID.fullmatch(made_id) for made_id in made)
    assert len(set(made)) == len(made)


def test_a_forked_child_does_not_repeat_its_parents_pending_ids() -> None:
    ids = RandomIds()
    ids.next()  # the parent now holds a block of ids it has not handed out
    pending = ids._ids.copy()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next ids, to the parent
        os.close(reader)
        os.write(writer, " ".join(ids.next() for _ in range(5)).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        childs = pipe.read().split()
    os.waitpid(child, 0)
    assert len(childs) == 5
    assert not set(childs) & set(pending)
