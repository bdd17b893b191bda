"""cluster.py: a real broker and real gateways on free loopback ports,
started and stopped together, with the database, the broker link's keys
and every process's log in a fresh temporary folder; the broker killed,
stopped and restarted on the same database; clients connected to its
gateways.
"""

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import tempfile
import time

from .broker import BrokerLink
from .certs import unverified_context
from .checks import assert_contiguous, seq_of
from .client import Client
from .config import CONFIG, deadline
from .process import Process, describe_exit, free_port, run_program
from .postgres import query as postgres_query
from .postgres import shared as postgres_server
from .scope import SCOPE
from .seed import PASSWORD
from .web import gateway_figures, http_get, wait_dialing


def make_keys(folder):
    """The broker link's key folders under `folder`, made as `make run`
    makes them (groupchat-admin keys init); returns `folder`."""
    subprocess.run([os.path.join(CONFIG.bin, "groupchat-admin"), "keys", "init", folder],
                   check=True, stdout=subprocess.DEVNULL, timeout=30)
    return folder


class Cluster:
    """A broker and `gateways` gateways on free loopback ports.

    Use as `async with Cluster() as cluster:`; leaving the block stops every
    process with SIGTERM and asserts each exits 0 within 10 s. Gateways are
    started before the broker, as they may be in production."""

    def __init__(self, gateways=2, start_broker=True, broker_env=None,
                 gateway_env=None, gateway_args=(), broker_args=(), by_env=False,
                 wrap_broker=True, per_gateway=None, tls=False, backups=True,
                 curve=True, db=None, brokers=1, postgres=None):
        """`by_env` configures the programs by environment variables only
        (GROUPCHAT_DB, ...) instead of flags; extra env and args win.
        `wrap_broker=False` runs the broker without the wrapper, for tests
        of the gateways that need the broker back within a request's 3 s
        (under valgrind it takes about 5 s to start). `per_gateway` is a
        list of extra flags for each gateway, after `gateway_args`; `tls`
        says the gateways serve wss:// and https:// (their certificates
        are among those flags, see certs.py). `backups`: the broker writes
        backups to `self.backups`, a folder it makes itself; False: backups
        are off. `curve`: the broker link uses keys made by `groupchat-admin
        keys init` in `self.keys`, as `make run` does; False: no keys, the
        link trusts loopback. `db`: the database's path or URI, when it
        must live elsewhere than in the cluster's folder. `brokers`: how
        many broker processes share the database and keys, each on ports
        of its own (`self.brokers`; `self.broker` is the first, the only
        one started); the gateways and groupchat-admin are given all their
        endpoints, for tests of a move from one to the next. `postgres`:
        the database is a new one on the test process's PostgreSQL server
        (postgres.py, `self.postgres`), or on the server given, for tests
        that stop it; by default, when no `db` is given,
        GROUPCHAT_TEST_DB=postgresql says so for every cluster."""
        self.dir = tempfile.mkdtemp(prefix="cluster-", dir=CONFIG.tmp_root)
        if postgres is None:
            postgres = db is None and os.environ.get("GROUPCHAT_TEST_DB") == "postgresql"
        self.postgres = postgres_server() if postgres is True else postgres or None
        self.db = db or (self.postgres.new_database() if postgres
                         else os.path.join(self.dir, "groupchat.db"))
        self.backups = os.path.join(self.dir, "backups") if backups else None
        self.endpoints = [("tcp://127.0.0.1:%d" % free_port(), "tcp://127.0.0.1:%d" % free_port())
                          for _ in range(brokers)]
        self.requests_port = int(self.endpoints[0][0].rsplit(":", 1)[1])
        self.events_port = int(self.endpoints[0][1].rsplit(":", 1)[1])
        self.ports = [free_port() for _ in range(gateways)]
        self.start_broker_too = start_broker
        self.keys = make_keys(os.path.join(self.dir, "keys")) if curve else None

        def settings(pairs, extra_env, extra_args):
            if by_env:
                env = {name: value for _, name, value in pairs}
                args = []
            else:
                env = {}
                args = [word for flag, _, value in pairs for word in (flag, value)]
            env.update(extra_env or {})
            return env, args + list(extra_args)

        self.brokers = []
        for i, (requests, events) in enumerate(self.endpoints):
            broker_settings = [("--db", "GROUPCHAT_DB", self.db),
                               ("--requests", "GROUPCHAT_REQUESTS", requests),
                               ("--events", "GROUPCHAT_EVENTS", events)]
            if backups:
                broker_settings.append(("--backup-dir", "GROUPCHAT_BACKUP_DIR", self.backups))
            if curve:
                broker_settings.append(("--keys", "GROUPCHAT_KEYS", self.key_folder("broker")))
            env, args = settings(broker_settings, broker_env, broker_args)
            name = "broker" if i == 0 else "broker-%d" % i
            self.brokers.append(Process(name, "groupchat-broker", args,
                                        os.path.join(self.dir, name + ".log"), env,
                                        wrap_broker))
        self.broker = self.brokers[0]
        #  Each broker's pair as the gateways take it: flags repeated, or
        #  the variables' comma-separated lists
        if by_env:
            link_settings = [("--requests", "GROUPCHAT_REQUESTS",
                              ",".join(r for r, _ in self.endpoints)),
                             ("--events", "GROUPCHAT_EVENTS",
                              ",".join(e for _, e in self.endpoints))]
        else:
            link_settings = [pair for requests, events in self.endpoints
                             for pair in (("--requests", "GROUPCHAT_REQUESTS", requests),
                                          ("--events", "GROUPCHAT_EVENTS", events))]
        self.tls = tls
        self.gateways = []
        for i, port in enumerate(self.ports):
            own_args = list(gateway_args) + list(per_gateway[i] if per_gateway else [])
            gateway_settings = [("--port", "GROUPCHAT_PORT", str(port))] + link_settings
            if curve:
                gateway_settings.append(("--keys", "GROUPCHAT_KEYS", self.key_folder("gateway")))
            env, args = settings(gateway_settings, gateway_env, own_args)
            if CONFIG.wrap:
                env.setdefault("GROUPCHAT_REQUEST_DEADLINE",
                               str(int(CONFIG.request_deadline * 1000)))
            self.gateways.append(Process("gateway-%d" % i, "groupchat-gateway", args,
                                         os.path.join(self.dir, "gateway-%d.log" % i),
                                         env))
        self.started = False
        self.stopped = False
        self.owned_by_test = True   # the runner stops it after the test
        self.tokens = {}            # user -> token, for logins under a wrapper
        self.groups_made = 0        # by new_group()
        SCOPE.clusters.append(self)

    def key_folder(self, program):
        """The key folder of "broker", "gateway" or "admin"; None without keys."""
        return os.path.join(self.keys, program) if self.keys else None

    def admin_args(self):
        """groupchat-admin's flags to reach this cluster's broker as an admin."""
        keys = ["--keys", self.key_folder("admin")] if self.keys else []
        return [word for requests, _ in self.endpoints
                for word in ("--requests", requests)] + keys

    async def admin(self, *args, password=None, expect=0):
        """Runs groupchat-admin ARGS against this cluster's broker, the
        password (user add, password) from GROUPCHAT_PASSWORD; asserts its
        exit status is `expect` and returns (stdout, stderr)."""
        env = {"GROUPCHAT_PASSWORD": password} if password else {}
        code, out, err = await run_program("groupchat-admin", [*self.admin_args(), *args],
                                           env=env)
        assert code == expect, "groupchat-admin %s: exit %d, expected %d; %s%s" % (
            " ".join(args), code, expect, out, err)
        return out, err

    async def add_member(self, user, room):
        """A new user (password PASSWORD) and a new room, the user a member
        of it, made by groupchat-admin, which takes any name."""
        await self.admin("user", "add", user, password=PASSWORD)
        await self.admin("group", "add", room)
        await self.admin("member", "add", user, room)

    async def new_group(self, prefix, members=("Sue", "Alex", "Sandy")):
        """A new group made by groupchat-admin, named `prefix` and a number
        no group of this cluster had, with these users (who exist
        already) its members; returns its room's name."""
        self.groups_made += 1
        room = "%s %d" % (prefix, self.groups_made)
        await self.admin("group", "add", room)
        for user in members:
            await self.admin("member", "add", user, room)
        return room

    async def joined(self, user, gateway, room):
        """A Client on a gateway, logged in as `user` and joined to `room`."""
        client = await self.login(user, gateway=gateway)
        await client.join(room)
        return client

    def broker_link(self, role="gateway"):
        """A BrokerLink to this cluster's broker with the key of a
        "gateway" or an "admin" (no key without keys)."""
        return BrokerLink("tcp://127.0.0.1:%d" % self.requests_port, self.key_folder(role))

    @property
    def processes(self):
        return self.gateways + self.brokers

    # Lifecycle ------------------------------------------------------------

    async def start(self):
        """Starts the gateways, then the broker; waits until all are ready."""
        self.started = True
        for gateway in self.gateways:
            gateway.start()
        if self.start_broker_too:
            self.broker.start()
            await self.wait_healthy()
        return self

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, kind, value, trace):
        if kind is None:
            await self.stop()
        else:
            #  The body failed: stop anyway, and report the body's error
            #  with what the stop found (a crash often explains the error)
            try:
                await self.stop()
            except AssertionError as error:
                if isinstance(value, BaseException):
                    value.add_note(str(error))

    async def stop(self):
        """SIGTERMs every running process; asserts each exits 0 within 10 s.

        Also fails when a process had died before without being told to."""
        self.stopped = True
        problems = self._unexpected_exits()
        running = [p for p in self.processes if p.running()]

        async def stop_one(process):
            try:
                code = await process.stop(signal.SIGTERM, 10)
            except AssertionError as error:
                return str(error)
            if code != 0:
                return "%s: %s on SIGTERM, expected exit 0" % (
                    process.name, describe_exit(code))
            return None

        results = await asyncio.gather(*(stop_one(p) for p in running))
        problems += [r for r in results if r]
        if problems:
            raise AssertionError("cluster in %s did not stop cleanly:\n%s"
                                 % (self.dir, "\n".join(problems)))

    def _unexpected_exits(self):
        """What says each process that died without being told to."""
        return ["%s died during the test: %s" % (
                    p.name, describe_exit(p.popen.returncode))
                for p in self.processes
                if p.popen is not None and not p.expect_exit and not p.running()]

    def check_alive(self):
        """Asserts that no process died unless the test stopped it."""
        problems = self._unexpected_exits()
        if problems:
            raise AssertionError("\n".join(problems))

    # The broker ------------------------------------------------------------

    async def kill_broker(self, index=0):
        """SIGKILLs the broker (the index-th of `brokers`), as a crash or
        power cut would."""
        await self.brokers[index].kill()

    async def stop_broker(self, signum=signal.SIGTERM):
        """Stops the broker with `signum`; asserts it exits 0 within 10 s.
        SIGKILL kills it instead, as kill_broker() does."""
        if signum == signal.SIGKILL:
            await self.kill_broker()
            return
        code = await self.broker.stop(signum, 10)
        assert code == 0, "broker: %s on %s, expected exit 0" % (
            describe_exit(code), signal.Signals(signum).name)

    STANDBY = "standby: another broker serves"

    async def start_standby(self, index, within=20.0):
        """Starts broker `index` while another serves; waits until it logs
        that it is the standby."""
        broker = self.brokers[index]
        before = broker.log().count(self.STANDBY) if os.path.exists(broker.log_path) else 0
        broker.start()
        end = time.monotonic() + deadline(within)
        while broker.log().count(self.STANDBY) == before:
            assert broker.running(), "the standby ended:\n%s" % broker.log_tail()
            assert time.monotonic() < end, "not a standby:\n%s" % broker.log_tail()
            await asyncio.sleep(0.02)   # log polling interval

    def requests_port_of(self, index):
        """The port of broker `index`'s requests socket."""
        return int(self.endpoints[index][0].rsplit(":", 1)[1])

    async def start_broker(self, wait=True, index=0):
        """(Re)starts the broker (the index-th of `brokers`) on the same
        database and its own endpoints."""
        broker = self.brokers[index]
        assert not broker.running(), "%s is already running" % broker.name
        broker.start()
        if wait:
            await self.wait_healthy()

    def sql(self, statement, params=()):
        """The rows of one SQL statement on the cluster's database, read
        or written behind the broker's back, on SQLite or PostgreSQL:
        `?` marks a parameter; PostgreSQL's cells come back as texts."""
        if self.postgres:
            return postgres_query(self.db, statement, params)
        with contextlib.closing(sqlite3.connect("file:%s?mode=rw" % self.db, uri=True)) as db:
            with db:
                return db.execute(statement, params).fetchall()

    async def kill_broker_under_says(self, say=60, in_flight=30):
        """Sue says `say` texts in Taskmaster, then `in_flight` more, and
        the broker is SIGKILLed with those on their way; it is started again
        and Alex, on the other gateway, joins since what was there before.

        Asserts the stored seqs follow on without a gap and every
        acknowledged say is stored as said; returns (Alex's client, {seq:
        text} stored, {seq: text} acknowledged, every text said)."""
        sue = await self.login("Sue", gateway=0)
        base = seq_of(await sue.join("Taskmaster"))
        texts = ["durable %d" % i for i in range(say)]
        acked = dict(zip(await sue.say_many(texts, window=16), texts))
        #  Each of those in flight may or may not be stored, but nothing
        #  acknowledged may be lost
        texts += ["in flight %d" % i for i in range(in_flight)]
        idents = [await sue.send_request("say", room="Taskmaster", text=t)
                  for t in texts[say:]]
        await self.kill_broker()
        for ident in idents:
            reply = await sue.reply(ident)
            if reply["op"] == "ok":
                acked[reply["seq"]] = sue.sent[ident]["text"]
            else:
                assert reply.get("code") == "unavailable", "say as the broker died: %r" \
                    % (reply,)
        await self.start_broker()
        reader = await self.login("Alex", gateway=len(self.gateways) - 1)
        await reader.until_available()
        reply = await reader.join("Taskmaster", since=base)
        assert reply.get("complete") is True
        stored = {m["seq"]: m["text"] for m in reply["history"]}
        assert_contiguous(sorted(stored), base + 1, "stored seqs after the restart")
        lost = {seq: text for seq, text in acked.items() if stored.get(seq) != text}
        assert not lost, "acknowledged but not stored after kill -9: %r" % lost
        return reader, stored, acked, texts

    # Readiness -------------------------------------------------------------

    async def healthz(self, gateway=0, timeout=2.0):
        """The status of GET /healthz on a gateway (over TLS, unverified:
        this asks whether it is up, not whether it is trusted)."""
        status, _ = await http_get(self.ports[gateway], "/healthz", timeout,
                                   ssl=unverified_context() if self.tls else None)
        return status

    async def wait_healthy(self, gateways=None, status=200, within=20.0):
        """Polls /healthz on the gateways until each answers `status`.

        Fails early when a process has died; returns the seconds it took."""
        started = time.monotonic()
        end = started + deadline(within)
        indexes = range(len(self.gateways)) if gateways is None else gateways
        last = {}
        for index in indexes:
            while True:
                self.check_alive()
                try:
                    last[index] = await self.healthz(index, 1.0)
                    if last[index] == status:
                        break
                except (OSError, asyncio.TimeoutError, AssertionError,
                        ValueError) as error:
                    last[index] = repr(error)
                if time.monotonic() > end:
                    raise AssertionError(
                        "gateway-%d: /healthz did not answer %d within %.0f s "
                        "(last: %s)" % (index, status, deadline(within), last[index]))
                await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def wait_serving_on(self, index, within=30.0):
        """Waits until every gateway's link is on broker `index` and its
        /healthz answers 200 (a gateway answers 200 through a broker that
        just died or hung until it notices and leaves it)."""
        await wait_dialing(self.ports, index, time.monotonic() + deadline(within),
                           self.check_alive)
        await self.wait_healthy(within=within)

    async def metrics(self, gateway=0):
        """The figures of GET /metrics on a gateway: {sample: value}."""
        return await gateway_figures(self.ports[gateway])

    # Clients ---------------------------------------------------------------

    def url(self, gateway=0, host="127.0.0.1"):
        return "%s://%s:%d/" % ("wss" if self.tls else "ws", host, self.ports[gateway])

    def page_url(self, gateway=0, host="127.0.0.1"):
        """The browser client's page on a gateway."""
        return "%s://%s:%d/" % ("https" if self.tls else "http", host, self.ports[gateway])

    async def client(self, gateway=0, name=None, **options):
        """A connected, not logged in Client on a gateway."""
        return await Client.connect(self.url(gateway),
                                    name=name or "client@gw%d" % gateway, **options)

    async def login(self, user, gateway=0, password=PASSWORD, **options):
        """A Client on a gateway, logged in as `user` with the password.

        Under a wrapper (valgrind) a password hash takes seconds and can
        outlast the gateway's 4.5 s: there this logs in with a token of an
        earlier login when it can, and retries a password login that came
        back `unavailable`. Tests of login itself use Client.login()."""
        client = await self.client(gateway, name="%s@gw%d" % (user, gateway), **options)
        if not CONFIG.wrap:
            await client.login(user, password)
            return client
        token = self.tokens.get(user)
        if token and password == PASSWORD:
            reply = await client.request("login", token=token)
            if reply["op"] == "ok":
                client.user, client.token = user, reply["token"]
                return client
        for attempt in range(3):
            reply = await client.request("login", user=user, password=password)
            if reply.get("code") != "unavailable":
                break
        assert reply["op"] == "ok", "login %s: %r" % (user, reply)
        client.user, client.token = user, reply["token"]
        if password == PASSWORD:
            self.tokens[user] = reply["token"]
        return client

    # Diagnostics -----------------------------------------------------------

    def gateway_rss(self, gateway=0):
        """The gateway's resident set size in bytes (/proc/PID/status VmRSS)."""
        return self.gateways[gateway].rss()

    def log_tails(self, lines=30):
        return "\n".join(p.log_tail(lines) for p in self.processes
                         if p.popen is not None)
