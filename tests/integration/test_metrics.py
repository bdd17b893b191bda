"""test_metrics.py: GET /metrics is Prometheus text and its figures move.

The text is parsed line by line by the exposition format's rules
(harness.parse_metrics: HELP and TYPE comments, `name{labels} value`
samples, histograms with cumulative buckets), and the counters are
compared before and after messages flow through both gateways.
"""

import asyncio
import time

from harness import deadline, http_get, parse_metrics


async def metrics(cluster, gateway):
    status, body = await http_get(cluster.ports[gateway], "/metrics")
    assert status == 200, "/metrics answered %d" % status
    return parse_metrics(body.decode("utf-8"))


async def until_both_gateways_counted(cluster, within=5.0):
    """The broker counts gateways by heartbeat, once a second: a bounded poll."""
    end = time.monotonic() + deadline(within)
    while (await metrics(cluster, 0))[0].get("groupchat_broker_gateways_connected") != 2:
        assert time.monotonic() < end, "the broker does not count both gateways"
        await asyncio.sleep(0.1)


async def test_metrics_parse_and_move_when_messages_flow(cluster):
    await until_both_gateways_counted(cluster)
    before = [(await metrics(cluster, gateway))[0] for gateway in (0, 1)]
    sue = await cluster.login("Sue", gateway=0)
    alex = await cluster.login("Alex", gateway=1)
    await sue.join("Taskmaster")
    await alex.join("Taskmaster")
    seqs = await sue.say_many(["counted %d" % i for i in range(10)])
    await alex.messages_until("Taskmaster", seqs[-1])
    await sue.messages_until("Taskmaster", seqs[-1])
    await sue.expect_error("bad_credentials", "login", user="Sue", password="nope")
    after = []
    for gateway in (0, 1):
        samples, types = await metrics(cluster, gateway)
        assert types["groupchat_broker_round_trip_seconds"] == "histogram"
        after.append(samples)
    for gateway in (0, 1):
        moved = after[gateway]["groupchat_messages_delivered_total"] - \
            before[gateway]["groupchat_messages_delivered_total"]
        assert moved == 10, "gateway %d delivered %d more" % (gateway, moved)
        assert after[gateway]['groupchat_room_connections{room="Taskmaster"}'] == 1
        assert after[gateway]["groupchat_gateway_broker_up"] == 1
        assert after[gateway]["groupchat_gateway_requests_waiting"] == 0
        assert after[gateway]["groupchat_connections_open"] >= 1
        assert after[gateway]["groupchat_broker_gateways_connected"] >= 1
    assert after[0]["groupchat_frames_in_total"] - before[0]["groupchat_frames_in_total"] >= 12
    assert after[0]["groupchat_logins_ok_total"] - before[0]["groupchat_logins_ok_total"] == 1
    assert after[0]["groupchat_logins_failed_total"] - before[0]["groupchat_logins_failed_total"] == 1
    #  The broker's figures come with every heartbeat, so they may lag by one
    assert after[0]['groupchat_broker_round_trip_seconds_bucket{le="+Inf"}'] > \
        before[0]['groupchat_broker_round_trip_seconds_bucket{le="+Inf"}']
