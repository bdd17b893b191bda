"""test_ha.py: docker-compose.ha.yml over docker-compose.yml, up for real
(`make test-compose`): PostgreSQL, and two brokers on it, one serving and
the other its standby.

The stack is built from this checkout and brought up under a project name
of its own on free host ports. Sandy says without pause through the load
balancer while Alex and Sue listen on gateway1 and gateway2, and: the
serving broker's container is killed (`docker kill`): the standby serves
within seconds, and `compose start` brings the killed one back as the
standby; the serving one is frozen (`docker pause`): the standby takes
over, and the thawed one finds its lease gone, exits with status 3 and is
restarted by its restart policy as the standby; PostgreSQL is cut off the
network as a lost machine would be, then restarts: each time the serving
broker exits with status 3, says are `unavailable` meanwhile, and once
the server is back a broker serves again. Each time both listeners'
streams and the history hold every acknowledged say once, without a seq
gap, and nothing answered `unavailable` is stored later.

Before that: the brokers reach the server over TLS only, and its
generated password is in no configuration, container setting or log.
After: `down` and `up` keep the history and the password; a synchronous
streaming replica is added as docs/operations.md says (replica.yml), the
brokers given both servers, and the primary killed: once the replica is
promoted a broker serves from it, every acknowledged say there; `down -v`
removes the databases and the key volumes. The tests run in this order
and share the stack; the last takes it down with its volumes.
"""

import asyncio
import re
import time

from harness import deadline
from harness.stack import Stack
from harness.stream import Stream, check_streams_and_history, listened

SLOW = True
STACK = Stack.high_availability()
#  The same stack with a replica of the database (replica.yml)
REPLICA = STACK.also("tests/compose/replica.yml")
ROOM = "Taskmaster"
BROKERS = ("broker", "broker2")
SERVING = "broker: answers requests"
STANDBY = "broker: a standby"
WAITING = "standby: another broker serves db=postgresql://postgres/groupchat"
LOST = "lost the database lease"
VOLUMES = ("groupchat-postgres", "groupchat-keys-postgres", "groupchat-keys-broker-db")


async def serving():
    """The index in BROKERS of the broker that serves."""
    return await STACK.serving_broker()


async def health_says(service, said, within=60.0):
    """Waits until the service's health check prints `said` and Docker
    counts it healthy (it checks every 5 s)."""
    end = time.monotonic() + deadline(within)
    while True:
        status, health, _, _ = await STACK.state(service)
        last = await STACK.health_said(service)
        if (status, health) == ("running", "healthy") and last.startswith(said):
            return
        assert time.monotonic() < end, "%s: %s %s, its check said %r" % (
            service, status, health, last)
        await asyncio.sleep(0.5)        # Docker's state polling interval


async def streaming():
    """Sandy saying in ROOM through the load balancer without pause,
    Alex and Sue listening on the two gateways; (stream, listeners, base)
    once 10 says are acknowledged."""
    speaker, listeners, base = await listened(STACK, ROOM, speaker_on=None)
    stream = Stream(speaker, ROOM)
    await stream.until_acked(10)
    return stream, listeners, base


async def psql(sql, service="postgres"):
    """`sql` run by the superuser through the server's own socket (the
    only way it may log in), in `postgres` or, once it runs, `postgres2`
    (only REPLICA's files name it); its rows, `|` between fields."""
    out = await REPLICA.run("exec", "-T", service, "psql", "-X", "-A", "-t", "-h", "/tmp",
                            "-U", "postgres", "-d", "groupchat", "-c", sql)
    return out.split()


async def test_up_builds_the_images_and_one_broker_serves_while_the_other_waits():
    await REPLICA.down(volumes=True)        # whatever an interrupted run left
    started = time.monotonic()
    await STACK.up(build=True)
    built = time.monotonic() - started
    healthy = await STACK.wait_healthy(within=240)
    print("build and up %.1f s, then healthy in %.1f s" % (built, healthy))
    active = await serving()
    await health_says(BROKERS[active], SERVING)
    await health_says(BROKERS[1 - active], STANDBY)
    assert WAITING in await STACK.log(BROKERS[1 - active])

    #  PostgreSQL is for the compose network only, and for the brokers
    #  over TLS only: the lease's session and the store's of the one
    #  serving, the lease's of the standby
    postgres = await STACK.container("postgres")
    assert (await STACK.docker("port", postgres)).strip() == "", "postgres publishes a port"
    sessions = await psql("SELECT ssl FROM pg_stat_activity JOIN pg_stat_ssl USING (pid)"
                          " WHERE usename = 'groupchat'")
    assert len(sessions) >= 3 and set(sessions) == {"t"}, sessions
    refused = await STACK.run("exec", "-T", "postgres", "psql", "-X", "-c", "SELECT 1",
                              "host=127.0.0.1 sslmode=disable user=groupchat dbname=groupchat",
                              check=False)
    assert "no encryption" in refused, refused

    #  The password made at the first start stays in the two volumes
    password = (await STACK.run("exec", "-T", "postgres", "cat", "/keys/postgres/password"))
    assert re.fullmatch(r"[0-9a-f]{64}", password.strip()), "not a password: %r" % password
    containers = (await STACK.run("ps", "-a", "-q")).split()
    for where in [await STACK.run("config"), await STACK.run("logs", "--no-color"),
                  await STACK.docker("inspect", *containers)]:
        assert password.strip() not in where, "the password is out of its volumes"


async def test_a_killed_broker_is_replaced_by_the_standby_and_comes_back_as_the_standby():
    """`docker kill`, which Docker takes for a manual stop: the killed one
    stays down, whatever its restart policy, until compose starts it
    again, so which broker serves next is known."""
    await STACK.ready()
    stream, listeners, base = await streaming()
    active = await serving()
    killed = BROKERS[active]
    waited = (await STACK.log(killed)).count(WAITING)

    await STACK.docker("kill", await STACK.container(killed))
    kills = [int(time.time() * 1000)]
    took = await STACK.wait_serving_on(1 - active)
    await stream.until_acked(10)
    assert (await STACK.state(killed))[0] == "exited", "Docker restarted a killed container"

    await STACK.run("start", killed)
    await STACK.wait_for_log(killed, WAITING, waited + 1)
    await health_says(killed, STANDBY)
    await stream.until_acked(10)
    await stream.stop()
    print("the standby served %.2f s after the kill" % took)
    await check_streams_and_history(STACK, stream, listeners, base, kills, "across docker kill")


async def test_a_frozen_broker_is_replaced_exits_3_once_thawed_and_is_restarted_as_standby():
    await STACK.ready()
    stream, listeners, base = await streaming()
    active = await serving()
    frozen = BROKERS[active]
    container = await STACK.container(frozen)
    _, _, _, restarts = await STACK.state(frozen)
    log = await STACK.log(frozen)
    lost, waited = log.count(LOST), log.count(WAITING)

    await STACK.docker("pause", container)
    frozen_at = [int(time.time() * 1000)]
    try:
        took = await STACK.wait_serving_on(1 - active)
        await stream.until_acked(10)
    finally:
        await STACK.docker("unpause", container)
    await STACK.wait_for_log(frozen, LOST, lost + 1)
    assert "exit=3" in (await STACK.log(frozen)).split(LOST)[-1].splitlines()[0]
    await STACK.wait_for_log(frozen, WAITING, waited + 1)
    assert (await STACK.state(frozen))[3] == restarts + 1, "not restarted by its policy"
    await health_says(frozen, STANDBY)
    await stream.until_acked(10)
    await stream.stop()
    print("the standby served %.2f s after the pause" % took)
    await check_streams_and_history(STACK, stream, listeners, base, frozen_at,
                                    "across a frozen broker")


async def test_postgres_cut_off_stops_the_serving_broker_and_a_broker_serves_once_back():
    """The server's container taken off the compose network, as a machine
    that vanished: no connection is reset, so the serving broker learns of
    it from its lease's renewal, which goes unanswered: it exits with
    status 3 within seconds, and says are
    `unavailable` meanwhile. Put back, the server takes the lease's next
    try, and a broker serves again."""
    await STACK.ready()
    stream, listeners, base = await streaming()
    active = await serving()
    lost = (await STACK.log(BROKERS[active])).count(LOST)
    network, postgres = STACK.name + "_default", await STACK.container("postgres")

    await STACK.docker("network", "disconnect", network, postgres)
    cut = time.monotonic()
    cut_at = [int(time.time() * 1000)]
    try:
        await STACK.wait_for_log(BROKERS[active], LOST, lost + 1)
        stopped = time.monotonic() - cut
        await stream.until_refused()
    finally:
        await STACK.docker("network", "connect", "--alias", "postgres", network, postgres)
    back = time.monotonic()
    await stream.until_acked(10)
    served = time.monotonic() - back
    await stream.stop()
    print("the serving broker stopped %.2f s after the cut; says acknowledged again "
          "%.2f s after the server was back" % (stopped, served))
    active = await serving()
    await check_streams_and_history(STACK, stream, listeners, base, cut_at,
                                    "across the server cut off")


async def test_a_postgres_restart_stops_the_serving_broker_and_a_broker_serves_again():
    """The serving broker loses its sessions and exits with status 3;
    the standby, or the exited one restarted by Docker, whichever takes
    the lease first, serves once the server is back. Says sent meanwhile
    wait at the gateways: served if that takes less than their 3 s,
    answered `unavailable` if not."""
    await STACK.ready()
    stream, listeners, base = await streaming()
    stopped = BROKERS[await serving()]
    lost = (await STACK.log(stopped)).count(LOST)
    started = time.monotonic()
    restarted = [int(time.time() * 1000)]
    await STACK.run("restart", "postgres")
    await stream.until_acked(1)
    print("says acknowledged again %.2f s after the restart began"
          % (time.monotonic() - started))
    await stream.until_acked(9)
    await stream.stop()
    await STACK.wait_for_log(stopped, LOST, lost + 1)
    active = await serving()
    await check_streams_and_history(STACK, stream, listeners, base, restarted,
                                    "across a PostgreSQL restart")
    #  The other one waits, whichever it is, and Docker counts both healthy
    await health_says(BROKERS[1 - active], STANDBY)
    await health_says(BROKERS[active], SERVING)


async def test_down_and_up_keep_the_history_and_the_password():
    await STACK.ready()
    speaker = await STACK.login("Sue")
    await speaker.join(ROOM)
    text = "kept across down and up %d" % time.time()
    await speaker.say(text)
    await speaker.close()

    await STACK.down()
    for volume in VOLUMES:
        assert await STACK.volume_exists(volume), "down removed the volume %s" % volume
    await STACK.up()
    await STACK.wait_healthy()
    assert "made a new" not in await STACK.log("db-keys"), \
        "db-keys made a new password or certificate for a kept volume"
    reader = await STACK.login("Alex")
    history = (await reader.join(ROOM))["history"]
    assert history and history[-1]["text"] == text, history[-3:]
    await reader.close()


async def replicating(secret):
    """postgres2 made a synchronous streaming replica of postgres as
    docs/operations.md says, but on the compose network (replica.yml):
    a replication role and its pg_hba.conf line, pg_basebackup -R, the
    replica started, then named in synchronous_standby_names. `secret`
    is this test's throwaway, given on command lines as an operator's
    would not be (operations.md types it at psql's prompt)."""
    await psql("CREATE ROLE replicator REPLICATION LOGIN PASSWORD '%s'" % secret)
    await STACK.run("exec", "-T", "postgres", "sh", "-c", "echo 'hostssl replication replicator"
                    " all scram-sha-256' >> \"$PGDATA/pg_hba.conf\"")
    await psql("SELECT pg_reload_conf()")
    await REPLICA.run("run", "--rm", "-T", "-e", "PGPASSWORD=" + secret, "postgres2",
                      "pg_basebackup", "-D", "/var/lib/postgresql/data", "-R", "-X", "stream",
                      "-d", "host=postgres user=replicator sslmode=verify-ca "
                      "sslrootcert=/keys/postgres/server.crt application_name=db2")
    await REPLICA.run("up", "-d", "postgres2")
    await psql_until("SELECT state FROM pg_stat_replication WHERE application_name = 'db2'",
                     "streaming")
    await psql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (db2)'")
    await psql("SELECT pg_reload_conf()")
    await psql_until("SELECT sync_state FROM pg_stat_replication"
                     " WHERE application_name = 'db2'", "sync")


async def psql_until(sql, row, service="postgres", within=30.0):
    """Waits until `sql` answers the one row `row`."""
    end = time.monotonic() + deadline(within)
    while (got := await psql(sql, service)) != [row]:
        assert time.monotonic() < end, "%s: %r, not %r" % (sql, got, row)
        await asyncio.sleep(0.2)        # the server's state polling interval


async def test_the_brokers_follow_a_promoted_synchronous_replica_and_lose_nothing():
    """The brokers given both servers (postgres,postgres2 with
    target_session_attrs=read-write); the primary's container killed as
    its machine would die: says are `unavailable` until postgres2 is
    promoted (pg_promote()), then a broker takes the lease there and
    serves, and every say acknowledged before is in its history."""
    await STACK.ready()
    await replicating("replica-%d" % time.time())
    await REPLICA.run("up", "-d", "broker", "broker2")
    await STACK.wait_healthy()
    stream, listeners, base = await streaming()
    active = await serving()
    assert "db=postgresql://postgres,postgres2/groupchat" in await STACK.log(BROKERS[active])

    await STACK.docker("kill", await STACK.container("postgres"))
    killed = [int(time.time() * 1000)]
    await stream.until_refused()
    promoted = time.monotonic()
    await psql("SELECT pg_promote()", "postgres2")
    await stream.until_acked(1)
    served = time.monotonic() - promoted
    await stream.until_acked(9)
    await stream.stop()
    print("says acknowledged again %.2f s after the promotion" % served)
    active = await serving()
    await check_streams_and_history(STACK, stream, listeners, base, killed,
                                    "across the primary's loss and the promotion")


async def test_down_v_removes_the_databases_and_their_keys():
    await REPLICA.down(volumes=True)
    for volume in VOLUMES + ("groupchat-postgres2",):
        assert not await STACK.volume_exists(volume), "down -v left the volume %s" % volume
