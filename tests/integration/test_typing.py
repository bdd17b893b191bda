"""test_typing.py: typing indicators across gateways (protocol v1.1,
"Typing").

`typing` is forwarded at most once a second per user and room, pushed to
the room's connections of other users on every gateway (not to the
typist's own), answered only when it has an id, and never stored.
"""

import asyncio
import time

from harness import deadline

async def typing_pushes(client, within):
    """The typing pushes that reach the client within `within` s
    (presence pushes are left out)."""
    got = []
    end = time.monotonic() + within
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return got
        try:
            push = await asyncio.wait_for(client.presence.get(), left)
        except asyncio.TimeoutError:
            return got
        if push["op"] == "typing":
            got.append(push)


async def test_typing_reaches_the_others_on_every_gateway_once_a_second(cluster):
    room = await cluster.new_group("Typing")
    sue = await cluster.joined("Sue", 0, room)
    mine = await cluster.joined("Sue", 1, room)         #  Sue's other connection
    alex = await cluster.joined("Alex", 1, room)
    sandy = await cluster.joined("Sandy", 0, room)
    before = await sue.history(room, limit=5)

    for _ in range(10):                 #  10 in about a second
        await sue.send_json({"op": "typing", "room": room})
        await asyncio.sleep(0.1)
    expected = {"op": "typing", "room": room, "user": "Sue"}
    for client in (alex, sandy):
        got = await typing_pushes(client, deadline(2.5))
        assert 1 <= len(got) <= 2, "%s: %d typing pushes: %r" % (client.name, len(got), got)
        assert all(push == expected for push in got), "%s: %r" % (client.name, got)
    for client in (sue, mine):
        got = await typing_pushes(client, 0.2)
        assert got == [], "%s: pushed its own user's typing: %r" % (client.name, got)
    #  No reply to a typing without id: the next reply is the history's
    assert await sue.history(room, limit=5) == before, "typing was stored"
    assert sue.replies.empty(), "replied to a typing without id"


async def test_typing_with_an_id_is_answered(cluster):
    room = await cluster.new_group("Typing")
    sue = await cluster.joined("Sue", 0, room)
    alex = await cluster.joined("Alex", 1, room)
    reply = await sue.request("typing", room=room)
    assert reply == {"op": "ok", "id": reply["id"]}, "typing reply: %r" % (reply,)
    push = await typing_pushes(alex, deadline(1.5))
    assert push == [{"op": "typing", "room": room, "user": "Sue"}], "pushed %r" % (push,)


async def test_typing_in_a_room_not_joined(cluster):
    room = await cluster.new_group("Typing")
    sue = await cluster.login("Sue", gateway=0)
    await sue.expect_error("not_in_room", "typing", room=room)
    #  Without an id: nothing at all, the next reply is the rooms'
    await sue.send_json({"op": "typing", "room": room})
    await sue.call("rooms")
    assert sue.replies.empty(), "replied to a typing without id: %r" % (
        sue.replies.get_nowait(),)
