"""test_liveness.py: pings, dead peers, stalled readers and rate limits.

A gateway pings a connection that was idle for --ping-interval seconds
and drops one that answered nothing for 2.5 times that; a peer that
answers pings stays. A connection with messages waiting that makes no
write progress for 30 s is closed. A connection sending faster than
--rate-limit gets rate_limited and stays usable.
"""

import asyncio
import base64
import os
import struct
import time

from harness import Cluster, deadline, http_get


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
    """A masked client frame (RFC 6455 5.3), payload under 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


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


async def test_rate_limit_answers_rate_limited_and_stays_usable():
    async with Cluster(gateways=1, gateway_args=["--rate-limit", "5"]) as cluster:
        sue = await cluster.login("Sue")
        idents = [await sue.send_request("rooms") for _ in range(30)]
        codes = [(await sue.reply(ident)).get("code", "ok") for ident in idents]
        assert codes.count("rate_limited") >= 10, "codes: %r" % codes
        assert set(codes) <= {"ok", "rate_limited"}, "codes: %r" % codes
        #  Tokens come back with time: wait for the bucket, then it works
        for _ in range(int(deadline(20) * 10)):
            reply = await sue.request("rooms")
            if reply["op"] == "ok":
                break
            await asyncio.sleep(0.1)    # the bucket refills at 5/s
        assert reply["op"] == "ok", reply
