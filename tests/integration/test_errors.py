"""test_errors.py: every error code of protocol.md, on a live cluster.

Each error reply must carry the request's id (none when the request had
none) and leave the connection usable, which each test checks with a
request that succeeds afterwards.
"""

import json

import websockets

from harness import ROOMS_OF


async def still_usable(client, user=None):
    """Asserts the connection still works: rooms (or a login) succeeds."""
    if user is None:
        await client.login("Alex")
        user = "Alex"
    reply = await client.call("rooms")
    names = [room["name"] for room in reply["rooms"]]
    assert names == ROOMS_OF[user], "rooms after an error: %r" % names


async def raw_error(client, frame, code="bad_request", ident=None):
    """Sends a raw frame; asserts an error with `code` and the given id.

    `ident` None means the reply must have no id at all."""
    await client.send_raw(frame)
    reply = await client.next_reply()
    assert reply["op"] == "error" and reply.get("code") == code, \
        "frame %r: expected error %s, got %r" % (frame[:120], code, reply)
    if ident is None:
        assert "id" not in reply, "frame %r had no id, the reply has one: %r" % (
            frame[:120], reply)
    else:
        assert reply.get("id") == ident, "frame %r: reply id %r, expected %r" % (
            frame[:120], reply.get("id"), ident)
    return reply


async def send_until_closed(client, frame):
    """Sends a frame the gateway may close the connection in the middle of."""
    try:
        await client.send_raw(frame)
    except websockets.ConnectionClosed:
        pass


async def test_not_member(cluster):
    sandy = await cluster.login("Sandy", gateway=1)
    await sandy.expect_error("not_member", "join", room="8 out of 10 cats")
    reply = await sandy.join("Taskmaster")
    assert reply["room"] == "Taskmaster"
    #  Not a member, so not joined either
    await sandy.expect_error("not_in_room", "say", room="8 out of 10 cats", text="hi")


async def test_no_such_room(cluster):
    alex = await cluster.login("Alex")
    await alex.expect_error("no_such_room", "join", room="Nowhere")
    #  Names are exact and case-sensitive
    await alex.expect_error("no_such_room", "join", room="taskmaster")
    await alex.expect_error("no_such_room", "join", room="Taskmaster ")
    await alex.expect_error("no_such_room", "join", room="")
    await still_usable(alex, "Alex")


async def test_not_in_room(cluster):
    alex = await cluster.login("Alex", gateway=1)
    #  Existing and joinable, existing but not Alex's, and not existing
    for room in ("Taskmaster", "Quite Interesting", "Nowhere"):
        await alex.expect_error("not_in_room", "say", room=room, text="hello")
        await alex.expect_error("not_in_room", "history", room=room)
        await alex.expect_error("not_in_room", "leave", room=room)
    #  Joined elsewhere does not count
    await alex.join("8 out of 10 cats")
    await alex.expect_error("not_in_room", "say", room="Taskmaster", text="hello")
    #  After a leave, the room is not joined any more
    await alex.join("Taskmaster")
    await alex.call("leave", room="Taskmaster")
    await alex.expect_error("not_in_room", "say", room="Taskmaster", text="hello")
    await alex.expect_error("not_in_room", "history", room="Taskmaster")
    await alex.expect_error("not_in_room", "leave", room="Taskmaster")
    await still_usable(alex, "Alex")


async def expect_errors(client, code, requests):
    """Asserts that each (op, fields) request gets the error `code`."""
    for op, fields in requests:
        await client.expect_error(code, op, **fields)


async def test_bad_credentials(cluster):
    client = await cluster.client(0)
    await expect_errors(client, "bad_credentials", [
        ("login", {"user": "Alex", "password": "wrong"}),
        ("login", {"user": "Nobody", "password": "password"}),
        ("login", {"user": "alex", "password": "password"}),
        ("login", {"user": "Alex", "password": ""}),
        ("login", {"token": "not-a-token"}),
        ("login", {"token": ""})])
    #  A failed login does not log in
    await client.expect_error("not_logged_in", "rooms")
    await still_usable(client)


async def test_not_logged_in(cluster):
    client = await cluster.client(1)
    await expect_errors(client, "not_logged_in", [
        ("rooms", {}),
        ("join", {"room": "Taskmaster"}),
        ("say", {"room": "Taskmaster", "text": "hi"}),
        ("history", {"room": "Taskmaster"}),
        ("leave", {"room": "Taskmaster"}),
        ("logout", {})])
    await still_usable(client)


async def test_bad_request_frames_before_and_after_login(cluster):
    client = await cluster.client(0)
    for logged_in in (False, True):
        #  Not JSON, or JSON but not an object: no id to echo
        for frame in ("hello", "{\"op\":\"rooms\"", "[1,2,3]",
                      "[{\"op\":\"rooms\",\"id\":1}]", "42", "\"rooms\"", "null", ""):
            await raw_error(client, frame)
        #  An object without a (string) op, or with an unknown one
        await raw_error(client, "{}")
        await raw_error(client, json.dumps({"id": 11}), ident=11)
        await raw_error(client, json.dumps({"op": 5, "id": 12}), ident=12)
        await raw_error(client, json.dumps({"op": None, "id": 13}), ident=13)
        await raw_error(client, json.dumps({"op": ["say"], "id": 14}), ident=14)
        await raw_error(client, json.dumps({"op": "dance", "id": 15}), ident=15)
        await raw_error(client, json.dumps({"op": "Login", "id": 16}), ident=16)
        await raw_error(client, json.dumps({"op": "dance"}))
        #  A binary frame, even one holding a valid request
        await client.send_raw(b'{"op":"rooms","id":17}')
        reply = await client.next_reply()
        assert reply["op"] == "error" and reply.get("code") == "bad_request", \
            "binary frame: %r" % (reply,)
        if not logged_in:
            await client.login("Sue")
    await still_usable(client, "Sue")


async def test_bad_field_types(cluster):
    client = await cluster.client(1)
    await client.expect_error("bad_request", "login", user=5, password="password")
    await client.expect_error("bad_request", "login", user="Alex", password=None)
    await client.expect_error("bad_request", "login", user="Alex")
    await client.expect_error("bad_request", "login", token=12345)
    await client.expect_error("bad_request", "login")
    await client.login("Alex")
    await client.expect_error("bad_request", "join", room=5)
    await client.expect_error("bad_request", "join", room=["Taskmaster"])
    await client.expect_error("bad_request", "join")
    await client.expect_error("bad_request", "join", room="Taskmaster", since="3")
    await client.join("Taskmaster")
    await client.expect_error("bad_request", "say", room="Taskmaster", text=5)
    await client.expect_error("bad_request", "say", room="Taskmaster")
    await client.expect_error("bad_request", "say", room=None, text="hi")
    await client.expect_error("bad_request", "say", text="hi")
    await client.expect_error("bad_request", "history", room="Taskmaster", before="x")
    await client.expect_error("bad_request", "history", room="Taskmaster", limit="10")
    await client.expect_error("bad_request", "history", room="Taskmaster", limit=2.5)
    await client.expect_error("bad_request", "leave", room={})
    #  A failed second login changes nothing: still Alex, still joined
    await client.expect_error("bad_request", "login", user=5, password="password")
    await still_usable(client, "Alex")
    await client.call("history", room="Taskmaster")


async def test_history_limit_range(cluster):
    client = await cluster.login("Sue")
    await client.join("Taskmaster")
    await client.say("something to page through")
    for limit in (0, 101, -1, 1000):
        await client.expect_error("bad_request", "history", room="Taskmaster", limit=limit)
    for limit in (1, 100):
        history = await client.history("Taskmaster", limit=limit)
        assert 1 <= len(history) <= limit, "history limit %d gave %d" % (limit, len(history))
    await still_usable(client, "Sue")


async def test_nul_character_is_bad_request(cluster):
    client = await cluster.login("Sandy")
    await client.join("Taskmaster")
    await client.expect_error("bad_request", "say", room="Taskmaster", text="a\u0000b")
    await client.expect_error("bad_request", "say", room="Taskmaster", text="\u0000")
    await client.expect_error("bad_request", "join", room="Taskmaster\u0000x")
    #  Nothing was stored: the next say's message is the one we see next
    seq = await client.say("after the NUL")
    message = await client.next_message()
    assert (message["seq"], message["text"]) == (seq, "after the NUL"), \
        "after rejected says, pushed %r (acked seq %d)" % (message, seq)
    await still_usable(client, "Sandy")


async def test_reply_ids_are_echoed_exactly(cluster):
    client = await cluster.client(0)
    for ident in (0, 1, 2 ** 31 + 7, 2 ** 53 - 1):
        await client.send_json({"op": "rooms", "id": ident})
        reply = await client.next_reply()
        assert reply["op"] == "error" and reply.get("code") == "not_logged_in" \
            and reply.get("id") == ident and type(reply.get("id")) is int, \
            "id %d: %r" % (ident, reply)
    await client.send_json({"op": "rooms"})
    reply = await client.next_reply()
    assert reply["op"] == "error" and "id" not in reply, \
        "request without id, reply %r" % (reply,)
    #  Unknown fields are ignored
    await client.send_json({"op": "login", "id": 9, "user": "Alex",
                            "password": "password", "colour": "blue"})
    reply = await client.next_reply()
    assert reply["op"] == "ok" and reply.get("id") == 9, "login with extra field: %r" % (reply,)


async def test_oversized_frame_closes_with_1009(cluster):
    #  A bystander on the same gateway, in the room, must not notice
    bystander = await cluster.login("Sue", gateway=0)
    await bystander.join("Taskmaster")
    client = await cluster.login("Alex", gateway=0)
    await client.join("Taskmaster")

    #  Exactly 64 KiB is not over the limit: an ordinary error, still open
    frame = '{"op":"say","id":1000,"room":"Taskmaster","text":"'
    frame += "x" * (65536 - len(frame) - 2) + '"}'
    assert len(frame.encode()) == 65536
    await raw_error(client, frame, "too_long", 1000)
    await still_usable(client, "Alex")

    #  One byte more closes the connection with 1009
    frame = frame[:-2] + 'x"}'
    assert len(frame.encode()) == 65537
    await send_until_closed(client, frame)
    code = await client.wait_closed()
    assert code == 1009, "close code %r after a 65537-byte frame, expected 1009" % code

    #  The same in a bigger frame, on a fresh connection
    big = await cluster.login("Alex", gateway=0)
    await send_until_closed(big, json.dumps({"op": "say", "id": 1, "room": "Taskmaster",
                                             "text": "y" * 200000}))
    code = await big.wait_closed()
    assert code == 1009, "close code %r after a 200 kB frame, expected 1009" % code

    #  The bystander is unaffected: it still says and receives
    seq = await bystander.say("still here")
    message = await bystander.next_message()
    assert (message["seq"], message["text"]) == (seq, "still here"), \
        "bystander got %r, expected seq %d" % (message, seq)
    await still_usable(bystander, "Sue")
