"""test_failover_link.py: gateways and groupchat-admin given a list of
brokers follow the one that serves.

Two brokers share one database file and one keys folder and run one at
a time, the second started only once the first is killed: a failover
on shared disk. The gateways, given both endpoints, move to the broker
that answers within a few seconds and back again; meanwhile every
acknowledged say is stored exactly once, every client's stream stays
gap-free and duplicate-free, a say answered `unavailable` is never
stored after it, and /healthz is 200 again. groupchat-admin with both
endpoints runs its command on the one that is up. Lists whose lengths
differ are a usage error; the variables' comma-separated lists work as
the flags do.
"""

import time

from harness import Cluster, deadline, run_program
from harness.stream import Stream, check_streams_and_history, listened

SLOW = True
ROOM = "Taskmaster"
#  The link's liveness window (3 s) plus a broker's start and the
#  reconnect backoff (1 s at most)
MOVE_WITHIN = 10.0


async def move(cluster, kill, start):
    """Kills broker `kill`, starts broker `start`; returns the seconds from
    the kill until both gateways answer /healthz 200 on the new one."""
    await cluster.kill_broker(kill)
    killed = time.monotonic()
    killed_ms = int(time.time() * 1000)
    await cluster.start_broker(wait=False, index=start)
    await cluster.wait_serving_on(start, within=MOVE_WITHIN + 10)
    return time.monotonic() - killed, killed_ms


async def test_gateways_move_to_the_broker_that_answers_and_back():
    async with Cluster(brokers=2) as cluster:
        speaker, listeners, base = await listened(cluster, ROOM)
        stream = Stream(speaker, ROOM)
        await stream.until_acked(20)

        there, killed_a = await move(cluster, kill=0, start=1)
        await stream.until_acked(20)
        back, killed_b = await move(cluster, kill=1, start=0)
        await stream.until_acked(20)
        await stream.stop()
        print("moved to the second broker in %.2f s, back in %.2f s" % (there, back))
        assert there < deadline(MOVE_WITHIN) and back < deadline(MOVE_WITHIN)

        await check_streams_and_history(cluster, stream, listeners, base,
                                        [killed_a, killed_b], "across two moves")
        for gateway in range(2):
            figures = await cluster.metrics(gateway)
            assert figures["groupchat_gateway_broker_moves_total"] >= 2, figures
            log = cluster.gateways[gateway].log()
            assert "broker link: moving to %s" % cluster.endpoints[1][0] in log
            assert "broker link: moving to %s" % cluster.endpoints[0][0] in log


async def test_lists_from_the_environment_and_admin_on_the_second_broker():
    #  The first broker never starts: the gateways, given both by their
    #  variables, move on to the second, and so does groupchat-admin
    async with Cluster(brokers=2, by_env=True, start_broker=False) as cluster:
        await cluster.start_broker(index=1)
        figures = await cluster.metrics(0)
        assert figures["groupchat_broker_endpoint_index"] == 1, figures
        out, _ = await cluster.admin("--timeout", "4", "users")
        assert "Sue" in out.split()
        client = await cluster.login("Sue", gateway=1)
        await client.join(ROOM)
        await client.say("said on the second broker")


async def test_lists_that_do_not_pair_are_a_usage_error():
    one, two = "tcp://127.0.0.1:1", "tcp://127.0.0.1:2"
    cases = [(["--requests", one, "--requests", two, "--events", one], None),
             (["--events", one, "--events", two], None),
             ([], {"GROUPCHAT_REQUESTS": one + "," + two, "GROUPCHAT_EVENTS": one}),
             (["--requests", one + ",", "--events", one], None)]
    for args, env in cases:
        code, out, err = await run_program("groupchat-gateway", args, env=env)
        assert code == 2, "groupchat-gateway %r %r: exit %d, %s" % (args, env, code, err)
        assert "usage:" in err, err
    code, _, err = await run_program("groupchat-gateway", cases[0][0])
    assert "pair up by position" in err, err
