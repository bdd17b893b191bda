"""test_join.py: join, join with since, history paging, leave.

The module's cluster is shared by its tests, which run one after another,
so each test takes its bearings from the room's newest seq when it starts
instead of assuming an empty room.
"""

from harness import Cluster, assert_contiguous, seq_of

SLOW = True
#  Tests that flood on purpose run their own gateways without a rate limit
UNLIMITED = ["--rate-limit", "0"]


async def newest_seq(client, room="Taskmaster"):
    """The room's newest seq, through a joined client's history."""
    history = await client.history(room, limit=1)
    return history[-1]["seq"] if history else 0


async def test_join_gives_the_last_10_oldest_first(cluster):
    sue = await cluster.login("Sue", gateway=0)
    await sue.join("Quite Interesting")
    texts = ["message %d of 15" % i for i in range(1, 16)]
    seqs = await sue.say_many(texts, room="Quite Interesting")
    assert_contiguous(seqs, what="acked seqs of one connection's says")

    sandy = await cluster.login("Sandy", gateway=1)
    reply = await sandy.join("Quite Interesting")
    got = [(m["seq"], m["from"], m["text"]) for m in reply["history"]]
    expected = [(seq, "Sue", text) for seq, text in zip(seqs, texts)][-10:]
    assert got == expected, "join history %r, expected the last 10: %r" % (got, expected)


async def test_join_on_an_empty_room_gives_empty_history_and_pushes_from_1(cluster):
    #  No other test in this module says in "8 out of 10 cats" before this
    alex = await cluster.login("Alex", gateway=1)
    reply = await alex.join("8 out of 10 cats")
    assert reply["history"] == [], "history of a room nobody spoke in: %r" % (reply,)
    seq = await alex.say("first!", room="8 out of 10 cats")
    assert seq == 1, "first message of a room has seq %d" % seq
    message = await alex.next_message()
    assert (message["room"], message["seq"], message["text"]) == \
        ("8 out of 10 cats", 1, "first!"), "pushed %r" % (message,)


async def test_join_since_gives_what_came_after(cluster):
    sue = await cluster.login("Sue", gateway=1)
    base = seq_of(await sue.join("Taskmaster"))
    texts = ["since %d" % i for i in range(15)]
    seqs = await sue.say_many(texts)
    assert seqs == list(range(base + 1, base + 16)), "acked %r after %d" % (seqs, base)

    alex = await cluster.login("Alex", gateway=0)
    reply = await alex.join("Taskmaster", since=base + 5)
    got = [(m["seq"], m["text"]) for m in reply["history"]]
    assert got == list(zip(seqs[5:], texts[5:])), \
        "join since %d gave %r" % (base + 5, got)
    assert reply.get("complete") is True, "complete of a full since reply: %r" % (
        reply.get("complete"),)

    #  Since the newest seq: nothing, and complete
    reply = await alex.join("Taskmaster", since=seqs[-1])
    assert reply["history"] == [] and reply.get("complete") is True, \
        "join since the newest seq: %r" % (reply,)
    #  Pushes go on from there, without a duplicate
    seq = await sue.say("after the since joins")
    message = await alex.next_message()
    assert message["seq"] == seq == seqs[-1] + 1, \
        "first push after join since: %r (acked %d)" % (message, seq)


async def test_join_since_caps_at_1000_and_says_incomplete():
    async with Cluster(gateway_args=UNLIMITED) as cluster:
        sue = await cluster.login("Sue", gateway=0)
        base = seq_of(await sue.join("Taskmaster"))
        texts = ["bulk %d" % i for i in range(1005)]
        seqs = await sue.say_many(texts, window=100)
        assert seqs == list(range(base + 1, base + 1006)), "acked seqs not contiguous"

        sandy = await cluster.login("Sandy", gateway=1)
        reply = await sandy.join("Taskmaster", since=base)
        history = reply["history"]
        assert len(history) == 1000, "join since with 1005 missing gave %d" % len(history)
        assert [m["seq"] for m in history] == seqs[:1000], "the first 1000, oldest first"
        assert [m["text"] for m in history] == texts[:1000]
        assert reply.get("complete") is False, "complete: %r with 5 left out" % (
            reply.get("complete"),)

        reply = await sandy.join("Taskmaster", since=history[-1]["seq"])
        assert [m["seq"] for m in reply["history"]] == seqs[1000:], \
            "the rest: %r" % [m["seq"] for m in reply["history"]]
        assert reply.get("complete") is True


def check_stream(client, room, known):
    """Asserts that, in arrival order, `client` was given every message of
    `room` after seq `known` once: each push is the one after everything it
    had (pushed or in a join reply's history), never a gap, never again."""
    have = known
    for obj in client.timeline:
        if obj["op"] == "message" and obj["room"] == room:
            assert obj["seq"] == have + 1, \
                "%s: pushed seq %d when it had up to %d" % (client.name, obj["seq"], have)
            have = obj["seq"]
        elif obj["op"] == "ok" and obj.get("room") == room and obj.get("history"):
            have = max(have, obj["history"][-1]["seq"])
    return have


async def test_join_again_gives_a_fresh_reply_and_no_duplicates(cluster):
    alex = await cluster.login("Alex", gateway=0)
    first = await alex.join("Taskmaster")
    base = seq_of(first)
    sue = await cluster.login("Sue", gateway=1)
    await sue.join("Taskmaster")
    seqs = await sue.say_many(["before rejoin %d" % i for i in range(3)])

    #  Wait until the pushes are in, then join again
    pushed = await alex.messages_until("Taskmaster", seqs[-1])
    again = await alex.join("Taskmaster")
    assert [m["seq"] for m in again["history"]][-3:] == seqs, \
        "rejoin history does not end with the new messages: %r" % again["history"]
    assert len(again["history"]) == min(10, seqs[-1]), \
        "rejoin history holds %d messages" % len(again["history"])
    assert again["history"][-3:] == pushed[-3:], \
        "rejoin history differs from what was pushed"

    #  Pushes go on, with no duplicate of what came before
    more = await sue.say_many(["after rejoin %d" % i for i in range(3)])
    await alex.messages_until("Taskmaster", more[-1])
    assert check_stream(alex, "Taskmaster", base) == more[-1]

    #  Also when rejoins cross messages being said
    for round in range(5):
        ident = await sue.send_request("say", room="Taskmaster", text="during %d" % round)
        await alex.join("Taskmaster")
        reply = await sue.reply(ident)
        assert reply["op"] == "ok", "say during a rejoin: %r" % (reply,)
    seq = await sue.say("last")
    await alex.messages_until("Taskmaster", seq)
    assert check_stream(alex, "Taskmaster", base) == seq
    await alex.expect_no_message(0.3)


async def test_history_pages_back_to_seq_1(cluster):
    sandy = await cluster.login("Sandy", gateway=1)
    await sandy.join("Quite Interesting")
    texts = ["page %d" % i for i in range(25)]
    seqs = await sandy.say_many(texts, room="Quite Interesting")
    newest = seqs[-1]

    latest = await sandy.history("Quite Interesting")
    assert [m["seq"] for m in latest] == list(range(newest - 9, newest + 1)), \
        "history without before/limit: %r" % [m["seq"] for m in latest]
    page = await sandy.history("Quite Interesting", before=newest - 9, limit=5)
    assert [m["seq"] for m in page] == list(range(newest - 14, newest - 9)), \
        "history before %d limit 5: %r" % (newest - 9, [m["seq"] for m in page])
    assert [m["text"] for m in page] == texts[-15:-10]
    page = await sandy.history("Quite Interesting", before=newest - 9)
    assert [m["seq"] for m in page] == list(range(newest - 19, newest - 9)), \
        "default limit is 10: %r" % [m["seq"] for m in page]

    #  Walk back to the start with an odd page size
    collected = []
    before = newest + 1
    while True:
        page = await sandy.history("Quite Interesting", before=before, limit=7)
        if not page:
            break
        assert len(page) <= 7
        seqs_of_page = [m["seq"] for m in page]
        assert_contiguous(seqs_of_page, what="one history page")
        assert seqs_of_page[-1] == before - 1, \
            "page before %d ends at %d" % (before, seqs_of_page[-1])
        collected = page + collected
        before = seqs_of_page[0]
    assert_contiguous([m["seq"] for m in collected], 1, "all pages")
    assert collected[-1]["seq"] == newest
    assert [m["text"] for m in collected[-25:]] == texts
    #  Before 1 and before 2 are the edges
    assert await sandy.history("Quite Interesting", before=1) == []
    page = await sandy.history("Quite Interesting", before=2)
    assert [m["seq"] for m in page] == [1]


async def test_leave_stops_pushes(cluster):
    leaver = await cluster.login("Alex", gateway=0)
    witness = await cluster.login("Sue", gateway=0)
    speaker = await cluster.login("Sandy", gateway=1)
    for client in (leaver, witness, speaker):
        await client.join("Taskmaster")
    seq = await speaker.say("everyone hears this")
    for client in (leaver, witness):
        message = await client.next_message()
        assert message["seq"] == seq, "%s got %r" % (client.name, message)

    reply = await leaver.call("leave", room="Taskmaster")
    assert reply["op"] == "ok"
    seqs = await speaker.say_many(["only the witness hears %d" % i for i in range(5)])
    got = await witness.messages_until("Taskmaster", seqs[-1])
    assert [m["seq"] for m in got] == seqs
    await leaver.expect_no_message(0.5)
    await leaver.expect_error("not_in_room", "say", room="Taskmaster", text="x")

    #  Joining again brings pushes back
    await leaver.join("Taskmaster")
    seq = await speaker.say("welcome back")
    message = await leaver.next_message()
    assert (message["seq"], message["text"]) == (seq, "welcome back"), \
        "after rejoin, pushed %r (acked %d)" % (message, seq)


async def test_several_rooms_at_once(cluster):
    sue = await cluster.login("Sue", gateway=1)
    alex = await cluster.login("Alex", gateway=1)
    await sue.join("Taskmaster")
    await sue.join("Quite Interesting")
    await alex.join("Taskmaster")
    interesting = await sue.say("in QI", room="Quite Interesting")
    task = await alex.say("in Taskmaster", room="Taskmaster")
    got = {}
    for _ in range(2):
        message = await sue.next_message()
        got[message["room"]] = (message["seq"], message["text"])
    assert got == {"Quite Interesting": (interesting, "in QI"),
                   "Taskmaster": (task, "in Taskmaster")}, "Sue got %r" % got
    message = await alex.next_message()
    assert (message["room"], message["seq"]) == ("Taskmaster", task), \
        "Alex got %r" % (message,)
    #  Alex is not in Quite Interesting: a later message there is not his
    interesting = await sue.say("still QI", room="Quite Interesting")
    message = await sue.next_message()
    assert (message["room"], message["seq"]) == ("Quite Interesting", interesting)
    await alex.expect_no_message(0.3)


async def test_text_round_trips_exactly(cluster):
    texts = ["  leading and trailing spaces  ",
             "tab\there\tand\ttrailing tab\t",
             "line one\nline two\r\nline three\n",
             "\n\tindented after a newline",
             "unicode: héllo wörld ✓ 日本語 Ελληνικά עברית",
             "emoji: 😀🎉👩‍👩‍👧 and a flag 🇫🇷",
             "combining: e\u0301 a\u0308",
             "quotes \" and 'apostrophes' and backslash \\ and slash /",
             "json-ish: {\"op\":\"say\",\"id\":1}",
             "control-ish: \u0001\u001f\u007f \u2028\u2029 \ufeff",
             "x",
             "é" * 2048]
    sender = await cluster.login("Sue", gateway=0)
    receiver = await cluster.login("Sandy", gateway=1)
    await sender.join("Taskmaster")
    await receiver.join("Taskmaster")
    seqs = []
    for index, text in enumerate(texts):
        #  Half as escapes, half as raw UTF-8: both are the same JSON string
        reply = await sender.request("say", ensure_ascii=index % 2 == 0,
                                     room="Taskmaster", text=text)
        assert reply["op"] == "ok", "say %r: %r" % (text, reply)
        seqs.append(reply["seq"])
    got = await receiver.messages_until("Taskmaster", seqs[-1])
    assert [m["text"] for m in got] == texts, "pushed texts differ: %r" % (
        [(m["text"], t) for m, t in zip(got, texts) if m["text"] != t],)
    history = await receiver.history("Taskmaster", before=seqs[-1] + 1, limit=len(texts))
    assert [m["text"] for m in history] == texts, "history texts differ: %r" % (
        [(m["text"], t) for m, t in zip(history, texts) if m["text"] != t],)


async def test_reconnect_with_token_and_since_misses_nothing(cluster):
    alex = await cluster.login("Alex", gateway=0)
    base = seq_of(await alex.join("Taskmaster"))
    sue = await cluster.login("Sue", gateway=1)
    await sue.join("Taskmaster")
    first = await sue.say_many(["before the drop %d" % i for i in range(3)])
    got = await alex.messages_until("Taskmaster", first[-1])
    last_seen = got[-1]["seq"]
    token = alex.token
    await alex.close()

    missed = await sue.say_many(["while away %d" % i for i in range(4)])
    back = await cluster.client(1)
    reply = await back.call("login", token=token)
    assert reply.get("user") == "Alex"
    reply = await back.join("Taskmaster", since=last_seen)
    assert [m["seq"] for m in reply["history"]] == missed, \
        "join since %d after reconnect: %r, expected %r" % (
            last_seen, [m["seq"] for m in reply["history"]], missed)
    assert reply.get("complete") is True
    seq = await sue.say("back again")
    message = await back.next_message()
    assert message["seq"] == seq == missed[-1] + 1, "pushed %r after since join" % (message,)
    assert first[0] == base + 1
