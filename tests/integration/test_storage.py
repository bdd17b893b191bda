"""test_storage.py: the database as another process holds it, damaged,
read-only or on a full disk.

`unavailable` promises that nothing was stored. Another process holding
the database's write lock (a backup tool, an operator's sqlite3) must
never make the broker store a say after its client was told
`unavailable`: the broker waits for the lock only well inside a request's
deadline, and decides on each say's deadline once it holds the lock.
"""

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import tempfile
import time

from harness import CONFIG, Cluster, deadline, free_port, run_program

#  SQLite's file: its lock, damage, permissions and full disk
DATABASES = ("sqlite",)


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


# --------------------------------------------------------------------------
#  A database the broker cannot trust or write

@contextlib.contextmanager
def small_filesystem(size):
    """A tmpfs of `size` bytes of its own, mounted on a fresh folder (the
    tests run as root, as CI does); unmounted at the end."""
    folder = tempfile.mkdtemp(prefix="small-fs-", dir=CONFIG.tmp_root)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", folder],
                   check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", folder], check=False, capture_output=True)
        os.rmdir(folder)


async def start_refused(db):
    """The broker started on db: its exit status and what it said."""
    code, out, err = await run_program("groupchat-broker", [
        "--db", db, "--requests", "tcp://127.0.0.1:%d" % free_port(),
        "--events", "tcp://127.0.0.1:%d" % free_port()], timeout=30)
    return code, out + err


async def database_with_history(db, messages=2000):
    """A database at db, made by a broker, with `messages` texts in
    Taskmaster, then closed and checkpointed into the file."""
    async with Cluster(gateways=0, db=db) as cluster:
        await cluster.broker_link().say_many("Sue", "Taskmaster", ["x" * 300] * messages)
    with contextlib.closing(sqlite3.connect(db)) as check:
        check.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def test_a_damaged_database_stops_the_broker_at_start():
    folder = tempfile.mkdtemp(prefix="damaged-", dir=CONFIG.tmp_root)
    db = os.path.join(folder, "groupchat.db")
    await database_with_history(db)
    with contextlib.closing(sqlite3.connect(db)) as look:
        root = look.execute("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
        page_size = look.execute("PRAGMA page_size").fetchone()[0]
    #  The messages tree's root page overwritten: every room's history gone
    with open(db, "r+b") as damaged:
        damaged.seek((root - 1) * page_size)
        damaged.write(b"\xa5" * page_size)
    code, said = await start_refused(db)
    assert code == 1, "broker on a damaged database: exit %d\n%s" % (code, said)
    assert "damaged" in said and db in said, said


async def test_a_read_only_database_stops_the_broker_at_start():
    with small_filesystem(8 << 20) as folder:
        db = os.path.join(folder, "groupchat.db")
        await database_with_history(db, messages=10)
        subprocess.run(["mount", "-o", "remount,ro", folder], check=True, capture_output=True)
        code, said = await start_refused(db)
    assert code == 1, "broker on a read-only database: exit %d\n%s" % (code, said)
    assert "cannot write the database" in said, said


def fill(folder):
    """Writes a file in folder until the filesystem is full; returns it."""
    path = os.path.join(folder, "filler")
    with open(path, "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
        except OSError:
            pass
    return path


async def test_a_full_disk_refuses_says_loses_nothing_and_recovers_by_itself():
    with small_filesystem(4 << 20) as folder:
        async with Cluster(gateways=1, db=os.path.join(folder, "groupchat.db")) as cluster:
            sue = await cluster.login("Sue")
            await sue.join("Taskmaster")
            acked = [await sue.say("before the disk filled %d" % n) for n in range(3)]
            filler = fill(folder)
            #  Says fill what room is left, then are refused, never stored
            refused = None
            for attempt in range(400):
                reply = await sue.request("say", room="Taskmaster", text="%d %s" % (attempt, "y" * 3000))
                if reply["op"] == "ok":
                    acked.append(reply["seq"])
                else:
                    refused = reply
                    break
            assert refused and refused.get("code") == "unavailable", refused
            await cluster.wait_healthy(status=503, within=10)
            os.unlink(filler)
            #  Space is back: the broker finds out by itself
            await cluster.wait_healthy(within=10)
            sue = await cluster.login("Sue")
            await sue.join("Taskmaster")
            last = await sue.say("after the disk had room again")
            #  Every acknowledged say is there, in order, with no gap: the
            #  refused ones took no seq
            assert last == acked[-1] + 1, (last, acked[-5:])
            history = await sue.history(room="Taskmaster", before=last + 1, limit=len(acked) + 1)
            assert [m["seq"] for m in history] == acked + [last], [m["seq"] for m in history][:5]
