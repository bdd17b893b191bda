"""broker.py: the broker's own protocol (docs/broker-protocol.md), spoken
directly, the way a gateway or groupchat-admin does: a DEALER to the
ROUTER with msgpack maps. Tests use it to show what the broker itself
refuses, whatever a gateway would have checked first.
"""

import asyncio

import msgpack
import zmq
import zmq.asyncio

from .config import deadline
from .scope import SCOPE

_CONTEXT = zmq.asyncio.Context.instance()


class BrokerLink:
    """A DEALER connected to the broker's request socket.

    `request(op, **fields)` sends one request with the next rid and returns
    its reply as a dict; `send()` and `reply()` pipeline many."""

    REPLY_TIMEOUT = 10.0

    def __init__(self, endpoint):
        self.socket = _CONTEXT.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.next_rid = 1
        SCOPE.closers.append(self.close)

    def send(self, op, **fields):
        """Sends a request without waiting; returns its rid."""
        rid = self.next_rid
        self.next_rid += 1
        self.socket.send(msgpack.packb(dict(fields, op=op, rid=rid)), copy=False)
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

    def close(self):
        self.socket.close(linger=0)

