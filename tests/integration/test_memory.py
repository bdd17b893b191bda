"""test_memory.py: what one client can make a gateway hold.

Replays the report that found a gateway keeping every parsed frame until
its reply was written: 255 frames of 64 KiB `[{},{},...]` from a client
that does not read took a gateway from 56 MB to 1.28 GB. A refused frame
now keeps nothing but its id, and a valid one only its fields.
"""

import asyncio
import json
import os
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
#  The floods here are on purpose, to measure what is held while they are
#  read: the gateways have no rate limit, which would stop reading them
UNLIMITED = ["--rate-limit", "0"]


def small_quarantine():
    """Gateway settings that keep AddressSanitizer's quarantine of freed
    memory small, so that memory given back is not counted as held"""
    asan = (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4").lstrip(":")
    return {"ASAN_OPTIONS": asan}


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
    async with Cluster(gateways=1, wrap_broker=False, gateway_env=small_quarantine(),
                       gateway_args=UNLIMITED) as cluster:
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


#  What the report's second replay says: texts of 4,096 control characters
#  (six bytes each once escaped for JSON) make a join with since 0 a reply
#  of about 25 MB; a client that never read and sent 8 such joins every
#  3 s took a gateway from 56 to 730 MB in 13 s
CONTROL_TEXTS = 1000
JOINS = 255
#  The gateway holds 4 MB of replies for a client that does not read
#  (GC_CONN_HELD_MAX), then leaves its requests waiting; without that it
#  held every one of 255 replies (23 MB here, and more with more history)
HELD_GROWTH_MAX = 16 << 20
HELD_GROWTH_MAX_INSTRUMENTED = 40 << 20


async def send_within(client, frame, seconds=2.0):
    """Sends a frame unless the gateway stopped reading (flow control
    fills the kernel's buffers): True when it went."""
    try:
        await asyncio.wait_for(client.send_raw(frame), seconds)
        return True
    except asyncio.TimeoutError:
        return False


async def growth_settled(cluster, baseline, bound, within=20.0):
    """The gateway's growth over baseline once it holds still (within 1 MB
    for 2 s), failing as soon as it passes bound: replies that are not
    held back arrive for as long as the broker answers them."""
    end = time.monotonic() + deadline(within)
    last, still_since = None, None
    while True:
        growth = cluster.gateway_rss() - baseline
        assert growth < bound, "the gateway grew by %d MB" % (growth >> 20)
        now = time.monotonic()
        if last is not None and abs(growth - last) < (1 << 20):
            still_since = still_since or now
            if now - still_since >= 2.0:
                return growth
        else:
            still_since = None
        last = growth
        assert now < end, "the gateway's memory did not settle (%d MB)" % (growth >> 20)
        await asyncio.sleep(0.25)


async def test_joins_whose_replies_are_never_read_cost_the_gateway_little():
    async with Cluster(gateways=1, gateway_env=small_quarantine(),
                       gateway_args=UNLIMITED) as cluster:
        texts = ["\x01" * 4096] * CONTROL_TEXTS
        await cluster.broker_link().say_many("Sue", "Quite Interesting", texts)
        reader = await cluster.login("Sue", rcvbuf=4096)
        await reader.join("Quite Interesting")
        baseline = cluster.gateway_rss()
        frames_before = (await cluster.metrics(0))["groupchat_frames_in_total"]
        reader.pause_reading()
        join = json.dumps({"op": "join", "room": "Quite Interesting", "since": 0})
        #  Until the gateway stops reading this client (its sends block),
        #  or a slot for every join the gateway would queue
        sent = 0
        while sent < JOINS and await send_within(reader, join):
            sent += 1
        await frames_read(cluster, frames_before, sent)
        await growth_settled(cluster, baseline, HELD_GROWTH_MAX_INSTRUMENTED
                             if cluster.gateways[0].instrumented() else HELD_GROWTH_MAX)
        #  Others are served meanwhile
        alex = await cluster.login("Alex")
        await alex.join("Taskmaster")
        assert await alex.say("still served") >= 1
