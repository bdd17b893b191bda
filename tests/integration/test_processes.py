"""test_processes.py: the programs as processes.

--help, bad flags, configuration by flag and by environment variable (the
flag wins), the broker's loopback-only default endpoints, what an empty
database starts with (--seed), clean exit 0 on SIGTERM and SIGINT even
with clients connected, /healthz, and passwords never stored in clear.
"""

import os
import re
import signal
import tempfile
import time

from harness import CONFIG, Cluster, Process, describe_exit, free_port, http_get, run_program

PROGRAMS = ("groupchat-broker", "groupchat-gateway")


async def test_help_prints_usage_and_exits_0():
    for program in PROGRAMS:
        code, out, _ = await run_program(program, ["--help"])
        assert code == 0, "%s --help: exit %d" % (program, code)
        assert "usage" in out.lower(), "%s --help printed no usage: %r" % (program, out)


async def test_bad_flag_prints_usage_to_stderr_and_exits_2():
    for program in PROGRAMS:
        for args in (["--no-such-flag"], ["-z"], ["--port"] if program.endswith("gateway")
                     else ["--db"]):
            code, out, err = await run_program(program, args)
            assert code == 2, "%s %s: exit %d, expected 2" % (program, " ".join(args), code)
            assert "usage" in err.lower(), "%s %s: no usage on stderr: %r" % (
                program, " ".join(args), err)


async def test_a_seed_other_than_demo_or_none_is_a_usage_error():
    for args, env in ((["--seed", "everyone"], None), ([], {"GROUPCHAT_SEED": "Demo"})):
        code, _, err = await run_program("groupchat-broker", args, env=env)
        assert code == 2 and "--seed must be demo or none" in err and "usage" in err, (
            args, env, code, err)


async def test_healthz_is_200_with_the_broker_up(cluster):
    for gateway in range(len(cluster.gateways)):
        status, _ = await http_get(cluster.ports[gateway], "/healthz")
        assert status == 200, "gateway-%d /healthz: %d" % (gateway, status)


async def stop_busy_cluster(signum):
    """Starts a cluster, leaves clients connected and joined, then stops
    gateways and broker with `signum`; each must exit 0."""
    async with Cluster() as cluster:
        clients = [await cluster.login("Alex", gateway=0),
                   await cluster.login("Sue", gateway=1)]
        for client in clients:
            await client.join("Taskmaster")
        await clients[0].say("about to stop")
        for client in clients:
            await client.next_message()
        for gateway in cluster.gateways:
            code = await gateway.stop(signum)
            assert code == 0, "%s: exit %r on %s with clients connected" % (
                gateway.name, code, signal.Signals(signum).name)
        await cluster.stop_broker(signum)
        for client in clients:
            await client.wait_closed()


async def test_sigterm_exits_0():
    await stop_busy_cluster(signal.SIGTERM)


async def test_sigint_exits_0():
    await stop_busy_cluster(signal.SIGINT)


async def test_a_stop_signal_while_starting_is_never_lost():
    """SIGTERM at many moments of a program's start, from before main to
    serving: each time it stops, exit 0 (or killed outright when the signal
    beat main to it), never a program that goes on serving. A gateway once
    lost one that came ~20 ms in: its moments are a millisecond apart; the
    broker, whose start hashes the seed passwords, gets fewer, further apart."""
    for program, moments, step in (("groupchat-gateway", 50, 0.001),
                                   ("groupchat-broker", 10, 0.005)):
        for moment in range(moments):
            first, second, third = free_port(), free_port(), free_port()
            if program.endswith("gateway"):
                args = ["--port", str(first)]
            else:
                args = ["--db", os.path.join(CONFIG.tmp_root, "starting-%d.db" % moment)]
            args += ["--requests", "tcp://127.0.0.1:%d" % second,
                     "--events", "tcp://127.0.0.1:%d" % third]
            process = Process("%s-%d" % (program, moment), program, args,
                              os.path.join(CONFIG.tmp_root, "starting.log"))
            process.start()
            #  Spread over the first 50 ms, where handlers and threads are set up
            time.sleep(moment * step)
            code = await process.stop(signal.SIGTERM)
            assert code in (0, -signal.SIGTERM), "%s: SIGTERM %.0f ms into its start: %s\n%s" % (
                program, moment * step * 1000, describe_exit(code), process.log_tail())


async def test_the_broker_listens_on_loopback_by_default():
    """With no --requests or --events the broker binds 127.0.0.1:5555 and
    127.0.0.1:5556, never every interface. The ports are fixed, so another
    program on this machine may hold one: then the broker's refusal names
    the endpoint it tried, which must be the loopback one."""
    folder = tempfile.mkdtemp(prefix="defaults-", dir=CONFIG.tmp_root)
    broker = Process("broker", "groupchat-broker",
                     ["--db", os.path.join(folder, "groupchat.db")],
                     os.path.join(folder, "broker.log"))
    broker.start()
    try:
        log = await broker.wait_for_log(" serving ")
        if broker.running():
            assert "requests=tcp://127.0.0.1:5555 events=tcp://127.0.0.1:5556" in log, log
            assert broker.listening() == {("127.0.0.1", 5555), ("127.0.0.1", 5556)}, (
                broker.listening())
        else:
            assert re.search(r"cannot bind endpoint=tcp://127\.0\.0\.1:555[56]: "
                             r"Address already in use", log), log
    finally:
        code = await broker.stop()
    assert code in (0, 1), "broker: %s\n%s" % (describe_exit(code), broker.log_tail())


async def test_environment_variables_configure_both_programs():
    async with Cluster(by_env=True) as cluster:
        assert cluster.broker.args == [] and cluster.gateways[0].args == []
        for gateway in range(2):
            client = await cluster.login("Sandy", gateway=gateway)
            await client.join("Taskmaster")
    #  The users the broker seeded are in the database GROUPCHAT_DB names
    assert int(cluster.sql("SELECT COUNT(*) FROM users")[0][0]) == 3, (
        "no seeded database at GROUPCHAT_DB=%s" % cluster.db)
    assert os.path.isdir(cluster.backups), "no folder at GROUPCHAT_BACKUP_DIR=%s" % (
        cluster.backups)


async def test_a_backup_directory_that_cannot_be_made_stops_the_broker():
    folder = tempfile.mkdtemp(prefix="backups-", dir=CONFIG.tmp_root)
    missing = os.path.join(folder, "missing", "backups")
    code, out, err = await run_program("groupchat-broker", [
        "--db", os.path.join(folder, "groupchat.db"), "--seed", "none",
        "--requests", "tcp://127.0.0.1:%d" % free_port(),
        "--events", "tcp://127.0.0.1:%d" % free_port(), "--backup-dir", missing])
    assert code == 1, "broker with --backup-dir %s: exit %d\n%s" % (missing, code, err)
    assert "cannot create the backup directory dir=%s" % missing in err, err


async def test_a_flag_wins_over_its_environment_variable():
    unused_port = free_port()
    wrong = {"GROUPCHAT_REQUESTS": "tcp://127.0.0.1:%d" % free_port(),
             "GROUPCHAT_EVENTS": "tcp://127.0.0.1:%d" % free_port()}
    broker_env = dict(wrong, GROUPCHAT_DB="/nonexistent/folder/groupchat.db")
    gateway_env = dict(wrong, GROUPCHAT_PORT=str(unused_port))
    async with Cluster(gateways=1, broker_env=broker_env,
                       gateway_env=gateway_env) as cluster:
        client = await cluster.login("Alex")
        await client.join("Taskmaster")
        try:
            status, _ = await http_get(unused_port, "/healthz", 1.0)
        except OSError:
            status = None
        assert status is None, "the gateway also listens on its GROUPCHAT_PORT"


async def admin_lines(cluster, *command):
    """groupchat-admin's output lines, asserting it succeeded."""
    code, out, err = await run_program("groupchat-admin", [*cluster.admin_args(), *command],
        env={"GROUPCHAT_PASSWORD": "hunter2"})
    assert code == 0, "groupchat-admin %s: exit %d %s" % (" ".join(command), code, err)
    return out.splitlines()


async def assert_no_such_login(cluster, user):
    """A password login of the seed's is refused. Asked of the broker
    itself, without a deadline: under valgrind its hash can outlast a
    gateway's wait (`unavailable`), never the broker's answer."""
    link = cluster.broker_link()
    reply = await link.request("login", user=user, password="password")
    assert reply.get("code") == "bad_credentials", "login %s: %r" % (user, reply)


def stored_cells(cluster):
    """(table, value) of every cell of every table of the cluster's database."""
    if cluster.postgres:
        listing = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    else:
        listing = "SELECT name FROM sqlite_master WHERE type = 'table'"
    tables = [row[0] for row in cluster.sql(listing)]
    assert tables, "the database has no tables"
    return [(table, value) for table in tables
            for row in cluster.sql('SELECT * FROM "%s"' % table.replace('"', '""'))
            for value in row]


async def test_seed_none_starts_with_nobody_and_a_database_is_seeded_only_when_empty():
    async with Cluster(gateways=1, broker_env={"GROUPCHAT_SEED": "none"}) as cluster:
        await assert_no_such_login(cluster, "Alex")
        assert await admin_lines(cluster, "users") == []
        assert await admin_lines(cluster, "groups") == []
        #  The operator's first group, user and member
        await admin_lines(cluster, "group", "add", "Bake Off")
        await admin_lines(cluster, "user", "add", "Greg")
        await admin_lines(cluster, "member", "add", "Greg", "Bake Off")
        #  Started again with the demo seed, the database is no longer empty
        await cluster.stop_broker()
        cluster.broker.args += ["--seed", "demo"]
        await cluster.start_broker()
        assert await admin_lines(cluster, "users") == ["Greg"]
        assert await admin_lines(cluster, "groups") == ["Bake Off"]
        await assert_no_such_login(cluster, "Sue")
        greg = await cluster.login("Greg", password="hunter2")
        await greg.join("Bake Off")

    async with Cluster(gateways=1) as cluster:
        for user in ("Alex", "Sue", "Sandy"):
            await cluster.login(user)
    #  As text, as bytes, and as PostgreSQL shows bytes
    clear = [(table, value) for table, value in stored_cells(cluster)
             if value in ("password", b"password", "\\x" + b"password".hex())]
    assert not clear, "a password is stored in clear: %r" % clear
