"""test_presence.py: who is in a room, across gateways (protocol v1.1,
"Presence").

A user is present in a room while at least one of their connections is
in it, on any gateway; the room's other users' connections are pushed
`presence` join when the first one enters and leave when the last one
goes (leave, close, removal from the group, or their gateway lost for
10 s). A user's own connections are not pushed their own presence.

Each test of the shared cluster makes a room of its own, so that the
pushes of one test never reach another's clients; the tests that kill a
gateway or restart the broker make their own clusters.
"""

import asyncio
import time

from harness import Cluster, deadline

SLOW = True

#  A gateway silent this long is gone (GC_PRESENCE_GATEWAY_TIMEOUT_MS),
#  and its users with it; the broker looks every 250 ms, and the event
#  takes a moment to reach the clients
GATEWAY_TIMEOUT = 10.0
LEAVE_MARGIN = 1.5
#  After a start the broker publishes nothing this long (GC_PRESENCE_REBUILD_MS)
REBUILD = 10.0

async def expect_presence(client, room, user, event, timeout=5.0):
    push = await client.next_presence(timeout)
    assert push == {"op": "presence", "room": room, "user": user, "event": event}, \
        "%s: pushed %r, expected %s %s" % (client.name, push, user, event)
    return push


async def expect_no_presence(client, within):
    """Asserts that no presence push reaches the client within `within` s."""
    try:
        push = await asyncio.wait_for(client.presence.get(), within)
    except asyncio.TimeoutError:
        return
    raise AssertionError("%s: unexpected push %r" % (client.name, push))


async def who(client, room):
    reply = await client.call("who", room=room)
    assert reply.get("room") == room, "who reply: %r" % (reply,)
    return reply["present"]


async def test_users_on_two_gateways_see_each_other_come_and_go_once(cluster):
    room = await cluster.new_group("Presence")
    sue = await cluster.joined("Sue", 0, room)
    alex = await cluster.joined("Alex", 1, room)
    await expect_presence(sue, room, "Alex", "join")
    assert await who(sue, room) == ["Alex", "Sue"]
    assert await who(alex, room) == ["Alex", "Sue"]

    await alex.call("leave", room=room)
    await expect_presence(sue, room, "Alex", "leave")
    #  Sandy's join comes after: nothing else about Alex came between
    sandy = await cluster.joined("Sandy", 1, room)
    await expect_presence(sue, room, "Sandy", "join")
    assert await who(sandy, room) == ["Sandy", "Sue"]
    assert sandy.presence_pushes() == [], "pushed their own presence"
    assert alex.presence_pushes() == [], "pushed after leaving the room"


async def test_a_user_with_two_connections_is_present_once(cluster):
    room = await cluster.new_group("Presence")
    alex = await cluster.joined("Alex", 0, room)
    first = await cluster.joined("Sue", 0, room)
    await expect_presence(alex, room, "Sue", "join")
    second = await cluster.joined("Sue", 1, room)
    assert await who(alex, room) == ["Alex", "Sue"]
    #  The broker hears each gateway's link in order, but not one link
    #  against the other: her typing, pushed to Alex through the broker,
    #  shows it has heard gateway 1's presence of her before it
    await second.request("typing", room=room)
    push = await alex.next_presence(5)
    assert push == {"op": "typing", "room": room, "user": "Sue"}, push

    await first.call("leave", room=room)
    #  Sandy's join, after Sue's leave on gateway 0's link, is next: Sue's
    #  second connection keeps her present
    await cluster.joined("Sandy", 0, room)
    await expect_presence(alex, room, "Sandy", "join")
    assert await who(alex, room) == ["Alex", "Sandy", "Sue"]
    await second.close()
    await expect_presence(alex, room, "Sue", "leave")
    assert await who(alex, room) == ["Alex", "Sandy"]
    for client in (first, second):
        assert all(push["user"] != "Sue" for push in client.presence_pushes()), \
            "%s: pushed her own presence" % client.name


async def test_a_connection_closed_without_leaving_leaves(cluster):
    room = await cluster.new_group("Presence")
    sue = await cluster.joined("Sue", 0, room)
    alex = await cluster.joined("Alex", 1, room)
    await expect_presence(sue, room, "Alex", "join")
    await alex.close()
    await expect_presence(sue, room, "Alex", "leave")
    assert await who(sue, room) == ["Sue"]


async def test_a_logout_leaves(cluster):
    room = await cluster.new_group("Presence")
    sue = await cluster.joined("Sue", 1, room)
    alex = await cluster.joined("Alex", 0, room)
    await expect_presence(sue, room, "Alex", "join")
    await alex.call("logout")
    await expect_presence(sue, room, "Alex", "leave")


async def test_removal_from_the_group_leaves(cluster):
    room = await cluster.new_group("Presence")
    sue = await cluster.joined("Sue", 0, room)
    alex = await cluster.joined("Alex", 1, room)
    await expect_presence(sue, room, "Alex", "join")
    await cluster.admin("member", "remove", "Alex", room)
    left = await alex.next_event()
    assert left["op"] == "left" and left["room"] == room, "pushed %r" % (left,)
    await expect_presence(sue, room, "Alex", "leave")
    assert await who(sue, room) == ["Sue"]


async def test_who_needs_a_joined_room(cluster):
    room = await cluster.new_group("Presence")
    sue = await cluster.login("Sue", gateway=0)
    await sue.expect_error("not_in_room", "who", room=room)
    await sue.expect_error("not_in_room", "who", room="Nowhere at all")
    await sue.join(room)
    assert await who(sue, room) == ["Sue"]
    await sue.expect_error("bad_request", "who")


async def test_a_gateway_lost_takes_its_users_out_and_they_come_back():
    async with Cluster(gateways=2) as cluster:
        room = await cluster.new_group("Presence")
        sue = await cluster.joined("Sue", 0, room)
        alex = await cluster.joined("Alex", 1, room)
        await expect_presence(sue, room, "Alex", "join")

        killed = time.monotonic()
        await cluster.gateways[1].kill()
        await expect_presence(sue, room, "Alex", "leave",
                              timeout=deadline(GATEWAY_TIMEOUT + LEAVE_MARGIN + 2))
        took = time.monotonic() - killed
        assert took <= deadline(GATEWAY_TIMEOUT + LEAVE_MARGIN), \
            "Alex left %.1f s after his gateway died" % took
        assert await who(sue, room) == ["Sue"]

        #  His client reconnects to the gateway that is left
        alex = await cluster.joined("Alex", 0, room)
        await expect_presence(sue, room, "Alex", "join")
        assert await who(alex, room) == ["Alex", "Sue"]


async def test_a_broker_restart_keeps_presence_without_a_storm():
    async with Cluster(gateways=2, wrap_broker=False) as cluster:
        room = await cluster.new_group("Presence")
        sue = await cluster.joined("Sue", 0, room)
        alex = await cluster.joined("Alex", 1, room)
        sandy = await cluster.joined("Sandy", 1, room)
        #  In either order, maybe only once the broker's rebuild window is
        #  over: a gateway's presence sync, sent as its link comes up, may
        #  tell the broker of one of them first, and what a sync tells in
        #  that window is pushed from the snapshot at its end
        got = [await sue.next_presence(deadline(REBUILD + 5)) for _ in range(2)]
        assert sorted((push["user"], push["event"]) for push in got) == [
            ("Alex", "join"), ("Sandy", "join")], got
        await expect_presence(alex, room, "Sandy", "join", timeout=deadline(REBUILD + 5))
        assert await who(sue, room) == ["Alex", "Sandy", "Sue"]

        await cluster.stop_broker()
        await sandy.close()             #  gone while the broker is down
        started = time.monotonic()
        await cluster.start_broker()

        #  Who stayed is not pushed; Sandy leaves once, after the window
        await expect_presence(sue, room, "Sandy", "leave", timeout=deadline(REBUILD + 5))
        await expect_presence(alex, room, "Sandy", "leave", timeout=deadline(5))
        #  Nothing else until well past the window
        rest = max(0.5, deadline(REBUILD + 2) - (time.monotonic() - started))
        await asyncio.gather(expect_no_presence(sue, rest), expect_no_presence(alex, rest))
        assert await who(sue, room) == ["Alex", "Sue"]
        assert await who(alex, room) == ["Alex", "Sue"]

        #  And presence goes on as before
        sandy = await cluster.joined("Sandy", 0, room)
        await expect_presence(alex, room, "Sandy", "join")
        await expect_presence(sue, room, "Sandy", "join")
