"""test_admin.py: administration of a running broker with groupchat-admin.

Changes go through the broker and take effect at once on every gateway:
a member removed from a group is put out of its room, a new member can
join, a new user can log in, a changed password ends old tokens. A backup
taken while messages flow holds every message acknowledged before it.
"""

import asyncio
import os
import sqlite3

from harness import run_program


async def admin(cluster, *args, password=None, expect=0):
    env = {"GROUPCHAT_PASSWORD": password} if password else {}
    code, out, err = await run_program(
        "groupchat-admin",
        ["--requests", "tcp://127.0.0.1:%d" % cluster.requests_port, *args], env=env)
    assert code == expect, "groupchat-admin %s: exit %d, expected %d; %s%s" % (
        " ".join(args), code, expect, out, err)
    return out + err


async def test_new_user_group_and_member_live_on_both_gateways(cluster):
    await admin(cluster, "user", "add", "Greg", password="hunter2")
    await admin(cluster, "group", "add", "Bake Off")
    await admin(cluster, "member", "add", "Greg", "Bake Off")
    await admin(cluster, "member", "add", "Sue", "Bake Off")
    greg = await cluster.login("Greg", gateway=0, password="hunter2")
    sue = await cluster.login("Sue", gateway=1)
    rooms = [room["name"] for room in (await greg.call("rooms"))["rooms"]]
    assert rooms == ["Bake Off"], "Greg's rooms: %r" % rooms
    await greg.join("Bake Off")
    await sue.join("Bake Off")
    seq = await greg.say("On your marks", room="Bake Off")
    for client in (greg, sue):
        message = await client.next_message()
        assert (message["room"], message["seq"], message["from"]) == ("Bake Off", seq, "Greg")


async def test_removed_member_is_put_out_at_once_on_every_gateway(cluster):
    alex = [await cluster.login("Alex", gateway=gateway) for gateway in (0, 1)]
    sue = await cluster.login("Sue", gateway=0)
    for client in alex + [sue]:
        await client.join("8 out of 10 cats")
    await admin(cluster, "member", "remove", "Alex", "8 out of 10 cats")
    for client in alex:
        event = await client.next_event()
        assert event == {"op": "left", "room": "8 out of 10 cats",
                         "reason": "removed from the group"}, "event: %r" % (event,)
    #  Sue still hears the room; Alex, on both gateways, hears nothing more
    seq = await sue.say("Alex has gone", room="8 out of 10 cats")
    message = await sue.next_message()
    assert message["seq"] == seq
    for client in alex:
        await client.expect_no_message(timeout=0.5)
        await client.expect_error("not_in_room", "say", room="8 out of 10 cats", text="hi")
        await client.expect_error("not_member", "join", room="8 out of 10 cats")
    await admin(cluster, "member", "add", "Alex", "8 out of 10 cats")
    await alex[0].join("8 out of 10 cats")


async def test_password_change_ends_tokens_and_removed_user_cannot_log_in(cluster):
    await admin(cluster, "user", "add", "Mel", password="first")
    await admin(cluster, "member", "add", "Mel", "Taskmaster")
    mel = await cluster.login("Mel", password="first")
    token = mel.token
    await admin(cluster, "password", "Mel", password="second")
    other = await cluster.client(1)
    await other.expect_error("bad_credentials", "login", token=token)
    await other.expect_error("bad_credentials", "login", user="Mel", password="first")
    await other.login("Mel", password="second")
    await mel.join("Taskmaster")
    await admin(cluster, "user", "remove", "Mel")
    event = await mel.next_event()
    assert event["op"] == "left" and event["room"] == "Taskmaster", "event: %r" % (event,)
    fresh = await cluster.client(0)
    await fresh.expect_error("bad_credentials", "login", user="Mel", password="second")


async def test_admin_errors_are_clear(cluster):
    out = await admin(cluster, "member", "add", "Nobody", "Taskmaster", expect=1)
    assert "no_such_user" in out, out
    out = await admin(cluster, "member", "add", "Sue", "Nowhere", expect=1)
    assert "no_such_room" in out, out
    out = await admin(cluster, "group", "add", "Taskmaster", expect=1)
    assert "exists" in out, out
    out = await admin(cluster, "user", "add", "Sue", password="x", expect=1)
    assert "exists" in out, out
    out = await admin(cluster, "frobnicate", expect=2)
    assert "usage" in out, out
    code, out, err = await run_program("groupchat-admin", [
        "--requests", "tcp://127.0.0.1:1", "--timeout", "1", "stats"])
    assert code == 1 and "did not answer" in err, (code, out, err)


async def test_backup_under_load_has_every_acknowledged_message(cluster):
    sue = await cluster.login("Sue")
    await sue.join("Taskmaster")
    backup = os.path.join(cluster.dir, "backup.db")
    sending = asyncio.ensure_future(sue.say_many(["load %d" % i for i in range(400)]))
    #  A pushed message was committed (and acknowledged) before the push:
    #  once 50 are seen, the backup must hold at least those
    seen = [await sue.next_message() for _ in range(50)]
    await admin(cluster, "backup", backup)
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
    out = await admin(cluster, "backup", "/nonexistent/dir/copy.db", expect=1)
    assert "backup failed" in out, out


def stored(stats):
    for line in stats.splitlines():
        if line.startswith("groupchat_broker_messages_stored_total "):
            return int(line.split()[1])
    raise AssertionError("no messages_stored in %r" % stats)


async def test_stats_counts_stored_messages(cluster):
    before = stored(await admin(cluster, "stats"))
    sue = await cluster.login("Sue")
    await sue.join("Taskmaster")
    await sue.say_many(["m %d" % i for i in range(5)])
    out = await admin(cluster, "stats")
    assert stored(out) == before + 5, out
    assert "groupchat_broker_commit_seconds_count" in out, out
