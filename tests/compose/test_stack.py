"""test_stack.py: docker-compose.yml, up for real (`make test-compose`).

The stack is built from this checkout and brought up on a Docker engine
under a project name of its own, on free host ports; then, against the
real containers: every service healthy; the seed's use case through the
load balancer; a gateway container killed under connected clients; the
broker restarted under a stream of says; `compose run` of the client and
of groupchat-admin; wss:// ending at the load balancer, with the
certificate made at the first start or one given in GROUPCHAT_TLS_DIR,
and its clear port on this host's loopback only; the browser client
through the load balancer, in Chromium, over http:// and https://; and `down` then `up`
keeping the history and the certificate, `down -v` removing them. The
tests run in this order and share the stack; the last takes it down with
its volumes.
"""

import asyncio
import errno
import json
import os
import re
import signal
import ssl
import tempfile
import time

import harness
from harness import (PASSWORD, ROOMS_OF, Certificates, Client, Follower, ServerError,
                     connect_error, deadline, fingerprint, http_get, other_local_address,
                     run_program, served_fingerprint)
from harness.browser import Browser
from harness.stack import Stack

SLOW = True
STACK = Stack()
ROOM = "Taskmaster"


async def login(user, through="lb"):
    client = await Client.connect(STACK.url(through), name=user)
    await client.login(user)
    return client


def room_names(reply):
    return [room["name"] for room in reply["rooms"]]


async def test_up_builds_the_images_and_every_service_becomes_healthy():
    await STACK.down(volumes=True)          # whatever an interrupted run left
    STACK.take_back_certificate()
    started = time.monotonic()
    await STACK.up(build=True)
    built = time.monotonic() - started
    healthy = await STACK.wait_healthy(within=180)
    print("build and up %.1f s, then healthy in %.1f s" % (built, healthy))
    for service in ("broker", "gateway1", "gateway2", "lb"):
        status, health, _, _ = await STACK.state(service)
        assert (status, health) == ("running", "healthy"), (service, status, health)


async def test_the_use_case_through_the_load_balancer():
    await STACK.ready()
    alex, sue, sandy = [await login(user) for user in ("Alex", "Sue", "Sandy")]
    for client in (alex, sue, sandy):
        assert room_names(await client.call("rooms")) == ROOMS_OF[client.name], client.name

    #  Twelve messages: a joiner sees the last 10
    await sue.join(ROOM)
    first = await sue.say("opening line")
    for number in range(2, 13):
        await sue.say("line %d" % number)
    history = (await alex.join(ROOM))["history"]
    assert [m["seq"] for m in history] == list(range(first + 2, first + 12)), history
    assert history[-1]["text"] == "line 12" and history[-1]["from"] == "Sue", history[-1]

    #  Only members: Alex is not in Quite Interesting
    await alex.expect_error("not_member", "join", room="Quite Interesting")

    #  Only in-room: Sandy, in Quite Interesting, hears nothing of Taskmaster
    await sandy.join("Quite Interesting")
    seq = await alex.say("for Taskmaster only")
    got = await sue.messages_until(ROOM, seq)
    assert got[-1]["text"] == "for Taskmaster only" and got[-1]["from"] == "Alex", got
    await sandy.expect_no_message(0.5)
    for client in (alex, sue, sandy):
        await client.close()


def printed_from(follower, text):
    """What a `--follow --json` printed from the message `text` on, as
    (seq, text); lines that are not messages (its notices) left out."""
    messages = []
    for line in follower.lines:
        try:
            messages.append(json.loads(line))
        except ValueError:
            pass
    index = next(i for i, m in enumerate(messages) if m.get("text") == text)
    return [(m["seq"], m["text"]) for m in messages[index:]]


async def open_connections(port):
    status, body = await http_get(port, "/metrics")
    assert status == 200, status
    match = re.search(rb"^groupchat_connections_open (\d+)", body, re.M)
    assert match, body[:500]
    return int(match.group(1))


async def test_a_gateway_that_dies_loses_no_client_and_restarts_by_its_policy():
    """The gateway container dies as in a crash (SIGKILL to its first
    process, from this host). Not `docker kill`: Docker takes that for a
    manual stop and leaves the container down whatever its policy."""
    await STACK.ready()
    _, _, started_before, restarts_before = await STACK.state("gateway1")
    #  The command-line client, with its own reconnecting, through haproxy
    users = ("Alex", "Sue", "Sandy", "Sue")
    followers = [await Follower.start(user, ROOM, STACK.url()) for user in users]
    #  The speaker is on gateway2 itself, which stays up
    speaker = await login("Alex", through="gateway2")
    await speaker.join(ROOM)
    marker = "before the death %d" % time.time()
    said = [(await speaker.say(marker), marker)]
    for follower in followers:
        await follower.until_text(marker, timeout=60)
    assert await open_connections(STACK.gateway_ports[0]) >= 1, \
        "the load balancer put no follower on gateway1: nothing to test"

    for number in range(60):
        if number == 10:
            os.kill(await STACK.first_pid("gateway1"), signal.SIGKILL)
        text = "while gateway1 dies %d" % number
        said.append((await speaker.say(text), text))
        await asyncio.sleep(0.05)       # a stream over ~3 s, not a burst
    last = said[-1][1]
    for user, follower in zip(users, followers):
        await follower.until_text(last, timeout=60)
        got = printed_from(follower, marker)
        assert got[:len(said)] == said, "%s's follower: %r" % (user, got)
    for follower in followers:
        await follower.stop()
    await speaker.close()

    #  Restarted by Docker, as its restart policy says, and healthy again
    await STACK.wait_healthy(("gateway1",), within=60)
    _, _, started_after, restarts_after = await STACK.state("gateway1")
    assert started_after != started_before, "gateway1 was not restarted"
    assert restarts_after == restarts_before + 1, (restarts_before, restarts_after)


async def say_acknowledged(client, text):
    """The seq a say was acknowledged with, or None when refused or cut.
    Over the gateways' rate, it waits as long as they say, as a client
    does."""
    try:
        return await client.say(text)
    except ServerError as error:
        assert error.code in ("unavailable", "rate_limited"), error
        if error.code == "rate_limited":
            await asyncio.sleep(error.reply["retry_after"] / 1000)
    except (AssertionError, ConnectionError):
        pass            # the connection closed under it
    return None


async def test_the_broker_restarted_under_says_keeps_every_acknowledged_one():
    await STACK.ready()
    speaker = await login("Sue")
    await speaker.join(ROOM)
    acknowledged = []
    restart = None
    number = 0
    while restart is None or not restart.done() or len(acknowledged) < 40:
        text = "stream %d" % number
        number += 1
        seq = await say_acknowledged(speaker, text)
        if seq is None:
            await asyncio.sleep(0.05)   # a client's pace while the broker is away
            if speaker.closed.is_set():
                speaker = await login("Sue")
                await speaker.join(ROOM)
            continue
        acknowledged.append((seq, text))
        if len(acknowledged) == 20 and restart is None:
            restart = asyncio.ensure_future(STACK.run("restart", "broker", timeout=90))
        assert number < 5000, "the stream never resumed after the restart"
    await restart
    await STACK.wait_healthy()
    seqs = [seq for seq, _ in acknowledged]
    assert seqs == sorted(set(seqs)), "seqs went back or repeated: %r" % seqs

    reader = await login("Sandy")
    await reader.join(ROOM)
    stored = {}
    before = seqs[-1] + 1
    while before > seqs[0]:
        page = await reader.history(ROOM, before=before, limit=50)
        assert page, "no history before %d" % before
        stored.update((m["seq"], m["text"]) for m in page)
        before = page[0]["seq"]
    missing = [(seq, text) for seq, text in acknowledged if stored.get(seq) != text]
    assert not missing, "acknowledged but not stored after the restart: %r" % missing
    for client in (speaker, reader):
        await client.close()


async def test_compose_run_of_the_client_says_into_a_room():
    await STACK.ready()
    listener = await login("Alex")
    await listener.join(ROOM)
    text = "said by compose run %d" % time.time()
    await STACK.one_off("--user", "Sue", "--room", ROOM, "--say", text, "ws://lb:8080",
                        env={"GROUPCHAT_PASSWORD": PASSWORD})
    message = await listener.next_message(deadline(30))
    assert (message["from"], message["text"]) == ("Sue", text), message
    await listener.close()


async def test_groupchat_admin_in_a_container_lists_users_and_members():
    await STACK.ready()
    users = await STACK.one_off("--json", "users", service="admin")
    names = sorted(json.loads(users.strip().splitlines()[-1]))
    assert names == ["Alex", "Sandy", "Sue"], users
    members = await STACK.one_off("members", ROOM, service="admin")
    assert all(name in members for name in ("Alex", "Sue", "Sandy")), members
    #  The client's container has no key: the broker does not answer it
    said = await STACK.one_off("--timeout", "3", "users", entrypoint="groupchat-admin",
                               env={"GROUPCHAT_REQUESTS": "tcp://broker:5555",
                                    "GROUPCHAT_INSECURE": "1"}, check=False)
    assert "refused the handshake" in said, said


def scratch_folder(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=harness.CONFIG.tmp_root)


async def say_over_tls(text, *options):
    """bin/groupchat on this host says `text` as Sue over wss://localhost
    through the load balancer; returns (code, stdout, stderr)."""
    args = ["--user", "Sue", "--room", ROOM, "--say", text] + list(options)
    return await run_program("groupchat", args + [STACK.tls_url()], timeout=30,
                             env={"GROUPCHAT_PASSWORD": PASSWORD})


async def served_becomes(wanted, within=30.0):
    """Waits until the load balancer's wss:// port presents the
    certificate of that fingerprint (a reload or restart takes a moment)."""
    end = time.monotonic() + deadline(within)
    served = None
    while served != wanted:
        assert time.monotonic() < end, "lb serves %s, not %s" % (served, wanted)
        try:
            served = await served_fingerprint(STACK.lb_tls_port)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            served = None           # haproxy restarting
        if served != wanted:
            await asyncio.sleep(0.2)


async def test_wss_ends_at_the_load_balancer_with_the_certificate_made_for_localhost():
    """The CLI on this host, trusting the certificate exported from the
    volume, says into a room over wss://localhost and a member hears it;
    without it the CLI refuses the server. The clear port is this host's
    alone, the TLS port everyone's."""
    await STACK.ready()
    made = await STACK.export_certificate(os.path.join(scratch_folder("export-"), "lb.pem"))
    assert fingerprint(made) == await served_fingerprint(STACK.lb_tls_port)
    listener = await Client.connect(STACK.tls_url(), name="Alex over wss",
                                    ssl=ssl.create_default_context(cafile=made))
    await listener.login("Alex")
    await listener.join(ROOM)
    text = "over wss through haproxy %d" % time.time()
    code, out, err = await say_over_tls(text, "--ca", made)
    assert code == 0, (code, out, err)
    message = await listener.next_message(deadline(30))
    assert (message["from"], message["text"]) == ("Sue", text), message

    code, out, err = await say_over_tls("never stored")
    assert code == 1 and "certificate is not trusted: self-signed certificate" in err, \
        (code, out, err)
    await listener.expect_no_message(1.0)
    await listener.close()

    lb = await STACK.container("lb")
    clear = (await STACK.docker("port", lb, "8080/tcp")).split()
    assert clear == ["127.0.0.1:%d" % STACK.lb_port], clear
    secure = (await STACK.docker("port", lb, "8443/tcp")).split()
    assert "0.0.0.0:%d" % STACK.lb_tls_port in secure, secure
    other = other_local_address()
    if other:
        assert await connect_error(other, STACK.lb_port) == errno.ECONNREFUSED, other
        assert await connect_error(other, STACK.lb_tls_port) is None, other


async def test_the_browser_client_through_the_load_balancer():
    """The page the gateways serve, through haproxy, in Chromium: over
    http:// on this host and over https:// with the certificate made at
    the first start (wss:// back through haproxy). Alex's says in the
    page reach Sue's client."""
    await STACK.ready()
    sue = await login("Sue")
    await sue.join(ROOM)
    for url in ("http://127.0.0.1:%d/" % STACK.lb_port,
                "https://localhost:%d/" % STACK.lb_tls_port):
        browser = await Browser.open(url, "Alex at " + url)
        await browser.logged_in("Alex")
        await browser.enter(ROOM)
        text = "from the page at %s" % url
        await browser.say(text)
        await browser.wait_texts([text], timeout=30)
        while True:
            message = await sue.next_message(deadline(30))
            if message["text"] == text:
                break
        assert message["from"] == "Alex", message
        await browser.no_page_errors()
        browser.close()
    await sue.close()


async def test_a_certificate_given_in_GROUPCHAT_TLS_DIR_is_served_instead():
    """The operator's pair is taken by the tls service and served after a
    reload of haproxy; taken away, the certificate made first comes back
    after a restart (the two ways docs/operations.md gives)."""
    await STACK.ready()
    made = await served_fingerprint(STACK.lb_tls_port)
    certs = Certificates(scratch_folder("given-"))
    await certs.authority("ca")
    await certs.server("chat", "ca")
    STACK.give_certificate(certs.path("chat"), certs.path("chat", "key"))
    try:
        out = await STACK.run("run", "--rm", "-T", "tls")
        assert "the certificate given in GROUPCHAT_TLS_DIR" in out, out
        await STACK.run("kill", "-s", "USR2", "lb")
        await served_becomes(fingerprint(certs.path("chat")))
        code, out, err = await say_over_tls("trusting the operator's CA",
                                            "--ca", certs.path("ca"))
        assert code == 0, (code, out, err)
    finally:
        STACK.take_back_certificate()
    out = await STACK.run("run", "--rm", "-T", "tls")
    assert "the self-signed certificate kept" in out, out
    await STACK.run("restart", "lb")
    await served_becomes(made)
    await STACK.wait_healthy(("lb",))


async def test_down_and_up_keep_the_history_and_certificate_and_down_v_removes_them():
    await STACK.ready()
    speaker = await login("Sue")
    await speaker.join(ROOM)
    text = "kept across down and up %d" % time.time()
    await speaker.say(text)
    await speaker.close()
    made = await served_fingerprint(STACK.lb_tls_port)

    await STACK.down()
    for volume in ("groupchat-data", "groupchat-tls"):
        assert await STACK.volume_exists(volume), "down removed the volume %s" % volume
    await STACK.up()
    await STACK.wait_healthy()
    reader = await login("Alex")
    history = (await reader.join(ROOM))["history"]
    assert history and history[-1]["text"] == text, history[-3:]
    await reader.close()
    assert await served_fingerprint(STACK.lb_tls_port) == made, "a new certificate after up"

    await STACK.down(volumes=True)
    for volume in ("groupchat-data", "groupchat-tls"):
        assert not await STACK.volume_exists(volume), "down -v left the volume %s" % volume
    await STACK.up()
    await STACK.wait_healthy()
    reader = await login("Alex")
    assert (await reader.join(ROOM))["history"] == [], "a new volume has history"
    await reader.close()
    assert await served_fingerprint(STACK.lb_tls_port) != made, "the old certificate after -v"
    await STACK.down(volumes=True)
