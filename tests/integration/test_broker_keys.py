"""test_broker_keys.py: the broker link's trust boundary (docs/security.md).

Every cluster runs with CURVE keys, as `make run` does. Here the broker is
attacked the way the issue that brought the keys found it open: from a
peer with no key, a key it does not trust, or the wrong broker key, every
attack of that report is replayed and must get no answer, no event and
store nothing. A gateway's key cannot administer, an admin's cannot act
for users, a revoked key stops working at once, a key added is trusted at
once, and a program asked to use the network without keys refuses to
start.
"""

import asyncio
import os
import shutil

import msgpack
import zmq
import zmq.asyncio

from harness import GENERATION, Cluster, deadline, run_program
from harness.broker import BrokerLink, use_keys
from harness.scope import SCOPE

ESC_NAME = "Mall\x1b[31mory"
#  How long a peer is given to get an answer that must not come, after an
#  answer to a trusted peer showed the broker serving meanwhile
SILENCE = 1.0


def stranger_keys(cluster):
    """A client key folder with a fresh pair the broker never saw, and the
    broker's real public key; returns it."""
    folder = os.path.join(cluster.dir, "stranger")
    os.makedirs(folder, mode=0o700)
    public, secret = zmq.curve_keypair()
    with open(os.path.join(folder, "stranger.cert_secret"), "w", encoding="ascii") as out:
        out.write('curve\n    public-key = "%s"\n    secret-key = "%s"\n'
                  % (public.decode(), secret.decode()))
    shutil.copy(os.path.join(cluster.key_folder("gateway"), "broker.cert"), folder)
    return folder


def attackers(cluster):
    """Peers that must get nothing: no key at all, an untrusted key, and
    the cluster's own gateway key dialling a broker key that is not the
    broker's (a man in the middle's)."""
    endpoint = "tcp://127.0.0.1:%d" % cluster.requests_port
    return {"no key": BrokerLink(endpoint),
            "untrusted key": BrokerLink(endpoint, stranger_keys(cluster), "stranger"),
            "wrong broker key": BrokerLink(endpoint, cluster.key_folder("gateway"),
                                           broker_key=zmq.curve_keypair()[0])}


def replay(link, backup_path):
    """Every attack the report listed, sent without waiting."""
    link.send("say", user="Alex", room="Taskmaster", text="said by an attacker",
              generation=GENERATION)
    link.send("history", user="Sandy", room="8 out of 10 cats", generation=GENERATION)
    link.send("member_add", user="Sandy", room="8 out of 10 cats")
    link.send("password_set", user="Sue", hash="$argon2id$v=19$m=65536,t=2,p=1$x$y")
    link.send("user_add", user=ESC_NAME, hash="$argon2id$v=19$m=65536,t=2,p=1$x$y")
    link.send("backup", path=backup_path)
    link.send("stats")


async def assert_silent(socket, what):
    """Nothing comes on socket (a DEALER's answer, a SUB's event) in SILENCE."""
    try:
        frames = await asyncio.wait_for(socket.recv_multipart(), deadline(SILENCE))
    except asyncio.TimeoutError:
        return
    raise AssertionError("%s got something: %r" % (what, frames))


async def subscriber(cluster, keys=None, own=None):
    """A SUB to every room of the broker's event socket"""
    socket = zmq.asyncio.Context.instance().socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    SCOPE.closers.append(lambda: socket.close(linger=0))
    if keys:
        use_keys(socket, keys, own)
    #  Every room, and Taskmaster by name: the broker tells its head then
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.setsockopt(zmq.SUBSCRIBE, b"Taskmaster\0")
    socket.connect("tcp://127.0.0.1:%d" % cluster.events_port)
    return socket


async def test_every_attack_of_the_report_from_an_untrusted_peer_gets_nothing():
    async with Cluster(gateways=1) as cluster:
        backup_path = os.path.join(cluster.dir, "stolen.db")
        peers = attackers(cluster)
        eavesdroppers = {"no key": await subscriber(cluster),
                         "untrusted key": await subscriber(
                             cluster, os.path.join(cluster.dir, "stranger"), "stranger")}
        for link in peers.values():
            replay(link, backup_path)
        #  Meanwhile a trusted gateway is served, and its says are published
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
        await sue.say("said by Sue while under attack")
        await asyncio.gather(
            *(assert_silent(link.socket, what) for what, link in peers.items()),
            *(assert_silent(socket, what + " subscriber") for what, socket in eavesdroppers.items()))
        #  Nothing was done: as seen by a trusted gateway and admin
        gateway = cluster.broker_link()
        history = await gateway.request("history", user="Alex", room="Taskmaster",
                                        generation=GENERATION)
        texts = [message["text"] for message in history["history"]]
        assert texts == ["said by Sue while under attack"], texts
        admin = cluster.broker_link("admin")
        members = await admin.request("member_list", room="8 out of 10 cats")
        assert "Sandy" not in members["names"], members
        users = await admin.request("user_list")
        assert ESC_NAME not in users["names"], users
        login = await gateway.request("login", user="Sue", password="password")
        assert login["op"] == "ok", "Sue's password was changed: %r" % login
        assert not os.path.exists(backup_path), "a backup was written"


async def test_a_gateway_key_cannot_administer_and_an_admin_key_cannot_act_for_users():
    async with Cluster(gateways=0) as cluster:
        gateway, admin = cluster.broker_link(), cluster.broker_link("admin")
        for op, fields in (("member_add", {"user": "Sandy", "room": "8 out of 10 cats"}),
                           ("user_list", {}), ("stats", {}), ("backup", {"path": "b.db"}),
                           ("password_set", {"user": "Sue", "hash": "x"})):
            reply = await gateway.request(op, **fields)
            assert reply.get("code") == "forbidden", "gateway key, %s: %r" % (op, reply)
        for op, fields in (("say", {"user": "Alex", "room": "Taskmaster", "text": "hi",
                                    "generation": GENERATION}),
                           ("login", {"user": "Sue", "password": "password"}),
                           ("history", {"user": "Sue", "room": "Taskmaster",
                                        "generation": GENERATION}),
                           ("join", {"user": "Sue", "room": "Taskmaster",
                                     "generation": GENERATION})):
            reply = await admin.request(op, **fields)
            assert reply.get("code") == "forbidden", "admin key, %s: %r" % (op, reply)
        #  Each in its own role is served
        assert (await admin.request("member_list", room="Taskmaster"))["op"] == "ok"
        assert (await gateway.request("say", user="Sue", room="Taskmaster", text="hi",
                                      generation=GENERATION))["seq"] == 1
        assert (await admin.request("ping"))["op"] == "ok"
        #  The event socket is for gateways only
        listening = await subscriber(cluster, cluster.key_folder("gateway"))
        admin_ear = await subscriber(cluster, cluster.key_folder("admin"))
        #  The room's head answers a subscription that took effect
        for expected in ("head", "message"):
            frames = await asyncio.wait_for(listening.recv_multipart(), deadline(10))
            event = msgpack.unpackb(frames[1], raw=False)
            assert event["op"] == expected, event
            if expected == "head":
                await gateway.request("say", user="Sue", room="Taskmaster", text="for gateways",
                                      generation=GENERATION)
        assert event["text"] == "for gateways", event
        await assert_silent(admin_ear, "an admin key's subscriber")


async def test_groupchat_admin_with_the_wrong_key_or_none_is_refused_clearly():
    async with Cluster(gateways=0) as cluster:
        #  Serving first (under valgrind it takes seconds to start)
        assert (await cluster.broker_link("admin").request("ping"))["op"] == "ok"
        endpoint = ["--requests", "tcp://127.0.0.1:%d" % cluster.requests_port, "--timeout", "5"]
        code, out, err = await run_program("groupchat-admin", endpoint + ["users"])
        assert code == 1 and "refused the handshake" in err and "--keys" in err, (code, err)
        #  A gateway's folder holds no admin pair; an admin pair in the
        #  wrong role is refused by the broker
        code, out, err = await run_program("groupchat-admin", endpoint + [
            "--keys", cluster.key_folder("gateway"), "users"])
        assert code == 1 and "admin.cert_secret" in err, (code, err)
        code, out, err = await run_program("groupchat-admin", [*cluster.admin_args(), "users"])
        assert code == 0 and out.split() == ["Alex", "Sandy", "Sue"], (code, out, err)


async def test_a_revoked_gateway_key_stops_at_once_and_comes_back_when_trusted_again():
    async with Cluster(gateways=1) as cluster:
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
        trusted = os.path.join(cluster.key_folder("broker"), "gateways", "gateway.cert")
        saved = trusted + ".revoked"
        os.rename(trusted, saved)
        #  Within the broker's one-second reread the gateway is served no more
        await cluster.wait_healthy(status=503, within=10)
        reply = await sue.request("say", room="Taskmaster", text="after the revocation")
        assert reply.get("code") == "unavailable", reply
        #  A new connection with that key is refused at its handshake
        revoked = cluster.broker_link()
        revoked.send("ping")
        await assert_silent(revoked.socket, "a revoked key")
        os.rename(saved, trusted)
        await cluster.wait_healthy(within=10)
        fresh = await cluster.login("Sue")
        await fresh.join("Taskmaster")
        await fresh.say("after the key came back")
        admin = cluster.broker_link("admin")
        stats = await admin.request("stats")
        assert stats["op"] == "ok", stats
        history = await cluster.broker_link().request("history", user="Sue", room="Taskmaster",
                                                      generation=GENERATION)
        texts = [message["text"] for message in history["history"]]
        assert texts == ["after the key came back"], texts


async def test_a_key_added_while_running_is_trusted_at_once_and_init_never_replaces_one():
    async with Cluster(gateways=0) as cluster:
        code, out, err = await run_program("groupchat-admin", ["keys", "add", "gateway", "edge",
                                                               cluster.keys])
        assert code == 0, (code, out, err)
        edge = BrokerLink("tcp://127.0.0.1:%d" % cluster.requests_port,
                          os.path.join(cluster.keys, "gateway-edge"), "gateway")
        assert (await edge.request("ping"))["op"] == "ok"
        code, out, err = await run_program("groupchat-admin", ["keys", "add", "gateway", "edge",
                                                               cluster.keys])
        assert code == 1 and "choose another name" in out, (code, out, err)
        before = {name: open(os.path.join(cluster.keys, name), encoding="ascii").read()
                  for name in ("broker/broker.cert", "gateway/gateway.cert_secret")}
        code, out, err = await run_program("groupchat-admin", ["keys", "init", cluster.keys])
        assert (code, out) == (0, ""), (code, out, err)
        for name, text in before.items():
            assert open(os.path.join(cluster.keys, name), encoding="ascii").read() == text, name
        for folder in ("broker", "gateway", "admin", "gateway-edge"):
            mode = os.stat(os.path.join(cluster.keys, folder)).st_mode & 0o777
            assert mode == 0o700, "%s: %o" % (folder, mode)


async def refused_start(program, args, env=None):
    code, out, err = await run_program(program, args, env=env)
    return code, err


async def test_a_network_endpoint_without_keys_refuses_to_start_unless_insecure():
    for program, args in (
            ("groupchat-broker", ["--requests", "tcp://0.0.0.0:5999", "--db", "/nonexistent/x"]),
            ("groupchat-broker", ["--events", "tcp://*:5998", "--db", "/nonexistent/x"]),
            ("groupchat-gateway", ["--requests", "tcp://10.1.2.3:5555"]),
            ("groupchat-gateway", ["--events", "tcp://broker:5556"]),
            ("groupchat-admin", ["--requests", "tcp://broker:5555", "users"])):
        code, err = await refused_start(program, args)
        assert code == 2, "%s %s: exit %d %s" % (program, args, code, err)
        assert "--keys" in err and "--insecure" in err and "other hosts" in err, err
    #  --insecure (or GROUPCHAT_INSECURE=1) lets it go on, here to a
    #  failure of its own: the database cannot be opened
    code, err = await refused_start("groupchat-broker", [
        "--requests", "tcp://127.0.0.1:0", "--events", "tcp://0.0.0.0:0", "--db",
        "/nonexistent/x", "--insecure"])
    assert code == 1 and "other hosts" not in err, (code, err)
    code, err = await refused_start("groupchat-broker", [
        "--events", "tcp://0.0.0.0:0", "--db", "/nonexistent/x"],
        env={"GROUPCHAT_INSECURE": "1"})
    assert code == 1 and "other hosts" not in err, (code, err)
    #  Keys that are not there: a clear message, exit 1
    code, err = await refused_start("groupchat-gateway", ["--keys", "/nonexistent/keys"])
    assert code == 1 and "/nonexistent/keys/gateway.cert_secret" in err, (code, err)
    code, err = await refused_start("groupchat-broker", [
        "--keys", "/nonexistent/keys", "--db", "/nonexistent/x"])
    assert code == 1, (code, err)


async def test_a_gateway_refused_by_the_broker_says_why_and_is_taken_in_once_trusted():
    async with Cluster(gateways=1, start_broker=False) as cluster:
        trusted = os.path.join(cluster.key_folder("broker"), "gateways", "gateway.cert")
        saved = trusted + ".later"
        os.rename(trusted, saved)
        await cluster.start_broker(wait=False)
        gateway = cluster.gateways[0]
        await gateway.wait_for_log("refused this gateway's handshake", deadline(10))
        assert await cluster.healthz() == 503
        os.rename(saved, trusted)
        await cluster.wait_healthy(within=10)
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
