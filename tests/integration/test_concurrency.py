"""test_concurrency.py: many senders on both gateways at once.

Six clients, three per gateway, each say 50 messages while all of them
listen. Every receiver must see one and the same sequence: gap-free,
duplicate-free, in seq order, holding every acknowledged message with the
text and sender that were acknowledged.
"""

import asyncio

from harness import assert_contiguous, seq_of

SENDERS = [("Alex", 0), ("Sue", 1), ("Sandy", 0), ("Alex", 1), ("Sue", 0), ("Sandy", 1)]
PER_SENDER = 50


async def test_concurrent_senders_on_both_gateways(cluster):
    clients = [await cluster.login(user, gateway=gateway) for user, gateway in SENDERS]
    base = None
    for client in clients:
        seq = seq_of(await client.join("Taskmaster"))
        base = seq if base is None else base
        assert seq == base, "the room changed while nobody spoke"

    async def send(index, client):
        texts = ["client %d message %d" % (index, n) for n in range(PER_SENDER)]
        #  A few in flight at a time, like a chatty client would
        seqs = await client.say_many(texts, window=4)
        return [(seq, client.user, text) for seq, text in zip(seqs, texts)]

    results = await asyncio.gather(*(send(i, c) for i, c in enumerate(clients)))
    acked = sorted(entry for result in results for entry in result)
    total = len(SENDERS) * PER_SENDER
    assert [seq for seq, _, _ in acked] == list(range(base + 1, base + total + 1)), \
        "acknowledged seqs are not exactly %d..%d" % (base + 1, base + total)
    for result in results:
        seqs = [seq for seq, _, _ in result]
        assert seqs == sorted(seqs), "one connection's says were stored out of order"

    last = acked[-1][0]
    for client in clients:
        got = await client.messages_until("Taskmaster", last)
        seen = [(m["seq"], m["from"], m["text"]) for m in got]
        assert_contiguous([seq for seq, _, _ in seen], base + 1, "%s's seqs" % client.name)
        assert seen == acked, "%s saw a different sequence than was acknowledged" \
            % client.name
    for client in clients:
        await client.expect_no_message(0.2)
