"""test_admin.py: administration of a running broker with groupchat-admin.

Changes go through the broker and take effect at once on every gateway:
a member removed from a group is put out of its room, a new member can
join, a new user can log in, a changed password ends old tokens
(backups: test_backup.py).
The listings (users, groups, members) print names from the network
escaped, never as terminal controls. The tests share one cluster, so a
listing is checked against what this module's tests may have added.
"""

import asyncio
import json
import os
import pty

from harness import (CONFIG, ROOMS_OF, USERS, deadline, run_program,
                     server_environment, wrap_for)


async def admin_output(cluster, *args, password=None, expect=0):
    """Runs groupchat-admin; returns (stdout, stderr) after checking its exit."""
    return await cluster.admin(*args, password=password, expect=expect)


async def admin(cluster, *args, password=None, expect=0):
    out, err = await admin_output(cluster, *args, password=password, expect=expect)
    return out + err


def harmful(char):
    """C0 and C1 controls, DEL and the bidi controls (common/gc_escape.c)."""
    code = ord(char)
    return code < 0x20 or 0x7f <= code <= 0x9f or 0x202a <= code <= 0x202e \
        or 0x2066 <= code <= 0x2069


def escaped(name):
    """A name as a plain listing shows it: harmful characters as their
    UTF-8 bytes in \\xHH, backslash doubled."""
    return "".join("\\\\" if char == "\\" else
                   "".join("\\x%02x" % byte for byte in char.encode())
                   if harmful(char) else char for char in name)


async def listing(cluster, *args):
    """A listing's names, from --json, checked against the plain listing."""
    out, _ = await admin_output(cluster, *args, "--json")
    assert out.endswith("\n") and out.count("\n") == 1, "--json: %r" % out
    names = json.loads(out)
    plain, _ = await admin_output(cluster, *args)
    assert plain == "".join(escaped(name) + "\n" for name in names), (
        "plain %r, --json %r" % (plain, out))
    return names


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
    await other.join("Taskmaster")
    await admin(cluster, "user", "remove", "Mel")
    #  Both sessions ended (test_session_end.py has the details)
    for client in (mel, other):
        event = await client.next_event()
        assert event["op"] == "closed", "event: %r" % (event,)
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


async def test_listings_of_users_groups_and_members(cluster):
    await admin(cluster, "user", "add", "Quinn", password="q")
    for group in ("Quiz Night", "Pub Quiz"):
        await admin(cluster, "group", "add", group)
        await admin(cluster, "member", "add", "Quinn", group)
    await admin(cluster, "member", "add", "Sue", "Quiz Night")
    users = await listing(cluster, "users")
    assert users == sorted(users) and set(USERS) | {"Quinn"} <= set(users), users
    groups = await listing(cluster, "groups")
    rooms = {room for rooms in ROOMS_OF.values() for room in rooms}
    assert groups == sorted(groups) and rooms | {"Quiz Night", "Pub Quiz"} <= set(groups), groups
    assert await listing(cluster, "groups", "Quinn") == ["Pub Quiz", "Quiz Night"]
    assert await listing(cluster, "members", "Quiz Night") == ["Quinn", "Sue"]
    assert await listing(cluster, "members", "Pub Quiz") == ["Quinn"]
    assert await listing(cluster, "members", "Quite Interesting") == ["Sandy", "Sue"]
    #  --json as a flag before the command, and an empty list
    await admin(cluster, "group", "add", "Empty Room")
    out, _ = await admin_output(cluster, "--json", "members", "Empty Room")
    assert out == "[]\n", out
    out, _ = await admin_output(cluster, "members", "Empty Room")
    assert out == "", out
    out, _ = await admin_output(cluster, "--json", "users")
    assert json.loads(out) == users, out


async def test_listing_unknown_group_or_user_is_refused(cluster):
    out = await admin(cluster, "members", "Nowhere", expect=1)
    assert "no_such_room" in out, out
    out = await admin(cluster, "groups", "Nobody", expect=1)
    assert "no_such_user" in out, out
    out = await admin(cluster, "members", expect=2)
    assert "usage" in out, out


async def test_names_from_the_network_are_shown_escaped(cluster):
    name = "Eve\x1b[31m"
    await admin(cluster, "user", "add", name, password="eve")
    await admin(cluster, "group", "add", "Back\\slash\x7f")
    await admin(cluster, "member", "add", name, "Back\\slash\x7f")
    out, _ = await admin_output(cluster, "users")
    assert "\x1b" not in out and "Eve\\x1b[31m\n" in out, "users: %r" % out
    out, _ = await admin_output(cluster, "members", "Back\\slash\x7f")
    assert out == "Eve\\x1b[31m\n", out
    out, _ = await admin_output(cluster, "groups", name)
    assert out == "Back\\\\slash\\x7f\n", out
    #  JSON escapes them its own way: the names come back exact
    out, _ = await admin_output(cluster, "users", "--json")
    assert "\x1b" not in out and name in json.loads(out), out
    #  C1 controls and bidi overrides too, in both forms
    other = "Ann\u009b2J\u202e"
    await admin(cluster, "user", "add", other, password="ann")
    out, _ = await admin_output(cluster, "users")
    assert "Ann\\xc2\\x9b2J\\xe2\\x80\\xae\n" in out, "users: %r" % out
    out, _ = await admin_output(cluster, "users", "--json")
    assert '"Ann\\u009B2J\\u202E"' in out and other in json.loads(out), out
    assert not any(harmful(char) for char in out.rstrip("\n")), "users --json: %r" % out


async def read_until(fd, text, timeout=10.0):
    """Reads the pty's master end until text shows; returns all read."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline(timeout)
    seen = b""
    while text not in seen:
        ready = loop.create_future()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, max(0.0, end - loop.time()))
        except asyncio.TimeoutError:
            raise AssertionError("no %r on the terminal; saw %r" % (text, seen))
        finally:
            loop.remove_reader(fd)
        try:
            seen += os.read(fd, 4096)
        except OSError:                 # the program has gone: EIO
            raise AssertionError("no %r on the terminal; saw %r" % (text, seen))
    return seen


async def add_on_terminal(cluster, user, first, second):
    """user add on a pseudo-terminal, typing the two passwords; returns
    the exit code and what the terminal showed."""
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        *wrap_for("groupchat-admin"), os.path.join(CONFIG.bin, "groupchat-admin"),
        *cluster.admin_args(), "user", "add", user,
        stdin=slave, stdout=slave, stderr=slave, env=server_environment())
    os.close(slave)
    try:
        shown = await read_until(master, b"Password: ")
        os.write(master, first.encode() + b"\n")
        shown += await read_until(master, b"again: ")
        os.write(master, second.encode() + b"\n")
        code = await asyncio.wait_for(proc.wait(), deadline(30.0))
        while True:
            try:
                more = os.read(master, 4096)
            except OSError:
                break
            if not more:
                break
            shown += more
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    return code, shown.decode("utf-8", "replace")


async def test_user_add_asks_the_password_twice_on_a_terminal(cluster):
    code, shown = await add_on_terminal(cluster, "Tess", "secret one", "secret two")
    assert code == 1 and "passwords differ" in shown, (code, shown)
    assert "secret" not in shown, "echoed: %r" % shown
    assert "Tess" not in await listing(cluster, "users")
    code, shown = await add_on_terminal(cluster, "Tess", "secret one", "secret one")
    assert code == 0 and "done" in shown and "secret" not in shown, (code, shown)
    await admin(cluster, "member", "add", "Tess", "Taskmaster")
    tess = await cluster.login("Tess", password="secret one")
    await tess.join("Taskmaster")
