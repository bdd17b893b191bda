"""test_storage.py: the database as another process can hold it.

`unavailable` promises that nothing was stored. Another process holding
the database's write lock (a backup tool, an operator's sqlite3) must
never make the broker store a say after its client was told
`unavailable`: the broker waits for the lock only well inside a request's
deadline, and decides on each say's deadline once it holds the lock.
"""

import asyncio
import sqlite3
import time

from harness import Cluster, deadline


def hold_write_lock(path):
    """Another connection's write transaction on the database, as an
    operator's sqlite3 would hold it; rolled back by the caller."""
    other = sqlite3.connect(path, isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_say_refused_while_another_process_holds_the_lock_is_never_stored(cluster):
    sue = await cluster.login("Sue")
    await sue.join("Taskmaster")
    first = await sue.say("before the lock")
    other = hold_write_lock(cluster.db)
    try:
        started = time.monotonic()
        reply = await sue.request("say", room="Taskmaster", text="while locked")
        assert reply.get("code") == "unavailable", reply
        assert time.monotonic() - started < deadline(4.5), "answered late"
        #  The lock stays as long as in the report that found the broker
        #  storing such a say once it went (4.8 s)
        await asyncio.sleep(max(0.0, started + 4.8 - time.monotonic()))
    finally:
        other.rollback()
        other.close()
    #  Once the lock is gone the broker stores again, and the refused say
    #  is not among what it stored
    seq = await sue.say("after the lock")
    assert seq == first + 1, "seq %d after %d: something else was stored" % (seq, first)
    history = await sue.history(room="Taskmaster", before=seq + 1, limit=10)
    texts = [message["text"] for message in history]
    assert texts[-2:] == ["before the lock", "after the lock"], texts


async def test_a_lock_held_briefly_delays_a_say_but_stores_it_once(cluster):
    sue = await cluster.login("Sue")
    await sue.join("Quite Interesting")
    other = hold_write_lock(cluster.db)
    ident = await sue.send_request("say", room="Quite Interesting", text="waited for the lock")
    loop = asyncio.get_running_loop()
    #  Released while the broker waits for it (it waits up to 1 s)
    loop.call_later(0.3, lambda: (other.rollback(), other.close()))
    reply = await sue.reply(ident, timeout=deadline(5))
    assert reply["op"] == "ok", reply
    history = await sue.history(room="Quite Interesting", before=reply["seq"] + 1, limit=5)
    assert [m["text"] for m in history].count("waited for the lock") == 1, history
