"""test_tls.py: gateways that serve wss:// and https://, and clients that
trust them only when they should.

The module's cluster has four gateways, each with its own certificate
made by certs.py: GOOD (signed by the test CA, for localhost and
127.0.0.1), EXPIRED (the same CA, ended yesterday), SELF_SIGNED, and
WRONG_HOST (the test CA, for wrong.example only). The system's CAs trust
none of them. Python clients trust the test CA through their SSLContext;
the command-line client through --ca, and must refuse every other case
with a clear message, exit 1 and nothing said. The gateway itself must
refuse to start on half a TLS configuration.
"""

import os
import uuid

from harness import (CONFIG, Certificates, Cluster, Follower, PASSWORD,
                     free_port, http_get, run_program, seq_of)

#  The gateway's TLS: the broker's database plays no part
DATABASES = ("sqlite",)

GOOD, EXPIRED, SELF_SIGNED, WRONG_HOST = range(4)
CERTIFICATES = ("good", "expired", "self-signed", "wrong-host")
ROOM = "Taskmaster"

_certs = None


async def certificates():
    """The module's CAs and certificates, made once."""
    global _certs
    if _certs is None:
        certs = Certificates(os.path.join(CONFIG.tmp_root, "certs"))
        await certs.authority("ca")
        await certs.authority("other-ca")
        await certs.server("good", "ca")
        await certs.server("expired", "ca", expired=True)
        await certs.self_signed("self-signed")
        await certs.server("wrong-host", "ca", hosts=("wrong.example",))
        _certs = certs
    return _certs


async def shared_cluster():
    """The cluster of this module's tests: one gateway per certificate."""
    certs = await certificates()
    return Cluster(gateways=len(CERTIFICATES), tls=True,
                   per_gateway=[certs.gateway_args(name) for name in CERTIFICATES])


async def say_with_cli(cluster, gateway, text, options=(), env=None):
    """bin/groupchat --say over wss://localhost; returns (code, out, err)."""
    args = ["--user", "Sue", "--room", ROOM, "--say", text] + list(options)
    return await run_program("groupchat", args + [cluster.url(gateway, host="localhost")],
                             timeout=15, env=dict({"GROUPCHAT_PASSWORD": PASSWORD}, **(env or {})))


async def texts_said_since(cluster, seq):
    """The texts of the room stored after `seq`, read over trusted wss://."""
    reader = await cluster.login("Alex", gateway=GOOD, ssl=(await certificates()).context("ca"))
    reply = await reader.join(ROOM, since=seq)
    await reader.close()
    return [message["text"] for message in reply["history"]]


# --------------------------------------------------------------------------
#  wss:// and https://

async def test_wss_carries_the_protocol_end_to_end(cluster):
    trust = (await certificates()).context("ca")
    sue = await cluster.login("Sue", gateway=GOOD, ssl=trust)
    alex = await cluster.login("Alex", gateway=GOOD, ssl=trust)
    rooms = (await sue.call("rooms"))["rooms"]
    assert {"name": ROOM} in rooms, rooms
    for client in (sue, alex):
        await client.join(ROOM)
    seq = await sue.say("over TLS")
    for client in (sue, alex):
        message = await client.next_message()
        assert (message["seq"], message["from"], message["text"]) == (seq, "Sue", "over TLS"), \
            message


async def test_healthz_and_metrics_are_served_over_https_only(cluster):
    trust = (await certificates()).context("ca")
    port = cluster.ports[GOOD]
    status, body = await http_get(port, "/healthz", ssl=trust, host="localhost")
    assert (status, body) == (200, b"ok\n"), (status, body)
    status, body = await http_get(port, "/metrics", ssl=trust, host="localhost")
    assert status == 200 and b"groupchat_connections_total" in body, (status, body[:200])
    #  Clear text on the TLS port gets no HTTP answer at all
    try:
        status, _ = await http_get(port, "/healthz")
    except (OSError, AssertionError, EOFError, ValueError):
        status = None
    assert status is None, "a clear-text GET /healthz on the TLS port answered %r" % status


# --------------------------------------------------------------------------
#  The command-line client verifies

async def test_cli_says_and_follows_over_wss_trusting_the_ca_given(cluster):
    certs = await certificates()
    ca = certs.path("ca")
    sue = await cluster.login("Sue", gateway=GOOD, ssl=certs.context("ca"))
    await sue.join(ROOM)
    await sue.say("before the follower")
    follower = await Follower.start("Sandy", ROOM, cluster.url(GOOD, host="localhost"),
                                    options=["--ca", ca], wrapped=True)
    await follower.until_text('"before the follower"')     # the history is printed
    code, out, err = await say_with_cli(cluster, GOOD, "by --ca", options=["--ca", ca])
    assert code == 0, (code, out, err)
    code, out, err = await say_with_cli(cluster, GOOD, "by GROUPCHAT_CA",
                                        env={"GROUPCHAT_CA": ca})
    assert code == 0, (code, out, err)
    lines = await follower.until_text('"by GROUPCHAT_CA"')
    assert '"by --ca"' in lines[-2] and '"by GROUPCHAT_CA"' in lines[-1], lines[-3:]
    await follower.stop()


async def test_cli_trusts_a_self_signed_server_given_as_its_ca(cluster):
    certs = await certificates()
    code, out, err = await say_with_cli(cluster, SELF_SIGNED, "to myself",
                                        options=["--ca", certs.path("self-signed")])
    assert code == 0, (code, out, err)


async def test_cli_refuses_an_untrusted_server_and_says_nothing(cluster):
    certs = await certificates()
    ca, other_ca = certs.path("ca"), certs.path("other-ca")
    head = seq_of(await (await cluster.login("Alex", gateway=GOOD, ssl=certs.context("ca")))
                  .join(ROOM))
    cases = [   # gateway, --ca, what the reason must hold
        (GOOD, None, "issuer"),                 # the system's CAs do not know ours
        (GOOD, other_ca, "issuer"),
        (EXPIRED, ca, "expired"),
        (SELF_SIGNED, None, "self"),
        (SELF_SIGNED, ca, "self"),
        (WRONG_HOST, ca, "mismatch"),
    ]
    refused = []
    for gateway, trusted, reason in cases:
        text = "must not be stored %s" % uuid.uuid4().hex[:8]
        code, out, err = await say_with_cli(cluster, gateway, text,
                                            options=["--ca", trusted] if trusted else [])
        case = "%s with --ca %s" % (CERTIFICATES[gateway], trusted)
        assert code == 1, "%s: exit %d, expected 1\n%s" % (case, code, err)
        assert "certificate is not trusted" in err and reason in err, "%s: %r" % (case, err)
        assert cluster.url(gateway, host="localhost") in err and out == "", (case, out, err)
        refused.append(text)
    stored = await texts_said_since(cluster, head)
    assert not set(refused) & set(stored), "refused says were stored: %r" % stored


async def test_cli_following_an_untrusted_server_ends_instead_of_retrying(cluster):
    follower = await Follower.start("Sandy", ROOM, cluster.url(EXPIRED, host="localhost"),
                                    options=["--ca", (await certificates()).path("ca")],
                                    wrapped=True)
    code, err = await follower.exited()
    assert code == 1 and "expired" in err, (code, err)


async def test_cli_refuses_a_ca_file_it_cannot_use(cluster):
    certs = await certificates()
    for path, why in ((os.path.join(CONFIG.tmp_root, "no-such-ca.pem"), "cannot read"),
                      (certs.path("ca", "key"), "no PEM CERTIFICATE")):
        code, out, err = await say_with_cli(cluster, GOOD, "never", options=["--ca", path])
        assert code == 1 and path in err and why in err, (path, code, err)


# --------------------------------------------------------------------------
#  The gateway starts on a whole TLS configuration or not at all

async def gateway_exit(args, env=None):
    """Runs a gateway that must refuse to start; returns (code, stderr)."""
    code, _, err = await run_program("groupchat-gateway", ["--port", str(free_port())] + args,
                                     timeout=10, env=env)
    return code, err


async def test_gateway_wants_both_certificate_and_key():
    certs = await certificates()
    cert, key = certs.path("good"), certs.path("good", "key")
    for args, env in ((["--tls-cert", cert], None), (["--tls-key", key], None),
                      ([], {"GROUPCHAT_TLS_CERT": cert})):
        code, err = await gateway_exit(args, env)
        assert code == 2 and "go together" in err and "usage" in err, (args, env, code, err)


async def test_gateway_refuses_a_certificate_or_key_it_cannot_use():
    certs = await certificates()
    cert, key = certs.path("good"), certs.path("good", "key")
    missing = os.path.join(CONFIG.tmp_root, "no-such-key.pem")
    cases = [   # flags, what stderr must say
        (["--tls-cert", cert, "--tls-key", missing], [missing, "cannot read"]),
        (["--tls-cert", key, "--tls-key", key], ["--tls-cert", "no PEM CERTIFICATE"]),
        (["--tls-cert", cert, "--tls-key", cert], ["--tls-key", "no PEM PRIVATE KEY"]),
        #  Both PEM, but not a pair: OpenSSL refuses, through lws
        (["--tls-cert", cert, "--tls-key", certs.path("expired", "key")], ["cannot start"]),
    ]
    for args, said in cases:
        code, err = await gateway_exit(args)
        assert code == 1 and all(part in err for part in said), (args, code, err)
