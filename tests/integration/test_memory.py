"""test_memory.py: what one client can make a gateway hold.

Replays the report that found a gateway keeping every parsed frame until
its reply was written: 255 frames of 64 KiB `[{},{},...]` from a client
that does not read took a gateway from 56 MB to 1.28 GB. A refused frame
now keeps nothing but its id, and a valid one only its fields.
"""

import asyncio
import json
import signal
import time

from harness import Cluster, deadline

FRAMES = 255
#  Almost GC_FRAME_MAX (64 KiB) of the cheapest JSON to parse into many nodes
EMPTIES = "[" + ",".join(["{}"] * 21000) + "]"
#  What 255 frames may cost at most; keeping their parsed trees cost
#  about a gigabyte (a few MB each). Instrumented builds use more per node.
GROWTH_MAX = 64 << 20
GROWTH_MAX_INSTRUMENTED = 160 << 20


def growth_max(cluster):
    return GROWTH_MAX_INSTRUMENTED if cluster.gateways[0].instrumented() else GROWTH_MAX


async def frames_read(cluster, before, count, within=30.0):
    """Waits until the gateway has taken count more client frames in."""
    end = time.monotonic() + deadline(within)
    while True:
        taken = (await cluster.metrics(0))["groupchat_frames_in_total"] - before
        if taken >= count:
            return
        assert time.monotonic() < end, "the gateway took %d of %d frames" % (taken, count)
        await asyncio.sleep(0.05)


async def test_frames_queued_behind_a_slow_request_cost_the_gateway_little():
    async with Cluster(gateways=1, wrap_broker=False) as cluster:
        client = await cluster.login("Sue")
        await client.join("Taskmaster")
        baseline = cluster.gateway_rss()
        frames_before = (await cluster.metrics(0))["groupchat_frames_in_total"]
        #  A request the broker does not answer for a while: every reply
        #  after it waits, as replies go out in order
        cluster.broker.send_signal(signal.SIGSTOP)
        try:
            slow = await client.send_request("say", room="Taskmaster", text="held up")
            padded = json.dumps({"op": "say", "room": "Taskmaster", "text": "padded",
                                 "padding": [{}] * 15000})
            #  Refused frames, and valid says padded with members no op has
            for index in range(FRAMES - 1):
                await client.send_raw(EMPTIES if index % 2 else padded)
            await frames_read(cluster, frames_before, FRAMES)
            growth = cluster.gateway_rss() - baseline
        finally:
            cluster.broker.send_signal(signal.SIGCONT)
        assert growth < growth_max(cluster), \
            "gateway grew by %d MB for %d frames" % (growth >> 20, FRAMES)
        #  Stored once the broker went on, or unavailable if it was
        #  stopped past the say's deadline: answered either way
        reply = await client.reply(slow, timeout=30)
        assert reply["op"] == "ok" or reply["code"] == "unavailable", reply
