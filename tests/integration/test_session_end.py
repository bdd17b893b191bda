"""test_session_end.py: removing a user, or setting their password, ends
their sessions on every gateway at once (docs/protocol.md, "Session end").

Each open connection of the user is pushed {"op":"closed","reason":...}
and closed with code 4001, their tokens stop working, and a name removed
and added again is a new user everywhere: nothing of the old one (its
connections, its rooms, its tokens) acts as the new one. Each test uses
a user of its own, so the module's tests share one cluster.
"""

import asyncio
import signal
import time

import websockets

from harness import Cluster, deadline

#  The bound on a session's end after groupchat-admin returns: the event
#  goes from the broker to every gateway at once
END_WITHIN = 2.0
CLOSE_CODE = 4001
REMOVED = "your account was removed"
PASSWORD_CHANGED = "your password was changed"
ENDED = "your account was removed or its password was changed"


async def add_member(cluster, user, password, room="Taskmaster"):
    await cluster.admin("user", "add", user, password=password)
    await cluster.admin("member", "add", user, room)


async def logged_in_on_both_gateways(cluster, user, password, room="Taskmaster"):
    """The user on each gateway: on gateway 0 in the room, on gateway 1 only
    logged in (a connection that sends nothing must end too)."""
    clients = [await cluster.login(user, gateway=gateway, password=password)
               for gateway in (0, 1)]
    await clients[0].join(room)
    return clients


async def assert_session_ended(clients, reason, started):
    """Each client is pushed `closed` with reason, then closed with 4001,
    within END_WITHIN of `started`."""
    for client in clients:
        event = await client.next_event(timeout=END_WITHIN)
        assert event == {"op": "closed", "reason": reason}, "%s: %r" % (client.name, event)
        code = await client.wait_closed(END_WITHIN)
        assert code == CLOSE_CODE, "%s: close code %r" % (client.name, code)
        assert not client.messages.qsize(), "%s: a message after the end" % client.name
    elapsed = time.monotonic() - started
    assert elapsed < deadline(END_WITHIN), "ended after %.2f s" % elapsed


async def assert_token_refused(cluster, token, gateway=1):
    client = await cluster.client(gateway)
    await client.expect_error("bad_credentials", "login", token=token)
    await client.close()


async def test_removing_a_user_ends_their_sessions_on_every_gateway(cluster):
    await add_member(cluster, "Greg", "first")
    greg = await logged_in_on_both_gateways(cluster, "Greg", "first")
    sue = await cluster.login("Sue", gateway=0)
    await sue.join("Taskmaster")
    started = time.monotonic()
    await cluster.admin("user", "remove", "Greg")
    await assert_session_ended(greg, REMOVED, started)
    await assert_token_refused(cluster, greg[0].token)
    #  Others on the same gateway and in the same room are not touched
    seq = await sue.say("Greg has gone")
    assert (await sue.next_message())["seq"] == seq


async def test_a_name_removed_and_added_again_is_a_new_user(cluster):
    await add_member(cluster, "Hal", "first")
    hal = await logged_in_on_both_gateways(cluster, "Hal", "first")
    await cluster.admin("user", "remove", "Hal")
    await assert_session_ended(hal, REMOVED, time.monotonic())
    await add_member(cluster, "Hal", "second")
    #  Nothing of the old Hal works: his token, his password
    for gateway in (0, 1):
        await assert_token_refused(cluster, hal[0].token, gateway)
        client = await cluster.client(gateway)
        await client.expect_error("bad_credentials", "login", user="Hal", password="first")
    #  The new Hal logs in, joins and says, on either gateway
    new = await cluster.login("Hal", gateway=1, password="second")
    await new.join("Taskmaster")
    seq = await new.say("the new Hal")
    message = await new.next_message()
    assert (message["seq"], message["from"]) == (seq, "Hal"), message


async def test_a_new_password_ends_the_old_sessions_and_keeps_the_new(cluster):
    await add_member(cluster, "Ida", "first")
    ida = await logged_in_on_both_gateways(cluster, "Ida", "first")
    started = time.monotonic()
    await cluster.admin("password", "Ida", password="second")
    await assert_session_ended(ida, PASSWORD_CHANGED, started)
    await assert_token_refused(cluster, ida[1].token)
    client = await cluster.client(0)
    await client.expect_error("bad_credentials", "login", user="Ida", password="first")
    #  A login with the new password is a session of the new generation:
    #  it stays, and its token works on the other gateway
    new = await cluster.login("Ida", gateway=0, password="second")
    await new.join("Taskmaster")
    again = await cluster.client(1)
    await again.call("login", token=new.token)
    seq = await new.say("with the new password")
    assert (await new.next_message())["seq"] == seq
    assert [room["name"] for room in (await again.call("rooms"))["rooms"]] == ["Taskmaster"]


async def test_says_in_flight_when_the_session_ends(cluster):
    """Says keep going out while the password changes: the replies that
    come are in order with none missing before them, each acknowledged say
    is stored, then `closed` and the close; a say never answered may or
    may not be stored, as on a dropped connection."""
    await add_member(cluster, "Jo", "first")
    jo = await cluster.login("Jo", gateway=0, password="first")
    await jo.join("Taskmaster")
    sent = []

    async def keep_saying():
        while True:
            sent.append(await jo.send_request("say", room="Taskmaster",
                                              text="in flight %d" % len(sent)))
            if len(sent) > 16:
                await jo.reply(sent[-17])

    saying = asyncio.ensure_future(keep_saying())
    await jo.next_message()                 # the says flow
    await cluster.admin("password", "Jo", password="second")
    event = await jo.next_event()
    assert event["op"] == "closed", event
    assert await jo.wait_closed() == CLOSE_CODE
    try:
        await saying
    except (AssertionError, websockets.ConnectionClosed):
        pass                                # the connection closed under it
    says = set(sent)
    replies = [frame for frame in jo.timeline
               if frame["op"] in ("ok", "error") and frame.get("id") in says]
    assert [reply["id"] for reply in replies] == sent[:len(replies)], replies[-3:]
    acked = {reply["seq"]: sent.index(reply["id"]) for reply in replies if reply["op"] == "ok"}
    assert acked, "no say was acknowledged before the end"
    watcher = await cluster.login("Sue", gateway=1)
    await watcher.join("Taskmaster")
    history = await watcher.history(room="Taskmaster", before=max(acked) + 1, limit=100)
    stored = {message["seq"]: message["text"] for message in history}
    checked = [seq for seq in acked if seq in stored]
    assert len(checked) == min(len(acked), 100), (len(checked), len(acked))
    for seq in checked:
        assert stored[seq] == "in flight %d" % acked[seq], (seq, stored[seq])


async def wait_dropped_by_the_broker(cluster, gateway, within=20.0):
    """Waits until the broker has closed the stopped gateway's connections
    to both of its ports (ZeroMQ's heartbeat gives up after 3 s): what it
    publishes meanwhile is lost for that gateway."""
    process = cluster.gateways[gateway]
    end = time.monotonic() + deadline(within)
    while (process.connected_to(cluster.events_port)
           or process.connected_to(cluster.requests_port)):
        assert time.monotonic() < end, "the broker kept the stopped gateway's connections"
        await asyncio.sleep(0.1)


async def test_a_gateway_that_missed_the_end_never_lets_the_old_session_act():
    """Kim is in Taskmaster on gateway 1, which is stopped (SIGSTOP) until
    the broker drops its connections, then Kim is removed, added again and
    made a member: the closed event and the kick never reach it. Resumed,
    the old connection says at once: the broker refuses it (its login's
    generation is over), the session ends, and nothing of the old Kim is
    stored or heard as the new Kim."""
    async with Cluster(gateways=2) as cluster:
        await add_member(cluster, "Kim", "first")
        old = await cluster.login("Kim", gateway=1, password="first")
        await old.join("Taskmaster")
        stopped = cluster.gateways[1]
        stopped.send_signal(signal.SIGSTOP)
        try:
            await wait_dropped_by_the_broker(cluster, 1)
            await cluster.admin("user", "remove", "Kim")
            await add_member(cluster, "Kim", "second")
            new = await cluster.login("Kim", gateway=0, password="second")
            await new.join("Taskmaster")
            secret = await new.say("only for the new Kim")
            await old.send_request("say", room="Taskmaster", text="the old Kim speaking")
        finally:
            stopped.send_signal(signal.SIGCONT)
        event = await old.next_event(timeout=10)
        assert event["op"] == "closed" and event["reason"] in (REMOVED, ENDED), event
        assert await old.wait_closed() == CLOSE_CODE
        said = [frame for frame in old.timeline if frame["op"] == "ok" and "seq" in frame]
        assert not said, "the old session's say was acknowledged: %r" % said
        heard = [message for message in old.timeline if message["op"] == "message"]
        assert all(message["seq"] < secret for message in heard), heard
        history = await new.history(room="Taskmaster", limit=20)
        assert "the old Kim speaking" not in [message["text"] for message in history]
        #  Gateway 1 serves the new Kim
        again = await cluster.login("Kim", gateway=1, password="second")
        await again.join("Taskmaster")
        await again.say("the new Kim on gateway 1")
