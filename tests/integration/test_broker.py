"""test_broker.py: the broker spoken to directly, in its own protocol
(docs/broker-protocol.md), as anything that reaches its ports can: what
it checks for itself rather than trusting a gateway to have checked, and
what one peer can cost it.
"""

import asyncio
import os

import msgpack

from harness import GENERATION, Cluster, deadline
from harness.broker import never_reading_subscriber

#  A subscriber that never reads while this many texts of TEXT_BYTES are
#  said: 80 MB of events, twice what the bound lets the broker keep for it
STUCK_MESSAGES = 20000
TEXT_BYTES = 4000
#  The broker keeps at most GC_BROKER_PUB_HWM (4096) events for one
#  subscriber, about 17 MB of these; without a bound it kept them all
#  and grew by more than 80 MB
RSS_GROWTH_MAX = 40 << 20
#  Under AddressSanitizer (redzones, shadow) or valgrind the same events
#  cost about twice as much: still well below keeping them all
RSS_GROWTH_MAX_INSTRUMENTED = 64 << 20


#  GC_LINK_MESSAGE_MAX: twice GC_SINCE_MAX messages of GC_TEXT_MAX, the
#  longest names and 64 bytes each
LINK_MESSAGE_MAX = 2 * 1000 * (4096 + 2 * 256 + 64)


def requests_link(cluster):
    """A link with the cluster's gateway key, as a gateway would have."""
    return cluster.broker_link()


async def test_history_is_for_members_only_whoever_asks(cluster):
    link = requests_link(cluster)
    sue = await cluster.login("Sue")
    await sue.join("8 out of 10 cats")
    seq = await sue.say("only for members", room="8 out of 10 cats")
    #  A member gets it; the same request naming a non-member is refused
    #  with the code a client gets for the same thing (protocol.md)
    reply = await link.request("history", user="Alex", room="8 out of 10 cats", limit=5,
                               generation=GENERATION)
    assert reply["op"] == "ok", reply
    assert reply["history"][-1]["seq"] == seq, reply
    assert reply["history"][-1]["text"] == "only for members", reply
    for request in ({"before": seq + 1}, {"since": 0}):
        reply = await link.request("history", room="8 out of 10 cats", user="Sandy",
                                   generation=GENERATION, **request)
        assert (reply["op"], reply["code"]) == ("error", "not_member"), (request, reply)
        assert "history" not in reply, reply
    #  The same check as a join's: an unknown room, a request naming no one
    reply = await link.request("join", user="Sandy", room="8 out of 10 cats",
                               generation=GENERATION)
    assert reply["code"] == "not_member", reply
    reply = await link.request("history", user="Sandy", room="Nowhere", generation=GENERATION)
    assert reply["code"] == "no_such_room", reply
    reply = await link.request("history", room="8 out of 10 cats")
    assert reply["code"] == "bad_request", reply


async def test_a_login_that_is_over_is_refused_whatever_it_asks(cluster):
    """The broker decides whether a login still holds, from the generation
    every request for a user carries: another generation than the user's
    (the password was set since, or the name removed and added again), or
    none, or a user who is gone, is not_logged_in, before anything else
    (room, membership) is looked at."""
    link = requests_link(cluster)
    for op, fields in (("history", {"room": "8 out of 10 cats"}), ("join", {"room": "Taskmaster"}),
                       ("say", {"room": "Taskmaster", "text": "from a login that is over"}),
                       ("rooms", {})):
        for login in ({"user": "Alex", "generation": GENERATION + 1}, {"user": "Alex"},
                      {"user": "Nobody", "generation": GENERATION}):
            reply = await link.request(op, **fields, **login)
            assert (reply["op"], reply.get("code")) == ("error", "not_logged_in"), (op, login, reply)
    reply = await link.request("rooms", user="Alex", generation=GENERATION)
    assert reply["rooms"] == ["8 out of 10 cats", "Taskmaster"], reply


async def test_strings_no_client_could_send_are_refused_and_change_nothing(cluster):
    """msgpack's str is UTF-8 and no string of the client protocol holds
    U+0000: the broker answers bad_request to a request with any other
    string, as a gateway does to such a frame, and stores nothing of it."""
    link = requests_link(cluster)
    head = (await link.request("join", user="Sue", room="Taskmaster",
                               generation=GENERATION))["head"]
    say = {"user": "Sue", "room": "Taskmaster", "text": "fine", "generation": GENERATION}
    for fields in ({"text": b"caf\xe9"}, {"text": b"\xed\xa0\x80"}, {"text": b"\xc0\xaf"},
                   {"text": "a\0b"}, {"user": b"Su\xe9"}, {"room": b"Taskmaster\xff"}):
        reply = await link.request("say", **dict(say, **fields))
        assert (reply["op"], reply["code"]) == ("error", "bad_request"), (fields, reply)
    reply = await link.request("login", user=b"Al\xe9x", password="password")
    assert (reply["op"], reply["code"]) == ("error", "bad_request"), reply
    reply = await link.request("join", user="Sue", room="Taskmaster", generation=GENERATION)
    assert reply["head"] == head, "something was stored: %r" % reply
    #  The same in UTF-8 is said
    reply = await link.request("say", **dict(say, text="caf\u00e9 \U0001f600"))
    assert reply["op"] == "ok" and reply["seq"] == head + 1, reply


async def test_a_field_of_the_wrong_type_is_answered_bad_request_at_once(cluster):
    """A request that does not decode (a field of the wrong type, an
    unknown op) but whose rid can be read is answered bad_request, so that
    the gateway that sent it need not wait for its deadline; nothing of it
    is stored."""
    link = requests_link(cluster)
    head = (await link.request("join", user="Sue", room="Taskmaster",
                               generation=GENERATION))["head"]
    say = {"user": "Sue", "room": "Taskmaster", "text": "fine", "generation": GENERATION}
    for fields in ({"text": 42}, {"room": ["Taskmaster"]}, {"generation": "one"},
                   {"deadline": {"at": 1}}):
        reply = await asyncio.wait_for(link.request("say", **dict(say, **fields)), deadline(1.0))
        assert (reply["op"], reply["code"]) == ("error", "bad_request"), (fields, reply)
    reply = await asyncio.wait_for(link.request("no such op"), deadline(1.0))
    assert (reply["op"], reply["code"]) == ("error", "bad_request"), reply
    reply = await link.request("join", user="Sue", room="Taskmaster", generation=GENERATION)
    assert reply["head"] == head, "something was stored: %r" % reply


async def test_a_message_larger_than_the_link_takes_is_never_read(cluster):
    """The broker's sockets take messages of GC_LINK_MESSAGE_MAX bytes at
    most (ZMQ_MAXMSGSIZE): a peer that sends more is cut off by ZeroMQ as
    the message's header arrives, and the broker never reads the message,
    where it used to buffer it whole and answer too_long."""
    big, other = requests_link(cluster), requests_link(cluster)
    head = (await other.request("join", user="Sue", room="Taskmaster",
                                generation=GENERATION))["head"]
    big.send("say", user="Sue", room="Taskmaster", text="x" * LINK_MESSAGE_MAX,
             generation=GENERATION)
    assert (await other.request("ping"))["op"] == "ok"
    try:
        reply = await asyncio.wait_for(big.reply(), deadline(2.0))
        raise AssertionError("the broker read a message over the bound: %r" % reply)
    except asyncio.TimeoutError:
        pass
    reply = await other.request("join", user="Sue", room="Taskmaster", generation=GENERATION)
    assert reply["head"] == head, "something was stored: %r" % reply


async def test_members_history_through_a_gateway_still_works(cluster):
    """The gateway names its client's user in every history request, its
    own gap refills and catch-ups included."""
    sandy = await cluster.login("Sandy", gateway=1)
    await sandy.join("Quite Interesting")
    seqs = await sandy.say_many(["page %d" % i for i in range(3)], room="Quite Interesting")
    page = await sandy.history(room="Quite Interesting", before=seqs[-1] + 1, limit=3)
    assert [message["seq"] for message in page] == seqs, page


async def test_a_subscriber_that_never_reads_costs_the_broker_a_bounded_amount():
    #  A small ASan quarantine, so that freed memory is not counted as growth
    asan = (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4").lstrip(":")
    async with Cluster(gateways=0, broker_env={"ASAN_OPTIONS": asan}) as cluster:
        link = requests_link(cluster)
        events = "tcp://127.0.0.1:%d" % cluster.events_port
        stuck = await never_reading_subscriber(events, "Taskmaster", cluster.key_folder("gateway"))
        text = "x" * TEXT_BYTES
        warm = await link.say_many("Sue", "Taskmaster", [text] * 200)
        baseline = cluster.broker.rss()
        seqs = await link.say_many("Sue", "Taskmaster", [text] * STUCK_MESSAGES)
        #  Every say was published (or dropped for the stuck subscriber)
        #  before its ack: nothing more can grow
        growth = cluster.broker.rss() - baseline
        bound = RSS_GROWTH_MAX_INSTRUMENTED if cluster.broker.instrumented() else RSS_GROWTH_MAX
        assert growth < bound, (
            "broker RSS grew by %.1f MiB (from %.1f MiB, bound %d MiB) with a "
            "subscriber that never reads" % (growth / 2 ** 20, baseline / 2 ** 20, bound >> 20))

        #  Read at last, the subscriber gets what the broker kept for it, in
        #  order, the oldest first; the rest was dropped (a gateway refills
        #  it from history). The broker's `head` of the room, once a second,
        #  follows: one with the last seq ends what there is to read.
        kept = []
        while True:
            _, body = await asyncio.wait_for(stuck.recv_multipart(), deadline(10.0))
            event = msgpack.unpackb(body, raw=False)
            if event["op"] == "message":
                kept.append(event["seq"])
            elif event["op"] == "head" and event["seq"] == seqs[-1]:
                break
        assert kept[0] == warm[0] and kept == sorted(set(kept)), kept[:5]
        assert len(kept) < len(warm) + STUCK_MESSAGES, "the broker kept every event"
        print("broker RSS %.1f MiB, grew %.1f MiB over %d events of %d bytes; the "
              "subscriber got %d of them" % (baseline / 2 ** 20, growth / 2 ** 20,
                                              STUCK_MESSAGES, TEXT_BYTES, len(kept)))
