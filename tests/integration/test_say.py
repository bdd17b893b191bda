"""test_say.py: say, its limits, and pipelined requests.

The text limit is 4096 bytes of UTF-8, not characters; empty or blank text
is refused but text is stored exactly as sent. Requests on one connection
are done and answered in the order they arrived, even when the client
does not wait for one reply before sending the next request.
"""

import json

from harness import Cluster, seq_of

#  Tests that flood on purpose run their own gateway without a rate limit
UNLIMITED = ["--rate-limit", "0"]


async def test_say_acks_with_the_next_seq_and_pushes_to_the_sender(cluster):
    sue = await cluster.login("Sue", gateway=0)
    base = seq_of(await sue.join("Taskmaster"))
    reply = await sue.call("say", room="Taskmaster", text="hello")
    assert reply.get("seq") == base + 1, "say reply %r after seq %d" % (reply, base)
    seq = await sue.say("again")
    assert seq == base + 2
    for expected, text in ((base + 1, "hello"), (base + 2, "again")):
        message = await sue.next_message()
        assert (message["room"], message["seq"], message["from"], message["text"]) == \
            ("Taskmaster", expected, "Sue", text), "pushed %r" % (message,)


async def test_too_long_counts_utf8_bytes(cluster):
    sandy = await cluster.login("Sandy", gateway=1)
    await sandy.join("Taskmaster")
    accepted = ["a" * 4096,
                "é" * 2048,                     # 2 bytes each: 4096
                "😀" * 1024,                    # 4 bytes each: 4096
                "€" * 1365 + "a"]               # 3 bytes each: 4095 + 1
    refused = ["a" * 4097,
               "é" * 2048 + "a",                # 4097 bytes, 2049 characters
               "😀" * 1024 + "a",               # 4097 bytes, 1025 characters
               "€" * 1366,                      # 4098 bytes, 1366 characters
               "a" * 20000]
    for text in accepted:
        assert len(text.encode()) <= 4096
    for text in refused:
        assert len(text.encode()) > 4096
    seqs = []
    for index, text in enumerate(accepted + refused):
        for ensure_ascii in (False, True):
            reply = await sandy.request("say", ensure_ascii=ensure_ascii,
                                        room="Taskmaster", text=text)
            if text in accepted:
                assert reply["op"] == "ok", "%d bytes refused: %r" % (
                    len(text.encode()), reply)
                seqs.append(reply["seq"])
            else:
                assert reply["op"] == "error" and reply.get("code") == "too_long", \
                    "%d bytes (%d characters): %r" % (len(text.encode()), len(text), reply)
    #  Exactly the accepted texts were stored and pushed
    got = await sandy.messages_until("Taskmaster", seqs[-1])
    expected = [text for text in accepted for _ in (0, 1)]
    assert [m["text"] for m in got] == expected, "pushed texts differ from the accepted"
    assert [m["seq"] for m in got] == seqs


async def test_empty_or_blank_text_is_refused_and_text_is_never_trimmed(cluster):
    alex = await cluster.login("Alex", gateway=0)
    await alex.join("Taskmaster")
    for text in ("", " ", " \t\r\n", "\n\n", "\t"):
        await alex.expect_error("empty_text", "say", room="Taskmaster", text=text)
    seq = await alex.say("  x  \n")
    message = await alex.next_message()
    assert (message["seq"], message["text"]) == (seq, "  x  \n"), \
        "text was changed: %r" % (message,)
    #  Other white space is text, not blank
    seq = await alex.say("\u00a0")
    message = await alex.next_message()
    assert (message["seq"], message["text"]) == (seq, "\u00a0"), "pushed %r" % (message,)


async def test_join_then_say_without_waiting(cluster):
    sue = await cluster.login("Sue", gateway=1)
    join = await sue.send_request("join", room="Taskmaster")
    say = await sue.send_request("say", room="Taskmaster", text="right after join")
    join_reply = await sue.reply(join)
    say_reply = await sue.reply(say)
    assert join_reply["op"] == "ok", "pipelined join: %r" % (join_reply,)
    assert say_reply["op"] == "ok", "say pipelined after join: %r" % (say_reply,)
    assert sue.reply_ids[-2:] == [join, say], "replies out of order: %r" % sue.reply_ids
    assert seq_of(join_reply) < say_reply["seq"]
    message = await sue.next_message()
    assert (message["seq"], message["text"]) == (say_reply["seq"], "right after join"), \
        "pushed %r" % (message,)


async def test_everything_pipelined_from_login_on(cluster):
    client = await cluster.client(0)
    frames = [{"op": "login", "id": 1, "user": "Alex", "password": "password"},
              {"op": "rooms", "id": 2},
              {"op": "join", "id": 3, "room": "Taskmaster"},
              {"op": "say", "id": 4, "room": "Taskmaster", "text": "one"},
              {"op": "history", "id": 5, "room": "Taskmaster", "limit": 2},
              {"op": "say", "id": 6, "room": "Taskmaster", "text": "two"},
              {"op": "nonsense", "id": 7},
              {"op": "say", "id": 8, "room": "Nowhere", "text": "three"},
              {"op": "leave", "id": 9, "room": "Taskmaster"},
              {"op": "say", "id": 10, "room": "Taskmaster", "text": "four"},
              {"op": "join", "id": 11, "room": "Taskmaster"},
              {"op": "say", "id": 12, "room": "Taskmaster", "text": "five"}]
    #  Back to back, without waiting for any reply
    for frame in frames:
        await client.ws.send(json.dumps(frame))
    replies = [await client.next_reply() for _ in frames]
    assert [r.get("id") for r in replies] == [f["id"] for f in frames], \
        "replies out of order: %r" % [r.get("id") for r in replies]
    outcome = [r["op"] if r["op"] == "ok" else r.get("code") for r in replies]
    assert outcome == ["ok", "ok", "ok", "ok", "ok", "ok", "bad_request", "not_in_room",
                       "ok", "not_in_room", "ok", "ok"], "outcomes: %r" % outcome
    one, two, five = replies[3]["seq"], replies[5]["seq"], replies[11]["seq"]
    assert one < two < five
    assert [m["seq"] for m in replies[4]["history"]][-1] == one, \
        "history after a pipelined say does not end with it: %r" % replies[4]
    #  "one" and "two" may or may not be pushed before the leave; after the
    #  leave nothing is, and after the rejoin nothing its history held
    rejoin = replies[10]["history"]
    assert [m["text"] for m in rejoin][-2:] == ["one", "two"], \
        "rejoin history: %r" % rejoin
    got = await client.messages_until("Taskmaster", five)
    texts = [m["text"] for m in got]
    assert texts[-1] == "five" and "four" not in texts, "pushed %r" % texts
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(set(seqs)), "pushes out of order or twice: %r" % seqs
    position = client.timeline.index(replies[10])
    after_rejoin = [o for o in client.timeline[position:] if o["op"] == "message"]
    assert [m["seq"] for m in after_rejoin] == [five], \
        "pushed after the rejoin: %r" % after_rejoin


async def test_say_acks_increase_under_pipelining():
    async with Cluster(gateways=1, gateway_args=UNLIMITED) as cluster:
        sandy = await cluster.login("Sandy", gateway=0)
        base = seq_of(await sandy.join("Quite Interesting"))
        seqs = await sandy.say_many(["burst %d" % i for i in range(200)],
                                    room="Quite Interesting", window=200)
        assert seqs == list(range(base + 1, base + 201)), \
            "pipelined says from one connection are stored in order"
        got = await sandy.messages_until("Quite Interesting", seqs[-1])
        assert [m["text"] for m in got] == ["burst %d" % i for i in range(200)]


async def test_frames_of_every_size_arrive_whole_and_in_order(cluster):
    """The gateway frames each message once and sends a connection's ready
    frames together in one write: short pushes, pushes over 125 bytes and
    a history reply over 64 KiB (the three WebSocket header sizes) all
    reach a strict client whole and in order."""
    sue = await cluster.login("Sue", gateway=1)
    await sue.join("Taskmaster")
    texts = (["s%d" % i for i in range(40)]
             + ["m" * 300 + str(i) for i in range(20)]
             + ["l" * 4000 + str(i) for i in range(20)])
    seqs = await sue.say_many(texts)
    got = await sue.messages_until("Taskmaster", seqs[-1])
    assert [m["text"] for m in got] == texts
    assert [m["seq"] for m in got] == seqs
    history = await sue.history("Taskmaster", limit=100)
    assert len(json.dumps(history)) > 65536, "the history reply is not over 64 KiB"
    assert [m["text"] for m in history][-len(texts):] == texts


async def test_a_client_far_ahead_of_its_replies_is_paused_not_lost():
    """A gateway stops reading a connection with 256 requests queued and
    reads on once half are answered: a client that keeps 600 says in
    flight is slowed down, and every say is stored and answered (1,500 of
    them, on a gateway without a rate limit)."""
    async with Cluster(gateways=1, gateway_args=UNLIMITED) as cluster:
        sue = await cluster.login("Sue", gateway=0)
        base = seq_of(await sue.join("8 out of 10 cats"))
        texts = ["ahead %d" % i for i in range(1500)]
        seqs = await sue.say_many(texts, room="8 out of 10 cats", window=600)
        assert seqs == list(range(base + 1, base + 1501))
        got = await sue.messages_until("8 out of 10 cats", seqs[-1])
        assert [m["text"] for m in got] == texts
