"""test_liveness.py: pings, dead peers, stalled readers and rate limits.

A gateway pings a connection that was idle for --ping-interval seconds
and drops one that answered nothing for 2.5 times that; a peer that
answers pings stays. A connection with messages waiting that makes no
write progress for 30 s is closed. A connection sending faster than
--rate-limit gets rate_limited and stays usable; what it sends beyond
that is not even read until the bucket refills.
"""

import asyncio
import base64
import os
import struct
import time

from harness import Cluster, deadline, http_get

#  The gateway's pings, reads and rate, which the broker's database plays no part in
DATABASES = ("sqlite",)


async def raw_websocket(port):
    """A WebSocket handshake by hand, so the test decides about pongs."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    status = await asyncio.wait_for(reader.readline(), 5)
    assert b" 101 " in status, "handshake answered %r" % status
    while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b""):
        pass
    return reader, writer


async def read_frame(reader, timeout):
    """(opcode, payload) of the next server frame, or None at EOF."""
    head = await asyncio.wait_for(reader.read(2), timeout)
    if len(head) < 2:
        return None
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    payload = await reader.readexactly(length) if length else b""
    return head[0] & 0x0F, payload


def client_frame(opcode, payload):
    """A masked client frame (RFC 6455 5.3) of any payload up to 64 KiB."""
    mask = os.urandom(4)
    size = len(payload)
    key = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
    if size < 126:
        head = bytes([0x80 | opcode, 0x80 | size])
    else:
        head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", size)
    return head + mask + masked


async def test_dead_peer_is_dropped_after_two_and_a_half_ping_intervals():
    async with Cluster(gateways=1, gateway_args=["--ping-interval", "1"]) as cluster:
        reader, writer = await raw_websocket(cluster.ports[0])
        started = time.monotonic()
        frame = await read_frame(reader, deadline(5))
        assert frame and frame[0] == 0x9, "expected a ping first, got %r" % (frame,)
        #  Never answer: the gateway must hang up by itself
        while frame is not None:
            frame = await read_frame(reader, deadline(10))
        waited = time.monotonic() - started
        assert 1.5 <= waited <= 6, "dropped after %.1f s, expected about 2.5" % waited
        writer.close()


async def test_peer_answering_pings_stays_connected():
    async with Cluster(gateways=1, gateway_args=["--ping-interval", "1"]) as cluster:
        reader, writer = await raw_websocket(cluster.ports[0])
        #  Answer five pings: well past the 2.5 s a silent peer gets
        for _ in range(5):
            opcode, payload = await read_frame(reader, deadline(5))
            assert opcode == 0x9, "expected a ping, got opcode %d" % opcode
            writer.write(client_frame(0xA, payload))
        writer.write(client_frame(0x1, b'{"op":"rooms","id":1}'))
        frame = await read_frame(reader, deadline(5))
        while frame and frame[0] == 0x9:
            writer.write(client_frame(0xA, frame[1]))
            frame = await read_frame(reader, deadline(5))
        assert frame and b'"not_logged_in"' in frame[1], "reply: %r" % (frame,)
        writer.close()


async def test_stalled_reader_is_closed_after_30_seconds():
    async with Cluster(gateways=1, gateway_args=["--rate-limit", "0"]) as cluster:
        stalled = await cluster.login("Alex", rcvbuf=4096)
        await stalled.join("Taskmaster")
        stalled.pause_reading()
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
        started = time.monotonic()
        #  Far more than the kernel buffers on both sides of the stalled
        #  one hold (loopback send buffers grow to a few MB)
        await sue.say_many(["x" * 4000 + " %d" % i for i in range(3000)])
        await sue.messages_until("Taskmaster", 3000)
        #  The stalled client reads nothing, so it cannot see the close:
        #  watch the gateway's figures instead (a bounded poll)
        while True:
            status, body = await http_get(cluster.ports[0], "/metrics")
            if b"groupchat_slow_readers_closed_total 1\n" in body:
                break
            assert time.monotonic() - started < deadline(45), "not closed after 45 s"
            await asyncio.sleep(0.2)
        waited = time.monotonic() - started
        assert 29 <= waited <= deadline(45), "closed after %.1f s, expected 30" % waited
        while b"groupchat_connections_open 1\n" not in body:
            assert time.monotonic() - started < deadline(60), "still open: %r" % body[:400]
            await asyncio.sleep(0.2)
            status, body = await http_get(cluster.ports[0], "/metrics")
        stalled.resume_reading()
        await stalled.wait_closed(timeout=20)
        #  The others carry on
        seq = await sue.say("still here")
        assert (await sue.next_message())["seq"] == seq


RATE = 5
BURST = 100                 # GC_RATE_BURST_MIN: more than twice RATE


async def test_rate_limit_answers_rate_limited_and_stays_usable():
    """The burst is served; the first request over it is answered
    rate_limited with its id and retry_after, and the gateway reads
    nothing more until the bucket holds a token: the requests after it
    are served as the bucket refills, never faster than the rate."""
    async with Cluster(gateways=1, gateway_args=["--rate-limit", str(RATE)]) as cluster:
        sue = await cluster.login("Sue")        # one token of the burst
        started = time.monotonic()
        idents = [await sue.send_request("rooms") for _ in range(BURST + 20)]
        replies = [await sue.reply(ident, timeout=20) for ident in idents]
        elapsed = time.monotonic() - started
        codes = [reply.get("code", "ok") for reply in replies]
        assert set(codes) <= {"ok", "rate_limited"}, "codes: %r" % codes
        first = codes.index("rate_limited")
        assert BURST - 1 <= first <= BURST + RATE * elapsed, "codes: %r" % codes
        refused = replies[first]
        assert refused["id"] == idents[first], refused
        assert 0 < refused["retry_after"] <= 1000 // RATE + 1, refused
        assert all(0 < reply.get("retry_after", 0) <= 1000 // RATE + 1
                   for reply in replies if reply["op"] == "error"), replies
        #  After it, one served for each token, one refused in between
        later = codes[first + 1:]
        assert len(later) // 3 <= later.count("ok") <= RATE * elapsed + 2, \
            "%d served of %d in %.1f s: %r" % (later.count("ok"), len(later), elapsed, later)
        #  Still usable: a client that waits as it is told is served
        for _ in range(10):
            reply = await sue.request("rooms")
            if reply["op"] == "ok":
                break
            await asyncio.sleep(reply["retry_after"] / 1000)
        assert reply["op"] == "ok", reply


FLOOD = 500
#  Almost GC_FRAME_MAX of the cheapest JSON to parse into many nodes,
#  inside a request that is otherwise valid
JUNK = ",".join(["{}"] * 20000)


def flood_frame(index):
    """Every fifth frame of the flood 60 KiB of junk, the rest small."""
    pad = ',"pad":[%s]' % JUNK if index % 5 == 0 else ""
    return client_frame(0x1, ('{"op":"rooms","id":%d%s}' % (index, pad)).encode())


async def frames_in(cluster):
    return (await cluster.metrics(0))["groupchat_frames_in_total"]


async def test_frames_over_the_rate_are_not_read():
    """One connection sends 500 frames at once, a fifth of them 60 KiB:
    the gateway reads the burst, then about a frame for each token and
    one refused between them, leaving the rest to TCP, while another
    connection on the same gateway is served at once."""
    async with Cluster(gateways=1, gateway_args=["--rate-limit", str(RATE)]) as cluster:
        sue = await cluster.login("Sue")
        frames = [flood_frame(index) for index in range(FLOOD)]
        before = await frames_in(cluster)
        reader, writer = await raw_websocket(cluster.ports[0])
        started = time.monotonic()
        for frame in frames:
            writer.write(frame)
        asked = time.monotonic()
        assert (await sue.request("rooms", timeout=deadline(1)))["op"] == "ok"
        assert time.monotonic() - asked < deadline(1)
        before += 1             # Sue's
        while await frames_in(cluster) - before < BURST:
            assert time.monotonic() - started < deadline(10), "the burst was not read"
            await asyncio.sleep(0.05)
        #  Watched for two seconds once the burst is in (under valgrind
        #  reading it may take longer than that): each token lets one
        #  frame in, and the frame after it that finds none is read to be
        #  refused
        burst_in = time.monotonic()
        read = await frames_in(cluster) - before
        while time.monotonic() - burst_in < 2:
            read = await frames_in(cluster) - before
            bound = BURST + 2 * RATE * (time.monotonic() - started) + 2
            assert read <= bound, "read %d frames, at most %d expected" % (read, bound)
            await asyncio.sleep(0.1)
        assert read < FLOOD // 2, read
        writer.transport.abort()
