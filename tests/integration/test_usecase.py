"""test_usecase.py: the story groupchat exists for, end to end.

Alex, Sue and Sandy, each on a different gateway, log in, list their rooms,
join Taskmaster, see its history and chat; each sees every message, their
own included, exactly once and in seq order.
"""

import time

from harness import Cluster, ROOMS_OF, assert_contiguous


def room_names(reply):
    """The names in a `rooms` reply, checking its {"rooms":[{"name":..}]} shape."""
    rooms = reply.get("rooms")
    assert isinstance(rooms, list), "rooms reply without a rooms array: %r" % (reply,)
    for room in rooms:
        assert isinstance(room, dict) and isinstance(room.get("name"), str), \
            "rooms entry is not {\"name\": ...}: %r" % (reply,)
    return [room["name"] for room in rooms]


async def test_alex_sue_and_sandy_chat_in_taskmaster():
    async with Cluster(gateways=3) as cluster:
        alex = await cluster.login("Alex", gateway=0)
        sue = await cluster.login("Sue", gateway=1)
        sandy = await cluster.login("Sandy", gateway=2)

        for client, user in ((alex, "Alex"), (sue, "Sue"), (sandy, "Sandy")):
            names = room_names(await client.call("rooms"))
            assert names == ROOMS_OF[user], "%s's rooms: %r, expected %r" % (
                user, names, ROOMS_OF[user])

        #  Sue is first in the room, which a fresh database leaves empty
        reply = await sue.join("Taskmaster")
        assert reply["history"] == [], "fresh Taskmaster has history: %r" % (reply,)
        before = time.time() * 1000
        opening = ["Did you see the last task?", "The one with the melon", "Yes!"]
        seqs = [await sue.say(text) for text in opening]
        assert seqs == [1, 2, 3], "first seqs of a fresh room: %r" % seqs
        pushed = await sue.messages_until("Taskmaster", 3)
        assert [(m["seq"], m["from"], m["text"]) for m in pushed] == \
            [(1, "Sue", opening[0]), (2, "Sue", opening[1]), (3, "Sue", opening[2])], \
            "Sue's own messages as pushed to her: %r" % pushed
        after = time.time() * 1000
        for message in pushed:
            assert before - 60000 <= message["ts"] <= after + 60000, \
                "ts %d is not the storing time in ms since the epoch (now %d)" % (
                    message["ts"], after)

        #  Alex and Sandy see that history: the same MESSAGE objects as pushed
        for client in (alex, sandy):
            reply = await client.join("Taskmaster")
            assert reply["history"] == pushed, \
                "%s's join history %r differs from the pushed messages %r" % (
                    client.name, reply["history"], pushed)

        #  Everyone chats; everyone sees everything once, in seq order
        said = []
        lines = [(alex, "Alex", "Melon was a bold choice"),
                 (sandy, "Sandy", "I would have eaten it"),
                 (sue, "Sue", "That was not allowed"),
                 (alex, "Alex", "Nothing said so!"),
                 (sandy, "Sandy", "Read the task again"),
                 (sue, "Sue", "\"Eat the melon\" is not in it")]
        for client, user, text in lines:
            said.append((await client.say(text), user, text))
        last = said[-1][0]
        assert [seq for seq, _, _ in said] == list(range(4, 10)), \
            "seqs of one-at-a-time says: %r" % said
        for client in (alex, sue, sandy):
            got = await client.messages_until("Taskmaster", last)
            seen = [(m["seq"], m["from"], m["text"]) for m in got]
            assert seen == said, "%s saw %r, expected %r" % (client.name, seen, said)
            assert_contiguous([m["seq"] for m in got], 4)
        #  No late duplicate: the last message is in, a bounded wait suffices
        for client in (alex, sue, sandy):
            await client.expect_no_message(0.3)
