"""test_nonce.py: say with a nonce is stored exactly once (protocol v1.1).

A say repeated with the same nonce, room and user stores nothing and gets
the first one's seq: on the same connection, on another gateway, after a
broker restart, when the first reply was lost, and when both arrive
together. The same nonce with another text is `conflict`; another user's
or another room's nonce is theirs. The 24 hours after which a nonce is
forgotten are the store's self-test (gc_store), with made-up clocks.
"""

import itertools

from harness import GENERATION, Cluster, seq_of

_NONCES = itertools.count(1)


def fresh(what):
    """A nonce and a text no other test uses."""
    number = next(_NONCES)
    return "%s-%d" % (what, number), "%s, said once (%d)" % (what, number)


async def in_room(cluster, user, gateway, room="Taskmaster"):
    """A client of user on gateway, joined to room."""
    client = await cluster.login(user, gateway=gateway)
    await client.join(room)
    return client


async def stored_once(client, text, room="Taskmaster"):
    """Asserts the room holds text exactly once; returns its seq."""
    history = await client.history(room, limit=100)
    seqs = [m["seq"] for m in history if m["text"] == text]
    assert len(seqs) == 1, "%r stored %d times: %r" % (text, len(seqs), seqs)
    return seqs[0]


async def pushed_once(client, text, seq, room="Taskmaster"):
    """Asserts the client was pushed text once, up to a newer message said
    after it (so that a second push would have come first)."""
    later = await client.call("say", room=room, text="after " + text)
    got = await client.messages_until(room, later["seq"])
    assert [m["seq"] for m in got if m["text"] == text] == [seq], \
        "pushes of %r: %r" % (text, got)


async def test_a_repeated_say_stores_nothing_and_gets_the_same_seq(cluster):
    sue = await in_room(cluster, "Sue", 0)
    alex = await in_room(cluster, "Alex", 1)
    nonce, text = fresh("repeat")
    first = await sue.call("say", room="Taskmaster", text=text, nonce=nonce)
    again = await sue.call("say", room="Taskmaster", text=text, nonce=nonce)
    assert (again["seq"], again.get("ts")) == (first["seq"], first.get("ts")), \
        "first %r, repeated %r" % (first, again)
    assert await stored_once(sue, text) == first["seq"]
    await pushed_once(alex, text, first["seq"])
    await pushed_once(sue, text, first["seq"])


async def test_a_say_retried_on_another_gateway_gets_the_same_seq(cluster):
    first_gateway = await in_room(cluster, "Sandy", 0)
    other_gateway = await in_room(cluster, "Sandy", 1)
    nonce, text = fresh("elsewhere")
    seq = (await first_gateway.call("say", room="Taskmaster", text=text, nonce=nonce))["seq"]
    again = await other_gateway.call("say", room="Taskmaster", text=text, nonce=nonce)
    assert again["seq"] == seq, "retried on gateway 1: %r, first seq %d" % (again, seq)
    assert await stored_once(other_gateway, text) == seq
    await pushed_once(other_gateway, text, seq)


async def test_the_same_nonce_with_another_text_is_a_conflict(cluster):
    sue = await cluster.login("Sue", gateway=0)
    head = seq_of(await sue.join("Taskmaster"))
    nonce, text = fresh("conflict")
    seq = (await sue.call("say", room="Taskmaster", text=text, nonce=nonce))["seq"]
    assert seq == head + 1
    await sue.expect_error("conflict", "say", room="Taskmaster", text=text + "!", nonce=nonce)
    await sue.expect_error("conflict", "say", room="Taskmaster", text=text.upper(), nonce=nonce)
    await stored_once(sue, text)
    history = await sue.history("Taskmaster", limit=5)
    assert history[-1]["seq"] == seq and history[-1]["text"] == text, \
        "stored after the conflicts: %r" % history[-1:]
    await pushed_once(sue, text, seq)


async def test_a_nonce_is_the_users_and_the_rooms_own(cluster):
    sue = await in_room(cluster, "Sue", 0)
    alex = await in_room(cluster, "Alex", 1)
    await sue.join("Quite Interesting")
    nonce, text = fresh("own")
    seqs = [(await sue.call("say", room="Taskmaster", text=text, nonce=nonce))["seq"],
            (await alex.call("say", room="Taskmaster", text=text, nonce=nonce))["seq"]]
    assert seqs[1] == seqs[0] + 1, "another user's nonce: %r" % seqs
    other_room = await sue.call("say", room="Quite Interesting", text=text, nonce=nonce)
    assert await stored_once(sue, text, "Quite Interesting") == other_room["seq"]
    history = await sue.history("Taskmaster", limit=100)
    assert [(m["seq"], m["from"]) for m in history if m["text"] == text] == \
        [(seqs[0], "Sue"), (seqs[1], "Alex")]


async def test_a_nonce_must_be_a_string_of_1_to_64_bytes(cluster):
    sue = await cluster.login("Sue", gateway=0)
    head = seq_of(await sue.join("Taskmaster"))
    for nonce in ("", "n" * 65, "é" * 33, 42, None, ["n"], {"n": 1}):
        await sue.expect_error("bad_request", "say", room="Taskmaster", text="bad nonce",
                               nonce=nonce)
    #  64 bytes, however many characters
    for nonce in ("n" * 64, "é" * 32, "😀" * 16):
        head += 1
        reply = await sue.call("say", room="Taskmaster", text="good nonce", nonce=nonce)
        assert reply["seq"] == head, "nonce %r: %r" % (nonce, reply)
    history = await sue.history("Taskmaster", limit=10)
    assert [m["text"] for m in history].count("bad nonce") == 0


async def test_says_with_one_nonce_sent_together_store_one_message(cluster):
    sue = await in_room(cluster, "Sue", 0)
    nonce, text = fresh("together")
    idents = [await sue.send_request("say", room="Taskmaster", text=text, nonce=nonce)
              for _ in range(4)]
    other = await sue.send_request("say", room="Taskmaster", text=text + "?", nonce=nonce)
    seqs = {(await sue.ok_reply(ident))["seq"] for ident in idents}
    assert len(seqs) == 1, "one nonce, seqs %r" % seqs
    conflict = await sue.reply(other)
    assert conflict["op"] == "error" and conflict.get("code") == "conflict", conflict
    assert await stored_once(sue, text) == seqs.pop()


async def test_says_with_one_nonce_in_one_batch_at_the_broker(cluster):
    """Sent back to back on one link, the broker reads them in one turn
    and commits them together: the first is stored, the others answered
    with its seq once it is."""
    link = cluster.broker_link()
    nonce, text = fresh("batch")
    say = {"user": "Sue", "room": "Taskmaster", "text": text, "nonce": nonce,
           "generation": GENERATION}
    rids = [link.send("say", **say) for _ in range(8)]
    rids.append(link.send("say", **dict(say, text="other")))
    replies = {}
    for _ in rids:
        reply = await link.reply()
        replies[reply["rid"]] = reply
    assert {replies[rid]["op"] for rid in rids[:-1]} == {"ok"}, replies
    assert len({replies[rid]["seq"] for rid in rids[:-1]}) == 1, replies
    assert replies[rids[-1]].get("code") == "conflict", replies[rids[-1]]
    sue = await in_room(cluster, "Sue", 1)
    assert await stored_once(sue, text) == replies[rids[0]]["seq"]


async def repeated(cluster):
    """The broker's count of says answered from a stored nonce."""
    stats = (await cluster.broker_link("admin").request("stats"))["text"]
    for line in stats.splitlines():
        if line.startswith("groupchat_broker_says_repeated_total "):
            return int(float(line.split()[1]))
    raise AssertionError("no says_repeated in %r" % stats)


async def test_a_say_whose_reply_was_lost_gets_the_same_seq(cluster):
    before = await repeated(cluster)
    lost = cluster.broker_link()
    nonce, text = fresh("lost")
    say = {"user": "Sue", "room": "Taskmaster", "text": text, "nonce": nonce,
           "generation": GENERATION}
    first = await lost.request("say", **say)
    assert first["op"] == "ok", first
    lost.close()                # as a gateway that died before passing it on
    retry = cluster.broker_link()
    again = await retry.request("say", **say)
    assert (again["op"], again["seq"], again["ts"]) == ("ok", first["seq"], first["ts"]), \
        "first %r, retried %r" % (first, again)
    assert await repeated(cluster) == before + 1
    sue = await in_room(cluster, "Sue", 0)
    assert await stored_once(sue, text) == first["seq"]


async def test_a_nonce_outlives_a_broker_restart():
    async with Cluster() as cluster:
        sue = await in_room(cluster, "Sue", 0)
        nonce, text = fresh("restart")
        seq = (await sue.call("say", room="Taskmaster", text=text, nonce=nonce))["seq"]
        await cluster.stop_broker()
        await cluster.start_broker()
        await sue.until_available()
        again = await sue.call("say", room="Taskmaster", text=text, nonce=nonce)
        assert again["seq"] == seq, "after the restart: %r, first seq %d" % (again, seq)
        elsewhere = await in_room(cluster, "Sue", 1)
        await elsewhere.expect_error("conflict", "say", room="Taskmaster", text="other",
                                     nonce=nonce)
        assert await stored_once(elsewhere, text) == seq
