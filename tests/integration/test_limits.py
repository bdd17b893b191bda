"""test_limits.py: how many connections a gateway takes, in all and from
one client address (--max-connections: HTTP 503 at the upgrade, so a
load balancer tries another gateway; --max-connections-per-address: 429).
"""

import asyncio
import time

from harness import Client, Cluster, deadline, http_get


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
    async with Cluster(gateways=1, gateway_args=["--login-timeout", "1"]) as cluster:
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
        idle = await cluster.client(0)
        await idle.wait_closed(timeout=10)
        #  One that logged in in time stays: it opened before the idle one,
        #  which is closed now
        assert await sue.say("still here") >= 1
