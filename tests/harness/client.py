"""client.py: one WebSocket connection speaking protocol v1
(docs/protocol.md). It matches replies to requests by id and queues pushed
`message` events apart, so a test can pipeline requests and still read its
pushes in order; its shortcuts (login, join, say, history) check the
replies' shapes.
"""

import asyncio
import json
import socket
import time

import websockets
from websockets.frames import Opcode

from .checks import assert_contiguous, check_message, short
from .config import deadline
from .scope import SCOPE
from .seed import PASSWORD, ROOM


class ServerError(AssertionError):
    """A request got an `error` reply where `ok` was expected."""

    def __init__(self, request, reply):
        super().__init__("%s -> error %s: %s" % (
            json.dumps(request)[:300], reply.get("code"), reply.get("message")))
        self.reply = reply
        self.code = reply.get("code")


class Client:
    """A protocol v1 connection.

    A background reader sorts what arrives: replies whose id we are waiting
    for complete that request; other replies (no id, or an id we did not
    send through request()) queue for next_reply(); `message` pushes queue
    for next_message(); anything else queues for next_event()."""

    REPLY_TIMEOUT = 10.0            # bound on any reply (unavailable is 5 s)

    def __init__(self, ws, name):
        self.ws = ws                # the websockets connection
        self.name = name            # for error messages
        self.next_id = 1            # ids of request()s, auto-increment
        self.pending = {}           # id -> future of its reply
        self.sent = {}              # id -> the request, for error messages
        self.replies = asyncio.Queue()      # replies nobody waits for by id
        self.messages = asyncio.Queue()     # pushed `message` events
        self.events = asyncio.Queue()       # other pushed events
        self.presence = asyncio.Queue()     # pushed `presence` and `typing` (v1.1)
        self.reply_ids = []         # ids of all replies, in arrival order
        self.timeline = []          # replies and messages, in arrival order
        self.arrived = {}           # id -> time.monotonic() its reply came
        self.received = 0           # frames received
        self.violations = []        # frames that break the protocol
        self.closed = asyncio.Event()
        self.reading = asyncio.Event()
        self.reading.set()
        self.reader = asyncio.create_task(self._read_loop())
        SCOPE.clients.append(self)

    @classmethod
    async def connect(cls, url, name=None, rcvbuf=None, **options):
        """Connects; `rcvbuf` sets SO_RCVBUF before connecting (slow readers).

        Keepalive pings are off (a stalled reader must not be dropped by
        its own library) and so is compression (frame sizes stay exact)."""
        options.setdefault("ping_interval", None)
        options.setdefault("compression", None)
        options.setdefault("close_timeout", 2)
        options.setdefault("max_size", 1 << 22)
        options.setdefault("open_timeout", deadline(10))
        if rcvbuf is not None:
            host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
            options["sock"] = sock
        ws = await websockets.connect(url, **options)
        return cls(ws, name or url)

    # Reading ---------------------------------------------------------------

    async def _read_loop(self):
        try:
            while True:
                await self.reading.wait()
                frame = await self.ws.recv()
                self.received += 1
                self._dispatch(frame)
        except websockets.ConnectionClosed:
            pass
        except Exception as error:      # a bug here must show, not hang
            self.violations.append("reader failed: %r" % error)
        finally:
            self.closed.set()
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(AssertionError(
                        "%s: connection closed (%s) before the reply" % (
                            self.name, self.close_code)))

    def _dispatch(self, frame):
        if isinstance(frame, bytes):
            self.violations.append("binary frame from the gateway: %r" % frame[:80])
            return
        try:
            obj = json.loads(frame)
        except ValueError:
            self.violations.append("not JSON: %r" % frame[:200])
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("op"), str):
            self.violations.append("not an object with a string op: %r" % frame[:200])
            return
        op = obj["op"]
        if op in ("ok", "error", "message"):
            self.timeline.append(obj)
        if op in ("ok", "error"):
            if op == "error" and not (isinstance(obj.get("code"), str)
                                      and isinstance(obj.get("message"), str)):
                self.violations.append("error without string code and message: %r"
                                       % frame[:200])
            ident = obj.get("id")
            self.reply_ids.append(ident)
            self.arrived[ident] = time.monotonic()
            future = self.pending.get(ident) if "id" in obj else None
            if future is not None and not future.done():
                future.set_result(obj)
            else:
                self.replies.put_nowait(obj)
        elif op == "message":
            if "id" in obj:
                self.violations.append("pushed message with an id: %r" % frame[:200])
            self.messages.put_nowait(obj)
        elif op in ("presence", "typing"):
            # Kept apart, so that tests of other events need not expect them
            self.presence.put_nowait(obj)
        else:
            self.events.put_nowait(obj)

    def _check(self):
        if self.violations:
            raise AssertionError("%s: protocol violations: %s"
                                 % (self.name, "; ".join(self.violations[:5])))

    async def _get(self, queue, timeout, what):
        """The next item of `queue`, failing on timeout or closed connection."""
        self._check()
        if not queue.empty():
            return queue.get_nowait()
        getter = asyncio.ensure_future(queue.get())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({getter, closed}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not getter.done():
                getter.cancel()
        if getter in done:
            return getter.result()
        self._check()
        if self.closed.is_set():
            raise AssertionError("%s: connection closed (code %s) while waiting for %s"
                                 % (self.name, self.close_code, what))
        raise AssertionError("%s: no %s within %.1f s" % (self.name, what, timeout))

    def pause_reading(self):
        """Stops taking frames off the socket, so the kernel buffers fill."""
        self.reading.clear()

    def resume_reading(self):
        self.reading.set()

    @property
    def close_code(self):
        return self.ws.close_code

    async def wait_closed(self, timeout=5.0):
        """Waits until the server closes the connection; returns the code."""
        try:
            await asyncio.wait_for(self.closed.wait(), deadline(timeout))
        except asyncio.TimeoutError:
            raise AssertionError("%s: connection still open after %.0f s"
                                 % (self.name, deadline(timeout)))
        await self.ws.wait_closed()
        return self.ws.close_code

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:       # closing is best effort at teardown
            self.ws.transport.abort()
        self.reader.cancel()
        try:
            await self.reader
        except BaseException:
            pass

    # Sending ---------------------------------------------------------------

    async def send_raw(self, data):
        """Sends one frame as is: str as a text frame, bytes as binary."""
        await self.ws.send(data)

    async def send_text_bytes(self, data):
        """Sends bytes as one text frame whether or not they are UTF-8,
        as a client of our own making could (websockets checks what it
        sends as text; this writes the frame below that check)."""
        await self.ws.write_frame(True, Opcode.TEXT, data)

    async def send_json(self, obj, ensure_ascii=True):
        await self.ws.send(json.dumps(obj, ensure_ascii=ensure_ascii))

    async def send_request(self, op, ensure_ascii=True, **fields):
        """Sends a request with the next id without waiting; returns the id."""
        ident = self.next_id
        self.next_id += 1
        request = {"op": op, "id": ident}
        request.update(fields)
        self.pending[ident] = asyncio.get_running_loop().create_future()
        self.sent[ident] = request
        await self.send_json(request, ensure_ascii)
        return ident

    async def reply(self, ident, timeout=None):
        """Waits for the reply to request `ident` (ok or error)."""
        self._check()
        future = self.pending.get(ident)
        if future is None:
            raise AssertionError("no request %r pending" % ident)
        timeout = deadline(timeout or self.REPLY_TIMEOUT)
        try:
            reply = await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            unmatched = list(self.replies._queue)
            raise AssertionError("%s: no reply to %s within %.1f s%s" % (
                self.name, json.dumps(self.sent[ident])[:200], timeout,
                "; replies without a matching id: %s" % short(unmatched, 3)
                if unmatched else ""))
        #  Done with it: a second reply with this id now counts as unmatched
        del self.pending[ident]
        self._check()
        return reply

    async def request(self, op, timeout=None, ensure_ascii=True, **fields):
        """Sends a request with a fresh id and returns its reply."""
        ident = await self.send_request(op, ensure_ascii, **fields)
        return await self.reply(ident, timeout)

    async def call(self, op, **fields):
        """request(), asserting the reply is `ok`; returns it."""
        return await self.ok_reply(await self.send_request(op, **fields))

    async def ok_reply(self, ident):
        """reply(ident), asserting it is `ok` and carries our id."""
        reply = await self.reply(ident)
        if reply["op"] != "ok":
            raise ServerError(self.sent[ident], reply)
        assert reply.get("id") == ident, "reply id %r, expected %r: %r" % (
            reply.get("id"), ident, reply)
        return reply

    async def expect_error(self, code, op, **fields):
        """request(), asserting an `error` with `code` and our id."""
        ident = await self.send_request(op, **fields)
        reply = await self.reply(ident)
        assert reply["op"] == "error" and reply.get("code") == code, \
            "%s: expected error %s, got %r" % (
                json.dumps(self.sent[ident])[:300], code, reply)
        assert reply.get("id") == ident, "error reply id %r, expected %r" % (
            reply.get("id"), ident)
        return reply

    async def until_available(self, within=15.0):
        """Repeats a harmless request until the broker answers it.

        After a broker restart a gateway needs a moment to reconnect: this is
        the bounded poll that waits for it."""
        end = time.monotonic() + deadline(within)
        while True:
            reply = await self.request("rooms")
            if reply["op"] == "ok":
                return
            assert reply.get("code") == "unavailable", "rooms: %r" % (reply,)
            assert time.monotonic() < end, "still unavailable after %.0f s" % deadline(within)
            await asyncio.sleep(0.1)    # poll interval, not a wait for an event

    async def next_reply(self, timeout=None):
        """The next reply not claimed by request() (e.g. one without id)."""
        return await self._get(self.replies, deadline(timeout or self.REPLY_TIMEOUT),
                               "reply")

    async def next_message(self, timeout=10.0):
        """The next pushed `message` (checked for shape)."""
        message = await self._get(self.messages, deadline(timeout), "pushed message")
        check_message(message)
        return message

    async def next_event(self, timeout=10.0):
        return await self._get(self.events, deadline(timeout), "pushed event")

    async def next_presence(self, timeout=10.0):
        """The next pushed `presence` or `typing` (protocol v1.1)."""
        return await self._get(self.presence, deadline(timeout), "presence or typing push")

    def presence_pushes(self):
        """The `presence` and `typing` pushes arrived and not yet taken."""
        pushes = []
        while not self.presence.empty():
            pushes.append(self.presence.get_nowait())
        return pushes

    async def messages_until(self, room, seq, timeout=10.0):
        """Pushed messages of `room` up to and including `seq`.

        Fails on a message of another room, or when `seq` does not come
        within `timeout` of the previous message."""
        got = []
        while not got or got[-1]["seq"] < seq:
            message = await self.next_message(timeout)
            assert message["room"] == room, "%s: message of %r while waiting in %r: %r" \
                % (self.name, message["room"], room, message)
            got.append(message)
        return got

    async def expect_no_message(self, timeout=0.5):
        """Asserts that no `message` arrives within `timeout`.

        Call it after a later message was seen by another client of the
        same gateway, so that the wait is bounded after a known event."""
        self._check()
        if not self.messages.empty():
            raise AssertionError("%s: unexpected message %r" % (
                self.name, self.messages.get_nowait()))
        try:
            message = await asyncio.wait_for(self.messages.get(), timeout)
        except asyncio.TimeoutError:
            return
        raise AssertionError("%s: unexpected message %r" % (self.name, message))

    # Protocol shortcuts ----------------------------------------------------

    async def login(self, user, password=PASSWORD):
        reply = await self.call("login", user=user, password=password)
        assert reply.get("user") == user, "login reply user: %r" % (reply,)
        assert isinstance(reply.get("token"), str) and reply["token"], \
            "login reply without token: %r" % (reply,)
        self.user = user
        self.token = reply["token"]
        return reply

    async def join(self, room=ROOM, **fields):
        """Joins; checks the reply's shape; returns it."""
        reply = await self._with_history("join", room, fields)
        assert_contiguous([m["seq"] for m in reply["history"]], what="join history seqs")
        return reply

    async def say(self, text, room=ROOM):
        """Says; returns the acknowledged seq."""
        return await self._said(await self.send_request("say", room=room, text=text))

    async def say_many(self, texts, room=ROOM, window=64):
        """Says every text, pipelined with up to `window` in flight.

        Returns the acknowledged seqs, in the order of `texts`."""
        seqs = []
        in_flight = []
        for text in texts:
            in_flight.append(await self.send_request("say", room=room, text=text))
            if len(in_flight) >= window:
                seqs.append(await self._said(in_flight.pop(0)))
        for ident in in_flight:
            seqs.append(await self._said(ident))
        return seqs

    async def _said(self, ident):
        """The seq acknowledged by the reply to the say request `ident`."""
        reply = await self.ok_reply(ident)
        assert isinstance(reply.get("seq"), int) and reply["seq"] >= 1, \
            "say reply seq: %r" % (reply,)
        return reply["seq"]

    async def history(self, room=ROOM, **fields):
        """Asks for older messages; checks them; returns the list."""
        return (await self._with_history("history", room, fields))["history"]

    async def _with_history(self, op, room, fields):
        """call(op) on `room`, asserting the reply's room and the shape of
        each message of its history."""
        reply = await self.call(op, room=room, **fields)
        assert reply.get("room") == room, "%s reply room: %r" % (op, reply)
        assert isinstance(reply.get("history"), list), "%s reply history: %r" % (op, reply)
        for message in reply["history"]:
            check_message(message, room)
        return reply
