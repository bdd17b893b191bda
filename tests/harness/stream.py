"""stream.py: a stream of says through a failover, and the check that
every acknowledged one is stored once and nothing answered `unavailable`
is stored after it. What it calls a cluster is a Cluster or a Stack:
anything with login(user, gateway=...)."""

import asyncio
import errno
import time

from .checks import assert_contiguous
from .config import deadline
from .process import connect_error


class Stream:
    """Says, one after the other, until stopped: what was acknowledged
    (seq -> text) and the texts answered `unavailable`, with when."""

    def __init__(self, client, room, prefix="stream"):
        self.client = client
        self.room = room
        self.prefix = prefix
        self.acked = {}
        self.acked_at = []          # time.monotonic() of each acknowledgement
        self.unavailable = {}       # text -> wall-clock ms of the answer
        self.stopping = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        count = 0
        while not self.stopping.is_set():
            count += 1
            text = "%s %d" % (self.prefix, count)
            reply = await self.client.request("say", room=self.room, text=text, timeout=10)
            while reply.get("code") == "rate_limited":
                #  Nothing was done: the same say once the gateway allows
                await asyncio.sleep(reply["retry_after"] / 1000)
                reply = await self.client.request("say", room=self.room, text=text, timeout=10)
            if reply["op"] == "ok":
                self.acked[reply["seq"]] = text
                self.acked_at.append(time.monotonic())
            else:
                assert reply.get("code") == "unavailable", "say %r: %r" % (text, reply)
                self.unavailable[text] = int(time.time() * 1000)

    async def until_acked(self, more):
        """Waits until `more` further says are acknowledged."""
        goal = len(self.acked) + more
        end = time.monotonic() + deadline(30)
        while len(self.acked) < goal:
            assert not self.task.done() or self.task.result(), "the stream stopped"
            assert time.monotonic() < end, "no %d more says acknowledged" % more
            await asyncio.sleep(0.05)   # poll of the stream's progress

    async def until_refused(self, within=30.0):
        """Waits until one more say is answered `unavailable`."""
        goal = len(self.unavailable) + 1
        end = time.monotonic() + deadline(within)
        while len(self.unavailable) < goal:
            assert not self.task.done() or self.task.result(), "the stream stopped"
            assert time.monotonic() < end, "no say answered unavailable"
            await asyncio.sleep(0.05)   # poll of the stream's progress

    async def stop(self):
        self.stopping.set()
        await self.task


async def listened(cluster, room, speaker_on=0):
    """Sandy to speak on gateway `speaker_on` (a Stack's None: through its
    load balancer), Alex (gateway 0) and Sue (gateway 1) listening, all
    joined to `room`; returns (speaker, listeners, the room's newest seq
    before)."""
    speaker = await cluster.login("Sandy", gateway=speaker_on)
    listeners = [await cluster.login("Alex", gateway=0),
                 await cluster.login("Sue", gateway=1)]
    reply = await speaker.join(room)
    base = reply["history"][-1]["seq"] if reply["history"] else 0
    for listener in listeners:
        await listener.join(room)
    return speaker, listeners, base


async def streaming_with_standby(cluster, room):
    """Broker 1 started as the standby, which must bind nothing; Sandy
    saying in `room` without pause, Alex and Sue listening (listened).
    Returns (stream, listeners, base) once 10 says are acknowledged."""
    await cluster.start_standby(1)
    assert await connect_error("127.0.0.1", cluster.requests_port_of(1)) == errno.ECONNREFUSED, \
        "the standby binds its requests socket"
    speaker, listeners, base = await listened(cluster, room)
    stream = Stream(speaker, room)
    await stream.until_acked(10)
    return stream, listeners, base


def check_stored(history, stream, base, moves):
    """Every acknowledged say stored once at its seq; what was answered
    `unavailable` not stored, or stored by a broker before it died (a
    SIGKILL between the commit and the reply), never after."""
    stored = {m["seq"]: m for m in history}
    assert_contiguous(sorted(stored), base + 1, "stored seqs")
    lost = {seq: text for seq, text in stream.acked.items()
            if stored.get(seq, {}).get("text") != text}
    assert not lost, "acknowledged but not stored: %r" % lost
    texts = [m["text"] for m in history]
    assert len(set(texts)) == len(texts), "a say was stored twice"
    for message in history:
        answered = stream.unavailable.get(message["text"])
        if answered is not None:
            assert any(message["ts"] <= killed for killed in moves), \
                "answered unavailable, stored later: %r" % message


async def check_streams_and_history(cluster, stream, listeners, base, moves, what):
    """Every listener's stream gap-free up to the newest acknowledged say,
    and the history as check_stored wants it."""
    newest = max(stream.acked)
    for listener in listeners:
        got = await listener.messages_until(stream.room, newest, timeout=20)
        assert_contiguous([m["seq"] for m in got], base + 1,
                          "%s's stream %s" % (listener.name, what))
    reader = await cluster.login("Alex", gateway=1)
    reader_reply = await reader.join(stream.room, since=base)
    history = reader_reply["history"]
    while not reader_reply["complete"]:
        reader_reply = await reader.join(stream.room, since=history[-1]["seq"])
        history += reader_reply["history"]
    check_stored(history, stream, base, moves)
    return history
