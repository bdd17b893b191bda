"""test_backup.py: `groupchat-admin backup`, the broker's copy of its
SQLite database.

A backup taken while messages flow holds every message acknowledged
before it; backups are written only under the broker's backup directory,
never outside it, never over a file, and are refused without one. On
PostgreSQL the broker takes none (test_postgres.py): this module runs on
SQLite only.
"""

import asyncio
import os
import sqlite3
import stat
import tempfile

from harness import Cluster

DATABASES = ("sqlite",)
#  The load test floods on purpose, through a gateway without a rate limit
UNLIMITED = ["--rate-limit", "0"]


async def admin(cluster, *args, expect=0):
    out, err = await cluster.admin(*args, expect=expect)
    return out + err


async def test_backup_under_load_has_every_acknowledged_message():
    async with Cluster(gateways=1, gateway_args=UNLIMITED) as cluster:
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
        sending = asyncio.ensure_future(sue.say_many(["load %d" % i for i in range(400)]))
        #  A pushed message was committed (and acknowledged) before the push:
        #  once 50 are seen, the backup must hold at least those
        seen = [await sue.next_message() for _ in range(50)]
        await admin(cluster, "backup", "under-load.db")
        backup = os.path.join(cluster.backups, "under-load.db")
        seqs = await sending
        assert seqs == list(range(1, 401)), "acked seqs: %r..." % seqs[:5]
        with sqlite3.connect(backup) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = [row[0] for row in db.execute(
                "SELECT seq FROM messages m JOIN rooms r ON r.id = m.room_id"
                " WHERE r.name = 'Taskmaster' ORDER BY seq")]
        assert stored == list(range(1, len(stored) + 1)), "backup seqs have gaps"
        assert len(stored) >= seen[-1]["seq"], "backup has %d messages, %d were acked before it" % (
            len(stored), seen[-1]["seq"])
        #  Backups hold password hashes: for the broker's user only
        assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600, oct(os.stat(backup).st_mode)
        assert stat.S_IMODE(os.stat(cluster.backups).st_mode) == 0o700


def is_database(path):
    """True when path is a whole SQLite database; closed after, so that it
    leaves no -wal or -shm file beside it."""
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


async def test_backups_stay_in_the_backup_directory_and_never_overwrite(cluster):
    backups = cluster.backups
    outside = tempfile.mkdtemp(prefix="outside-", dir=cluster.dir)
    #  Out of the directory by name: absolute, "..", empty parts
    for name in (os.path.join(outside, "copy.db"), "../copy.db", "nightly/../../copy.db",
                 "./copy.db", "nightly//copy.db", "nightly/"):
        out = await admin(cluster, "backup", name, expect=1)
        assert "bad_request" in out and "relative" in out, (name, out)
    assert not os.path.exists(os.path.join(cluster.dir, "copy.db"))
    #  Out of it through links planted in it: neither is followed
    os.symlink(outside, os.path.join(backups, "away"))
    out = await admin(cluster, "backup", "away/copy.db", expect=1)
    assert "no such folder" in out, out
    os.symlink(os.path.join(outside, "target.db"), os.path.join(backups, "link.db"))
    out = await admin(cluster, "backup", "link.db", expect=1)
    assert "exists" in out, out
    assert os.listdir(outside) == [], "written outside: %r" % os.listdir(outside)
    #  Never over a file
    with open(os.path.join(backups, "taken.db"), "w") as taken:
        taken.write("the operator's")
    out = await admin(cluster, "backup", "taken.db", expect=1)
    assert "exists" in out, out
    with open(os.path.join(backups, "taken.db")) as taken:
        assert taken.read() == "the operator's"
    #  Through a folder that is there, not one that is not
    out = await admin(cluster, "backup", "weekly/monday.db", expect=1)
    assert "no such folder" in out, out
    os.mkdir(os.path.join(backups, "nightly"))
    await admin(cluster, "backup", "nightly/monday.db")
    assert is_database(os.path.join(backups, "nightly", "monday.db"))
    #  Nothing left behind by any of it but what was asked for (no partial
    #  copy, no journal)
    left = os.listdir(backups)
    assert "copy.db" not in left and not [n for n in left if n.startswith(".")], left
    assert os.listdir(os.path.join(backups, "nightly")) == ["monday.db"]


async def test_backups_are_refused_without_a_backup_directory():
    async with Cluster(gateways=1, backups=False) as cluster:
        out = await admin(cluster, "backup", "copy.db", expect=1)
        assert "backups are off" in out and "--backup-dir" in out, out
        assert sorted(os.listdir(cluster.dir)) == [
            "broker.log", "gateway-0.log", "groupchat.db", "groupchat.db-shm",
            "groupchat.db-wal", "keys"], os.listdir(cluster.dir)
