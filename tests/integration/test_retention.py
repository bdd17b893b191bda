"""test_retention.py: the broker's retention (--retain-days,
--retain-messages; docs/administration.md, "Retention").

Retention bounds the disk a room's history takes. It deletes the oldest
messages only, never a room's newest (its seq must go on after a
restart), and what a client or a gateway asks from before the retained
range is answered from the oldest message kept: a join with `since`, a
gateway refilling a gap it missed, go on from there without looping on
the messages that are gone.
"""

import time

from harness import Cluster
from harness.process import run_program

ROOM = "Taskmaster"
OLD_ROOM = "Quite Interesting"
DAY_MS = 24 * 3600 * 1000


def write_directly(cluster, room, texts, first_seq, age_ms=0):
    """Stores texts as messages of room from first_seq on, as a broker
    would have, while none runs: messages no gateway has seen."""
    now = int(time.time() * 1000)
    for seq, text in enumerate(texts, first_seq):
        cluster.sql('INSERT INTO messages (room_id, seq, "from", text, ts)'
                    " SELECT id, ?, 'Sue', ?, ? FROM rooms WHERE name = ?",
                    (seq, text, now - age_ms, room))


def age_messages(cluster, room, through_seq, age_ms):
    cluster.sql("UPDATE messages SET ts = ts - ? WHERE seq <= ? AND room_id ="
                " (SELECT id FROM rooms WHERE name = ?)", (age_ms, through_seq, room))


def seqs(messages):
    return [message["seq"] for message in messages]


async def pushed(client, until, timeout=10):
    """The seqs pushed to client for each room of `until` (room -> the
    last seq awaited), whatever the rooms' interleaving."""
    got = {room: [] for room in until}
    while any(not got[room] or got[room][-1] < last for room, last in until.items()):
        message = await client.next_message(timeout)
        got[message["room"]].append(message["seq"])
    return got


async def test_retention_keeps_the_newest_and_everyone_goes_on_from_the_oldest_kept():
    async with Cluster(gateways=1) as cluster:
        sue = await cluster.login("Sue")
        await sue.join(ROOM)
        await sue.join(OLD_ROOM)
        assert await sue.say_many(["t%d" % n for n in range(1, 21)], room=ROOM) == list(range(1, 21))
        assert await sue.say_many(["q1", "q2", "q3"], room=OLD_ROOM) == [1, 2, 3]
        assert await pushed(sue, {ROOM: 20, OLD_ROOM: 3}) == {
            ROOM: list(range(1, 21)), OLD_ROOM: [1, 2, 3]}
        #  While the broker is down: ten more in the room that the gateway
        #  never hears of, and two of the other room's made three days old
        await cluster.stop_broker()
        write_directly(cluster, ROOM, ["t%d" % n for n in range(21, 31)], 21)
        age_messages(cluster, OLD_ROOM, 2, 3 * DAY_MS)
        cluster.broker.args += ["--retain-messages", "5", "--retain-days", "1"]
        await cluster.start_broker()
        await cluster.broker.wait_for_log("retention deleted messages=27")
        #  The gateway refills the gap it missed from the oldest message
        #  kept, 26, and pushes on from there, once each
        assert await pushed(sue, {ROOM: 30}, timeout=20) == {ROOM: [26, 27, 28, 29, 30]}
        assert await sue.say("after", room=ROOM) == 31
        assert seqs(await sue.messages_until(ROOM, 31)) == [31]
        #  By count the newest five stayed (until the next pass, a minute
        #  on), by age all but the newest
        assert seqs(await sue.history(ROOM, limit=100)) == [26, 27, 28, 29, 30, 31]
        assert seqs(await sue.history(OLD_ROOM, limit=100)) == [3]
        #  A client coming back from before the retained range
        alex = await cluster.login("Alex")
        reply = await alex.join(ROOM, since=4)
        assert seqs(reply["history"]) == [26, 27, 28, 29, 30, 31] and reply["complete"], reply
        await sue.expect_no_message()


async def test_retention_flags_refuse_what_is_not_a_count():
    for flags in (["--retain-days", "-1"], ["--retain-messages", "many"]):
        code, _, err = await run_program("groupchat-broker", flags + ["--db", "/nonexistent/x.db"])
        assert code == 2 and flags[0] in err, (flags, code, err)
