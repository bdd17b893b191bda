"""test_limits.py: how many connections a gateway takes, in all and from
one client address (--max-connections: HTTP 503 at the upgrade, so a
load balancer tries another gateway; --max-connections-per-address: 429),
how many are logged in as one user (--max-connections-per-user: the login
is refused with too_many_connections, the connection stays), and how many
rooms one connection is in (--max-rooms-per-connection: too_many_rooms).
"""

import asyncio
import time

from harness import PASSWORD, ROOMS_OF, Client, Cluster, deadline, http_get, run_program


async def upgrade_status(cluster, headers=None):
    """The HTTP status of a WebSocket upgrade: 101 when it was taken
    (the connection is returned too), else what refused it."""
    try:
        client = await Client.connect(cluster.url(0), extra_headers=headers or {})
        return 101, client
    except Exception as error:      # websockets' InvalidStatusCode or InvalidStatus
        status = getattr(error, "status_code", None) or \
            getattr(getattr(error, "response", None), "status_code", None)
        assert status, "upgrade failed without a status: %r" % error
        return status, None


async def until_taken(cluster, within=10.0, headers=None):
    """Upgrades until one is taken (a closed connection is counted out
    once the gateway has seen it close); returns the client."""
    end = time.monotonic() + deadline(within)
    while True:
        status, client = await upgrade_status(cluster, headers)
        if client:
            return client
        assert time.monotonic() < end, "still refused (%d) after %.0f s" % (status, within)
        await asyncio.sleep(0.05)


async def test_a_full_gateway_refuses_upgrades_with_503_and_takes_them_again():
    async with Cluster(gateways=1, gateway_args=["--max-connections", "3"]) as cluster:
        held = [await cluster.client(0) for _ in range(3)]
        status, _ = await upgrade_status(cluster)
        assert status == 503, status
        #  Plain HTTP is not a connection held: health checks go on
        assert (await http_get(cluster.ports[0], "/healthz"))[0] == 200
        await held.pop().close()
        held.append(await until_taken(cluster))
        await held[-1].login("Sue")
        metrics = await cluster.metrics(0)
        assert metrics["groupchat_connections_refused_total"] >= 1, metrics
        assert metrics["groupchat_connections_open"] == 3, metrics


async def test_one_address_gets_429_past_its_share_and_others_are_let_in():
    async with Cluster(gateways=1, gateway_args=[
            "--max-connections-per-address", "2", "--trusted-proxy", "127.0.0.0/8"]) as cluster:
        first = {"X-Forwarded-For": "203.0.113.9"}
        held = [await cluster.client(0, extra_headers=first) for _ in range(2)]
        status, _ = await upgrade_status(cluster, first)
        assert status == 429, status
        #  Another client behind the same proxy has its own share
        other = await cluster.client(0, extra_headers={"X-Forwarded-For": "198.51.100.7"})
        await other.login("Alex")
        await held.pop().close()
        await until_taken(cluster, headers=first)


async def test_a_connection_that_does_not_log_in_is_closed_after_the_login_timeout():
    #  A second, or as long as a login takes under a wrapper (valgrind)
    timeout = str(max(1, round(deadline(1))))
    async with Cluster(gateways=1, gateway_args=["--login-timeout", timeout]) as cluster:
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
        idle = await cluster.client(0)
        await idle.wait_closed(timeout=10)
        #  One that logged in in time stays: it opened before the idle one,
        #  which is closed now
        assert await sue.say("still here") >= 1


async def until_logged_in(client, within=10.0, **credentials):
    """Logs in until it is taken (a place freed by a closed connection is
    free once the gateway has seen it close); returns the ok reply."""
    end = time.monotonic() + deadline(within)
    while True:
        reply = await client.request("login", **credentials)
        if reply["op"] == "ok":
            return reply
        assert reply.get("code") == "too_many_connections", reply
        assert time.monotonic() < end, "still refused after %.0f s: %r" % (within, reply)
        await asyncio.sleep(0.05)


async def rooms_of(client):
    return [room["name"] for room in (await client.call("rooms"))["rooms"]]


async def test_a_user_holds_at_most_max_connections_per_user_logins_on_each_gateway():
    async with Cluster(gateways=2, gateway_args=["--max-connections-per-user", "2"]) as cluster:
        sue = [await cluster.login("Sue"), await cluster.login("Sue")]
        #  A third login of Sue, by password or by token, is refused; the
        #  connection stays open, not logged in, and may log in as another
        third = await cluster.client(0)
        refused = await third.expect_error("too_many_connections", "login", user="Sue",
                                           password=PASSWORD)
        assert refused["message"] == "Sue already has 2 connections to this gateway", refused
        await third.expect_error("not_logged_in", "rooms")
        await third.login("Alex")
        fourth = await cluster.client(0)
        await fourth.expect_error("too_many_connections", "login", token=sue[0].token)
        await fourth.expect_error("not_logged_in", "rooms")
        #  Logging in again as Sue on one of hers takes no further place
        await sue[1].login("Sue")
        #  Each gateway counts its own: Sue's third is welcome on the other,
        #  with the token the refused login came with, which still works
        elsewhere = await cluster.client(1)
        await elsewhere.call("login", token=sue[0].token)
        #  A closed connection frees its place
        await sue.pop().close()
        await until_logged_in(fourth, token=sue[0].token)
        assert await rooms_of(fourth) == ROOMS_OF["Sue"]
        #  A login refused on a logged-in connection leaves it as it was;
        #  a logout frees a place
        await third.expect_error("too_many_connections", "login", user="Sue",
                                 password=PASSWORD)
        assert await rooms_of(third) == ROOMS_OF["Alex"]
        await sue[0].call("logout")
        await third.login("Sue")
        metrics = await cluster.metrics(0)
        #  Three, and those of the logins until the closed place was free
        assert metrics["groupchat_user_connections_refused_total"] >= 3, metrics
        assert (await cluster.metrics(1))["groupchat_user_connections_refused_total"] == 0


def tokens_stored(cluster):
    return int(cluster.sql("SELECT COUNT(*) FROM tokens")[0][0])


async def test_the_token_made_for_a_password_login_refused_for_the_user_limit_is_revoked():
    async with Cluster(gateways=1, gateway_args=["--max-connections-per-user", "1"]) as cluster:
        await cluster.login("Sue")
        stored = tokens_stored(cluster)
        other = await cluster.client(0)
        await other.expect_error("too_many_connections", "login", user="Sue", password=PASSWORD)
        #  The broker made a token before the gateway refused the login;
        #  the revocation follows the refusal
        end = time.monotonic() + deadline(10)
        while tokens_stored(cluster) != stored:
            assert time.monotonic() < end, "the refused login's token is still stored"
            await asyncio.sleep(0.05)
        assert "not revoked" not in cluster.gateways[0].log()


async def test_a_connection_joins_at_most_max_rooms_per_connection_rooms():
    async with Cluster(gateways=1, gateway_args=["--max-rooms-per-connection", "1"]) as cluster:
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
        refused = await sue.expect_error("too_many_rooms", "join", room="Quite Interesting")
        assert "leave one first" in refused["message"], refused
        #  A room joined already is not counted twice; other connections
        #  have rooms of their own
        await sue.join("Taskmaster")
        other = await cluster.login("Sue")
        await other.join("Quite Interesting")
        await sue.call("leave", room="Taskmaster")
        await sue.join("Quite Interesting")
        await sue.expect_error("too_many_rooms", "join", room="Taskmaster")
        #  What the one room it is in pushes still arrives
        seq = await other.say("still here", room="Quite Interesting")
        await sue.messages_until("Quite Interesting", seq)
        metrics = await cluster.metrics(0)
        assert metrics["groupchat_room_joins_refused_total"] == 2, metrics


async def test_the_per_user_and_per_connection_limits_refuse_bad_values():
    for flag, args, env in (
            ("--max-connections-per-user", ["--max-connections-per-user", "0"], None),
            ("--max-rooms-per-connection", ["--max-rooms-per-connection", "many"], None),
            ("--max-connections-per-user", [], {"GROUPCHAT_MAX_CONNECTIONS_PER_USER": "-1"}),
            ("--max-rooms-per-connection", [], {"GROUPCHAT_MAX_ROOMS_PER_CONNECTION": "0"})):
        code, _, err = await run_program("groupchat-gateway", args, env=env)
        assert code == 2 and "%s must be 1 to 1000000" % flag in err, (args, env, code, err)
