"""test_standby.py: several brokers on one database file, one serving.

Both brokers run at once; the one that takes the database's lease
serves, the other waits as a standby and neither binds nor answers. When
the active one is SIGKILLed the standby takes over, the gateways (given
both endpoints) move to it, and the killed one comes back as the new
standby. Through four such failovers under a stream of says every
acknowledged say is stored exactly once and every listener's stream on
two gateways stays gap-free and duplicate-free. A standby stops cleanly
on SIGTERM while it waits.
"""

import time

from harness import Cluster
from harness.stream import check_streams_and_history, streaming_with_standby

SLOW = True
#  The lease of an SQLite file (PostgreSQL's: test_standby_postgres.py)
DATABASES = ("sqlite",)
ROOM = "Taskmaster"
async def failover(cluster, active):
    """SIGKILLs the active broker; returns the seconds until both gateways
    serve through the standby."""
    await cluster.kill_broker(active)
    killed = time.monotonic()
    killed_ms = int(time.time() * 1000)
    await cluster.wait_serving_on(1 - active)
    return time.monotonic() - killed, killed_ms


async def test_the_standby_takes_over_and_nothing_is_lost_or_repeated():
    async with Cluster(brokers=2) as cluster:
        stream, listeners, base = await streaming_with_standby(cluster, ROOM)

        active, kills, took = 0, [], []
        for _ in range(4):
            seconds, killed_ms = await failover(cluster, active)
            took.append(seconds)
            kills.append(killed_ms)
            await cluster.start_standby(active)
            active = 1 - active
            await stream.until_acked(10)
        await stream.stop()
        print("failovers took %s s" % ", ".join("%.2f" % t for t in took))

        await check_streams_and_history(cluster, stream, listeners, base, kills,
                                        "across four failovers")


async def test_a_waiting_standby_stops_cleanly_on_sigterm():
    async with Cluster(brokers=2, gateways=1) as cluster:
        await cluster.start_standby(1)
        code = await cluster.brokers[1].stop()
        assert code == 0, "the standby exited %r on SIGTERM" % code
        assert "stopping on signal=15" in cluster.brokers[1].log()
