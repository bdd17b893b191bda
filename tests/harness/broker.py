"""broker.py: the broker's own protocol (docs/broker-protocol.md), spoken
directly, the way a gateway or groupchat-admin does: a DEALER to the
ROUTER with msgpack maps, and a raw SUB to the event socket. Tests use it
to show what the broker itself refuses or withstands, whatever a gateway
would have checked first.
"""

import asyncio
import os

import msgpack
import zmq
import zmq.asyncio
import zmq.auth

from .config import deadline
from .scope import SCOPE
from .seed import GENERATION

_CONTEXT = zmq.asyncio.Context.instance()


def use_keys(socket, folder, own=None):
    """Makes `socket` a CURVE client with the pair FOLDER/OWN.cert_secret
    that expects the broker's key FOLDER/broker.cert."""
    own = own or os.path.basename(folder.rstrip("/"))
    public, secret = zmq.auth.load_certificate(os.path.join(folder, own + ".cert_secret"))
    broker, _ = zmq.auth.load_certificate(os.path.join(folder, "broker.cert"))
    socket.curve_publickey, socket.curve_secretkey = public, secret
    socket.curve_serverkey = broker


class BrokerLink:
    """A DEALER connected to the broker's request socket.

    `request(op, **fields)` sends one request with the next rid and returns
    its reply as a dict; `send()` and `reply()` pipeline many."""

    REPLY_TIMEOUT = 10.0

    def __init__(self, endpoint, keys=None, own=None, broker_key=None):
        """`keys`: a key folder (the admin's, a gateway's, or any holding
        OWN.cert_secret and broker.cert) to speak CURVE with; `own` names
        the pair in it, by default the folder's own name. `broker_key`
        replaces the broker's public key the folder holds."""
        self.socket = _CONTEXT.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if keys:
            use_keys(self.socket, keys, own)
        if broker_key:
            self.socket.curve_serverkey = broker_key
        self.socket.connect(endpoint)
        self.next_rid = 1
        SCOPE.closers.append(self.close)

    def send(self, op, **fields):
        """Sends a request without waiting; returns its rid. A bytes value
        goes as a msgpack str whatever it holds (the protocol has no bin),
        so that a test can send a string that is not UTF-8."""
        rid = self.next_rid
        self.next_rid += 1
        body = msgpack.packb(dict(fields, op=op, rid=rid), use_bin_type=False)
        self.socket.send(body, copy=False)
        return rid

    async def reply(self):
        """The next reply, decoded."""
        frame = await asyncio.wait_for(self.socket.recv(), deadline(self.REPLY_TIMEOUT))
        return msgpack.unpackb(frame, raw=False)

    async def request(self, op, **fields):
        """Sends one request and returns its reply, checking the rid."""
        rid = self.send(op, **fields)
        reply = await self.reply()
        assert reply.get("rid") == rid, "reply %r to rid %d" % (reply, rid)
        return reply

    async def say_many(self, user, room, texts, window=256, generation=GENERATION):
        """Says every text as user (whose login is at `generation`), with up
        to `window` in flight; asserts each is acknowledged and returns the
        seqs, in the order said."""
        seqs, said, acked = [], 0, 0
        while acked < len(texts):
            while said < len(texts) and said - acked < window:
                self.send("say", user=user, room=room, text=texts[said],
                          generation=generation)
                said += 1
            reply = await self.reply()
            assert reply["op"] == "ok", "say: %r" % reply
            seqs.append(reply["seq"])
            acked += 1
        return seqs

    def close(self):
        self.socket.close(linger=0)




async def never_reading_subscriber(endpoint, room, keys=None):
    """A SUB subscribed to every topic that is not read once subscribed:
    what a gateway stuck for good looks like to the broker. It buffers as
    little as ZeroMQ and the kernel let it, so what it does not take
    stays with the broker. Returns once the broker has its subscription
    (its `head` for `room` came), so everything said after is meant for it."""
    socket = _CONTEXT.socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    if keys:
        use_keys(socket, keys)
    socket.setsockopt(zmq.RCVHWM, 1)
    socket.setsockopt(zmq.RCVBUF, 4096)
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.setsockopt(zmq.SUBSCRIBE, room.encode() + b"\0")
    socket.connect(endpoint)
    SCOPE.closers.append(lambda: socket.close(linger=0))
    topic, body = await asyncio.wait_for(socket.recv_multipart(), deadline(10.0))
    event = msgpack.unpackb(body, raw=False)
    assert event["op"] == "head" and event["room"] == room, event
    return socket
