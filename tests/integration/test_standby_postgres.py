"""test_standby_postgres.py: several brokers on one PostgreSQL database,
exactly one serving.

The one serving holds the database's lease (a row renewed every 0.5 s,
taken for 2 s); the others log the standby line, bind nothing, and take
the lease once it has expired. SIGKILLed under a stream of says on two
gateways, the active is replaced by the standby within a few seconds,
through several rounds, the killed one coming back as the new standby:
every acknowledged say is stored once, every listener's stream stays
gap-free and duplicate-free. A SIGSTOPped active (hung, not dead) is
replaced the same way; resumed, it writes nothing (its writes check the
lease in their own transaction) and exits with status 3. A PostgreSQL
restart under says makes says `unavailable` and the active exit with
status 3; the standby serves once the server is back, nothing
acknowledged is lost, and the exited broker, started again as a
supervisor would, is the new standby.
"""

import asyncio
import os
import signal
import time

from harness import Cluster, Postgres, deadline
from harness.stream import check_streams_and_history, streaming_with_standby

SLOW = True
#  Its clusters are on PostgreSQL, whatever the pass's database
DATABASES = ("postgresql",)
ROOM = "Taskmaster"
LOST = "lost the database lease"
LEASE_LOST_EXIT = 3


async def serving_on(cluster, index, since):
    """Waits until both gateways serve through broker `index`; returns the
    seconds since `since` (monotonic)."""
    await cluster.wait_serving_on(index)
    return time.monotonic() - since


async def exits_with_lease_lost(broker, within=15.0):
    """Waits for a broker told nothing to exit by itself: status 3, having
    logged why."""
    code = await broker.wait(deadline(within))
    assert code == LEASE_LOST_EXIT, "%s: exit %r, expected %d:\n%s" % (
        broker.name, code, LEASE_LOST_EXIT, broker.log_tail())
    assert LOST in broker.log(), broker.log_tail()


async def test_the_standby_takes_over_a_killed_broker_and_nothing_is_lost_or_repeated():
    async with Cluster(brokers=2, postgres=True) as cluster:
        stream, listeners, base = await streaming_with_standby(cluster, ROOM)

        active, kills, took = 0, [], []
        for _ in range(3):
            await cluster.kill_broker(active)
            killed = time.monotonic()
            kills.append(int(time.time() * 1000))
            took.append(await serving_on(cluster, 1 - active, killed))
            await cluster.start_standby(active)
            active = 1 - active
            await stream.until_acked(10)
        await stream.stop()
        print("failovers took %s s" % ", ".join("%.2f" % t for t in took))
        await check_streams_and_history(cluster, stream, listeners, base, kills, "across three kills")


async def test_a_hung_broker_is_replaced_and_writes_nothing_once_resumed():
    async with Cluster(brokers=2, postgres=True) as cluster:
        stream, listeners, base = await streaming_with_standby(cluster, ROOM)

        hung = cluster.brokers[0]
        os.kill(hung.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            #  Timed once every thread is stopped: a batch sent before then
            #  is committed by the server and stamped after kill()'s moment
            await hung.all_threads_stopped()
            stopped_at = int(time.time() * 1000)
            took = await serving_on(cluster, 1, stopped)
            await stream.until_acked(10)
        finally:
            hung.expect_exit = True     # it exits by itself once resumed
            os.kill(hung.pid, signal.SIGCONT)
        await exits_with_lease_lost(hung)
        print("the standby served %.2f s after the SIGSTOP" % took)
        await stream.until_acked(10)
        await stream.stop()
        #  The say on its way to the hung broker when it stopped waited in
        #  its socket, was answered `unavailable` by the gateway, and was
        #  refused by the database once the broker resumed: check_stored
        #  finds no say answered so stored after the stop
        await check_streams_and_history(cluster, stream, listeners, base, [stopped_at],
                               "across a hung broker")


async def test_a_postgres_restart_stops_the_active_and_the_standby_serves():
    #  A server of its own: restarting the run's would cut every module's brokers
    server = Postgres().start()
    try:
        await restarted_under_says(server)
    finally:
        server.close()


async def restarted_under_says(server):
    async with Cluster(brokers=2, postgres=server) as cluster:
        stream, listeners, base = await streaming_with_standby(cluster, ROOM)

        active = cluster.brokers[0]
        active.expect_exit = True       # a lost connection ends it (status 3)
        restarted = time.monotonic()
        restarted_ms = int(time.time() * 1000)
        await asyncio.get_running_loop().run_in_executor(None, cluster.postgres.restart)
        await exits_with_lease_lost(active)
        took = await serving_on(cluster, 1, restarted)
        await stream.until_acked(10)
        print("served again %.2f s after the restart began" % took)
        #  As a supervisor would: the exited broker comes back, as the standby
        await cluster.start_standby(0)
        await stream.until_acked(10)
        await stream.stop()
        assert stream.unavailable, "no say was refused while the server restarted"
        await check_streams_and_history(cluster, stream, listeners, base, [restarted_ms],
                               "across a PostgreSQL restart")
