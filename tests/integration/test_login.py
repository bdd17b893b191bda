"""test_login.py: login with a password or a token, logout, re-login.

A token works on every gateway until logout revokes it; a second login on
a connection replaces the first only when it succeeds, and then leaves all
rooms; requests without id get replies without id.
"""

from harness import ROOMS_OF


async def rooms_of(client):
    reply = await client.call("rooms")
    return [room["name"] for room in reply["rooms"]]


async def test_login_reply_has_user_and_token(cluster):
    client = await cluster.client(0)
    reply = await client.call("login", user="Sue", password="password")
    assert reply.get("user") == "Sue", "login reply: %r" % (reply,)
    assert isinstance(reply.get("token"), str) and reply["token"], \
        "login reply without a token: %r" % (reply,)
    assert "password" not in reply, "login reply echoes the password: %r" % (reply,)


async def test_token_works_on_the_other_gateway(cluster):
    first = await cluster.login("Alex", gateway=0)
    other = await cluster.client(1)
    reply = await other.call("login", token=first.token)
    assert reply.get("user") == "Alex", "token login reply: %r" % (reply,)
    assert isinstance(reply.get("token"), str) and reply["token"], \
        "token login reply without a token: %r" % (reply,)
    assert await rooms_of(other) == ROOMS_OF["Alex"]
    #  The token the token login returned logs in too
    third = await cluster.client(0)
    reply = await third.call("login", token=reply["token"])
    assert reply.get("user") == "Alex", "login with the returned token: %r" % (reply,)
    #  And the token user can chat: join and say on gateway 1, seen on gateway 0
    await first.join("Taskmaster")
    await other.join("Taskmaster")
    seq = await other.say("said with a token")
    message = await first.next_message()
    assert (message["seq"], message["from"], message["text"]) == \
        (seq, "Alex", "said with a token"), "pushed %r, acked seq %d" % (message, seq)


async def test_logout_revokes_the_token(cluster):
    client = await cluster.login("Sandy", gateway=1)
    token = client.token
    #  The token is good before the logout...
    probe = await cluster.client(0)
    reply = await probe.call("login", token=token)
    assert reply.get("user") == "Sandy"
    reply = await client.call("logout")
    assert reply["op"] == "ok"
    #  ...and bad after it, on both gateways
    for gateway in (0, 1):
        fresh = await cluster.client(gateway)
        await fresh.expect_error("bad_credentials", "login", token=token)
    #  The password still works
    again = await cluster.login("Sandy", gateway=0)
    assert await rooms_of(again) == ROOMS_OF["Sandy"]


async def test_second_login_replaces_the_first_only_on_success(cluster):
    client = await cluster.login("Alex", gateway=0)
    await client.join("Taskmaster")
    witness = await cluster.login("Sue", gateway=0)
    await witness.join("Taskmaster")
    speaker = await cluster.login("Sandy", gateway=1)
    await speaker.join("Taskmaster")

    #  A failed login changes nothing: still Alex, still in the room
    await client.expect_error("bad_credentials", "login", user="Sandy", password="nope")
    await client.expect_error("bad_credentials", "login", token="bogus")
    assert await rooms_of(client) == ROOMS_OF["Alex"]
    seq = await speaker.say("you are still in")
    message = await client.next_message()
    assert (message["seq"], message["text"]) == (seq, "you are still in"), \
        "after a failed re-login, pushed %r (acked %d)" % (message, seq)
    await witness.messages_until("Taskmaster", seq)

    #  A successful one replaces Alex with Sandy and leaves every room
    reply = await client.call("login", user="Sandy", password="password")
    assert reply.get("user") == "Sandy", "second login reply: %r" % (reply,)
    assert await rooms_of(client) == ROOMS_OF["Sandy"]
    await client.expect_error("not_in_room", "say", room="Taskmaster", text="hi")
    seq = await speaker.say("you left")
    #  The witness, on the same gateway, gets it; then the other must not
    got = await witness.messages_until("Taskmaster", seq)
    assert got[-1]["text"] == "you left"
    await client.expect_no_message(0.5)
    #  As Sandy it can join again and say
    await client.join("Taskmaster")
    seq = await client.say("now as Sandy")
    message = await client.next_message()
    assert (message["seq"], message["from"]) == (seq, "Sandy"), \
        "message said after re-login: %r" % (message,)


async def test_requests_without_id_get_replies_without_id(cluster):
    client = await cluster.client(1)
    await client.send_json({"op": "login", "user": "Sue", "password": "password"})
    reply = await client.next_reply()
    assert reply["op"] == "ok" and reply.get("user") == "Sue" and "id" not in reply, \
        "login without id: %r" % (reply,)
    await client.send_json({"op": "rooms"})
    reply = await client.next_reply()
    assert reply["op"] == "ok" and "id" not in reply, "rooms without id: %r" % (reply,)
    assert [room["name"] for room in reply["rooms"]] == ROOMS_OF["Sue"]
    await client.send_json({"op": "join", "room": "Nowhere"})
    reply = await client.next_reply()
    assert reply["op"] == "error" and reply.get("code") == "no_such_room" \
        and "id" not in reply, "failing join without id: %r" % (reply,)
    await client.send_json({"op": "join", "room": "Quite Interesting"})
    reply = await client.next_reply()
    assert reply["op"] == "ok" and reply.get("room") == "Quite Interesting" \
        and "id" not in reply, "join without id: %r" % (reply,)
    await client.send_json({"op": "say", "room": "Quite Interesting", "text": "no id"})
    reply = await client.next_reply()
    assert reply["op"] == "ok" and isinstance(reply.get("seq"), int) and "id" not in reply, \
        "say without id: %r" % (reply,)
    #  Mixed with ids, each reply still goes with its own request, in order
    await client.send_json({"op": "rooms"})
    ident = await client.send_request("rooms")
    await client.send_json({"op": "rooms"})
    first = await client.next_reply()
    tagged = await client.reply(ident)
    last = await client.next_reply()
    assert "id" not in first and "id" not in last and tagged.get("id") == ident, \
        "mixed replies: %r %r %r" % (first, tagged, last)
    assert client.reply_ids[-3:] == [None, ident, None], \
        "replies out of order: %r" % client.reply_ids[-3:]
