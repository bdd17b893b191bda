"""test_origin.py: --allow-origin, the pages that may open a WebSocket.

The module's cluster has two gateways. Both have GROUPCHAT_ALLOW_ORIGIN
set to two origins; gateway 0 also has --allow-origin flags, which
replace the variable's list (a flag wins over its variable). An upgrade
from a listed origin is let in, whatever the case of its scheme and
host; and so is the gateway's own page, whose origin names the host and
port the upgrade was sent to (its Host header), whatever its scheme; any
other origin gets HTTP 403, with the security headers every answer of
the gateway carries; one without Origin (the CLI, a script) is let in. A
gateway without a list lets every origin in.
"""

import websockets

from harness import Client, Cluster, PASSWORD, http_get, run_program

#  The gateway's Origin check: the broker's database plays no part
DATABASES = ("sqlite",)

FLAGGED, BY_VARIABLE = range(2)
FLAGS = ["--allow-origin", "https://chat.example", "--allow-origin", "http://localhost:3000"]
VARIABLE = "https://c.example, https://d.example:8443"


async def shared_cluster():
    return Cluster(gateways=2, gateway_env={"GROUPCHAT_ALLOW_ORIGIN": VARIABLE},
                   per_gateway=[FLAGS, []])


async def upgrade_refusal(url, origin):
    """How a WebSocket upgrade from a page of `origin` (None: no Origin
    header) is answered: (101, None) when the connection opened, else
    (status, headers) of the refusal."""
    try:
        client = await Client.connect(url, origin=origin)
    except websockets.InvalidStatusCode as refusal:
        return refusal.status_code, refusal.headers
    await client.close()
    return 101, None


async def upgrade_status(url, origin):
    """The HTTP status of a WebSocket upgrade from a page of `origin`:
    101 when the connection opened."""
    return (await upgrade_refusal(url, origin))[0]


async def assert_statuses(url, expected):
    got = {origin: await upgrade_status(url, origin) for origin in expected}
    assert got == expected, "upgrade statuses by origin: %r" % got


async def test_listed_origins_are_let_in_and_others_get_403(cluster):
    await assert_statuses(cluster.url(FLAGGED), {
        "https://chat.example": 101,
        "HTTPS://Chat.EXAMPLE": 101,
        "http://localhost:3000": 101,
        "https://evil.example": 403,
        "https://chat.example:443": 403,        # compared as written, port and all
        "http://chat.example": 403,
        "https://chat.example.evil.example": 403,
        "http://localhost:3001": 403,
        "null": 403,
        "https://c.example": 403,               # the variable's, replaced by the flags
    })


async def test_a_refusal_carries_the_security_headers(cluster):
    status, headers = await upgrade_refusal(cluster.url(FLAGGED), "https://evil.example")
    assert status == 403, status
    assert headers["X-Content-Type-Options"] == "nosniff", headers
    assert headers["X-Frame-Options"] == "DENY", headers
    assert headers["Content-Security-Policy"].startswith("default-src 'none';"), headers


async def test_the_gateways_own_page_is_let_in_whatever_the_list(cluster):
    port = cluster.ports[FLAGGED]
    #  The client sends Host 127.0.0.1:PORT, or localhost:PORT
    await assert_statuses(cluster.url(FLAGGED), {
        "http://127.0.0.1:%d" % port: 101,
        "https://127.0.0.1:%d" % port: 101,     # TLS ended by a proxy in front
        "HTTP://127.0.0.1:%d" % port: 101,
        "http://127.0.0.1:%d" % cluster.ports[BY_VARIABLE]: 403,
        "http://127.0.0.1": 403,
        "http://localhost:%d" % port: 403,      # another host than the one asked
        "http://127.0.0.1:%d/" % port: 403,     # not an origin
    })
    await assert_statuses(cluster.url(FLAGGED, host="localhost"), {
        "http://localhost:%d" % port: 101,
        "http://LocalHost:%d" % port: 101,
        "http://127.0.0.1:%d" % port: 403,
    })


async def test_the_page_a_gateway_serves_speaks_the_protocol(cluster):
    port = cluster.ports[FLAGGED]
    status, _ = await http_get(port, "/")
    assert status == 200, status
    client = await Client.connect(cluster.url(FLAGGED), origin="http://127.0.0.1:%d" % port)
    await client.login("Sue")
    await client.join("Taskmaster")


async def test_an_allowed_page_speaks_the_protocol(cluster):
    client = await Client.connect(cluster.url(FLAGGED), origin="https://chat.example")
    await client.login("Sue")
    await client.join("Taskmaster")


async def test_the_variable_lists_origins_comma_separated(cluster):
    await assert_statuses(cluster.url(BY_VARIABLE), {
        "https://c.example": 101,
        "https://d.example:8443": 101,
        "https://d.example": 403,
        "https://chat.example": 403,
    })


async def test_no_origin_is_let_in_and_so_is_the_cli(cluster):
    assert await upgrade_status(cluster.url(FLAGGED), None) == 101
    code, out, err = await run_program(
        "groupchat", ["--user", "Sue", "--room", "Taskmaster", "--say", "from the CLI",
                      cluster.url(FLAGGED)], timeout=15, env={"GROUPCHAT_PASSWORD": PASSWORD})
    assert code == 0, (code, out, err)


async def test_without_a_list_every_origin_is_let_in():
    async with Cluster(gateways=1, start_broker=False) as lone:
        await lone.wait_healthy(status=503)
        for origin in ("https://anywhere.example", "null", None):
            assert await upgrade_status(lone.url(), origin) == 101, origin


async def test_an_origin_that_is_not_one_is_a_usage_error():
    for args, env in ((["--allow-origin", "chat.example"], None),
                      (["--allow-origin", "https://chat.example/"], None),
                      ([], {"GROUPCHAT_ALLOW_ORIGIN": "https://ok.example,"})):
        code, _, err = await run_program("groupchat-gateway", args, env=env)
        assert code == 2 and "scheme://host[:port]" in err and "usage" in err, (args, env, err)
