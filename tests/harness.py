"""harness.py: what groupchat's integration tests stand on.

A Cluster is a real broker and real gateways on free loopback ports, with
the database and every process's log in a temporary folder. A Client is a
WebSocket connection speaking protocol v1 (docs/protocol.md): it matches
replies to requests by id and queues pushed `message` events apart, so a
test can pipeline requests and still read its pushes in order.

Everything that waits, waits for an event with a deadline: a reply, a
push, a process exit, /healthz answering. Readiness is polled with a
deadline because a port has nothing to wait on until it is open.

tests/run.py calls configure() before a module's tests and begin_test()/
end_test() around each, which closes the clients and stops the clusters a
test left behind. See docs/testing.md.
"""

import asyncio
import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time

import websockets

ROOM = "Taskmaster"
USERS = ("Alex", "Sue", "Sandy")
PASSWORD = "password"

#  What each seeded user sees in `rooms`, sorted by name (protocol.md)
ROOMS_OF = {
    "Alex": ["8 out of 10 cats", "Taskmaster"],
    "Sue": ["8 out of 10 cats", "Quite Interesting", "Taskmaster"],
    "Sandy": ["Quite Interesting", "Taskmaster"],
}


# --------------------------------------------------------------------------
#  Configuration, set by tests/run.py (or by hand when importing this)

class _Config:
    bin = os.path.abspath("bin")    # folder holding the built programs
    wrap = []                       # command prefix, from GROUPCHAT_TEST_WRAP
    tmp_root = None                 # parent of every cluster's folder
    slow = 1                        # deadline multiplier (valgrind is slow)


CONFIG = _Config()


def configure(bin_dir, tmp_root=None):
    """Points the harness at a folder of programs; reads GROUPCHAT_TEST_WRAP."""
    CONFIG.bin = os.path.abspath(bin_dir)
    CONFIG.wrap = shlex.split(os.environ.get("GROUPCHAT_TEST_WRAP", ""))
    CONFIG.tmp_root = tmp_root
    #  Under valgrind a process runs tens of times slower: stretch the
    #  deadlines that only bound how long we wait, never the ones the
    #  contract sets (those are asserted as they are).
    CONFIG.slow = 10 if CONFIG.wrap else 1


def deadline(seconds):
    """A waiting bound, stretched when the servers run under a wrapper."""
    return seconds * CONFIG.slow


# --------------------------------------------------------------------------
#  Per-test bookkeeping: what a test opened, so the runner can clean up and
#  show the logs of the clusters a failing test used.

class _TestScope:
    def __init__(self):
        self.clients = []           # every Client connected during the test
        self.clusters = []          # every Cluster made or used by the test


_scope = _TestScope()


def begin_test(shared=None):
    """Starts a fresh scope; `shared` is the module's cluster, if any."""
    global _scope
    _scope = _TestScope()
    if shared:
        _scope.clusters.append(shared)


async def end_test():
    """Closes the test's clients and stops the clusters it left running.

    Raises AssertionError when a left-over cluster did not stop cleanly."""
    for client in _scope.clients:
        await client.close()
    problems = []
    for cluster in _scope.clusters:
        if cluster.owned_by_test and cluster.started and not cluster.stopped:
            try:
                await cluster.stop()
            except AssertionError as error:
                problems.append(str(error))
    if problems:
        raise AssertionError("\n".join(problems))


def log_tails(lines=30):
    """The tail of every server log of the clusters the current test used."""
    text = []
    for cluster in _scope.clusters:
        text.append(cluster.log_tails(lines))
    return "\n".join(t for t in text if t)


# --------------------------------------------------------------------------
#  Small helpers

_ports_given = set()


def free_port():
    """A loopback TCP port nobody listens on right now (bind port 0)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        #  Never hand out one port twice in this process, even if the
        #  kernel offers it again after the probe closed.
        if port not in _ports_given:
            _ports_given.add(port)
            return port


async def http_get(port, path="/healthz", timeout=2.0):
    """GET http://127.0.0.1:port/path; returns (status, body bytes)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                          "Connection: close\r\n\r\n" % (path, port)).encode())
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.split()
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise AssertionError("not an HTTP response: %r" % status_line)
            status = int(parts[1])
            length = None
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is not None:
                body = await reader.readexactly(length)
            else:
                body = await reader.read()
            return status, body
        finally:
            writer.close()


def seq_of(reply):
    """The newest seq in a join/history reply's history, 0 when empty."""
    history = reply["history"]
    return history[-1]["seq"] if history else 0


def check_message(message, room=None):
    """Asserts that `message` has the MESSAGE shape of protocol.md."""
    assert isinstance(message, dict), "MESSAGE is not an object: %r" % (message,)
    for field, kind in (("room", str), ("seq", int), ("from", str),
                        ("text", str), ("ts", int)):
        assert isinstance(message.get(field), kind) \
            and not isinstance(message.get(field), bool), \
            "MESSAGE field %r missing or not %s: %r" % (field, kind.__name__, message)
    assert message["seq"] >= 1, "seq below 1: %r" % (message,)
    if room is not None:
        assert message["room"] == room, "message of room %r, expected %r: %r" \
            % (message["room"], room, message)


def assert_contiguous(seqs, first=None, what="seqs"):
    """Asserts that seqs go up by exactly one (and start at `first`)."""
    if first is not None and seqs:
        assert seqs[0] == first, "%s start at %d, expected %d: %s" \
            % (what, seqs[0], first, _short(seqs))
    for before, after in zip(seqs, seqs[1:]):
        assert after == before + 1, "%s not contiguous at %d -> %d: %s" \
            % (what, before, after, _short(seqs))


def _short(items, keep=12):
    items = list(items)
    if len(items) <= 2 * keep:
        return repr(items)
    return "%r ... %r (%d in all)" % (items[:keep], items[-keep:], len(items))


# --------------------------------------------------------------------------
#  Process: one server program, its log file, and its exit

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    #  Runs in the child between fork and exec: if the test process dies
    #  (crash, timeout kill), its servers die with it instead of lingering.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    """A server program run under the optional wrapper, logging to a file."""

    def __init__(self, name, program, args, log_path, env=None):
        self.name = name            # e.g. "broker", "gateway-1"
        self.program = program      # file name in CONFIG.bin
        self.args = list(args)      # flags
        self.log_path = log_path    # stdout and stderr, appended across runs
        self.env = env or {}        # extra environment
        self.popen = None           # the running or last run
        self.expect_exit = False    # True once we stopped or killed it

    @property
    def pid(self):
        return self.popen.pid

    def argv(self):
        return CONFIG.wrap + [os.path.join(CONFIG.bin, self.program)] + self.args

    def start(self):
        """Starts the program (again); its log file is appended to."""
        env = server_environment(self.env)
        with open(self.log_path, "ab") as log:
            log.write(("=== %s: %s\n" % (time.strftime("%H:%M:%S"),
                                         shlex.join(self.argv()))).encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env,
                preexec_fn=_die_with_parent)
        self.expect_exit = False

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def send_signal(self, signum):
        if self.running():
            self.popen.send_signal(signum)

    async def wait(self, timeout):
        """Waits for the exit; returns the exit code or None on timeout.

        Event-driven: a pidfd becomes readable when the process exits."""
        if self.popen.poll() is not None:
            return self.popen.returncode
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(self.popen.pid)
        except (OSError, AttributeError):
            pidfd = None
        if pidfd is None:
            #  No pidfd (old kernel): poll with a deadline instead
            end = time.monotonic() + timeout
            while self.popen.poll() is None and time.monotonic() < end:
                await asyncio.sleep(0.02)
            return self.popen.poll()
        exited = loop.create_future()
        loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(True))
        try:
            await asyncio.wait_for(exited, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self.popen.poll()

    async def stop(self, signum=signal.SIGTERM, timeout=10.0):
        """Sends `signum` and waits for the exit; returns the exit code.

        Raises AssertionError (after SIGKILL) when it does not exit in time."""
        self.expect_exit = True
        self.send_signal(signum)
        code = await self.wait(deadline(timeout))
        if code is None:
            self.popen.kill()
            await self.wait(5)
            raise AssertionError("%s did not exit within %.0f s of %s" % (
                self.name, deadline(timeout), signal.Signals(signum).name))
        return code

    async def kill(self):
        """SIGKILL, as a crash would; returns once the process is gone."""
        self.expect_exit = True
        self.send_signal(signal.SIGKILL)
        await self.wait(10)

    def log_tail(self, lines=30):
        """The last lines of the log; a sanitizer or valgrind report's
        first lines too, since they say what went wrong and where."""
        try:
            with open(self.log_path, "rb") as log:
                everything = log.read().decode("utf-8", "replace").splitlines()
        except OSError:
            everything = ["(no log)"]
        tail = everything[-lines:]
        for index, line in enumerate(everything):
            if any(marker in line for marker in _REPORT_MARKERS):
                if index < len(everything) - lines:
                    tail = everything[index:index + lines] + ["..."] + tail
                break
        state = ""
        if self.popen is not None and not self.running():
            state = ", %s%s" % ("" if self.expect_exit else "DIED: ",
                                describe_exit(self.popen.returncode))
        return "--- %s (%s%s), last %d lines:\n%s" % (
            self.name, self.log_path, state, len(tail),
            "\n".join("    " + l for l in tail))


#  Lines that open a report of a memory or undefined-behaviour error
_REPORT_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "Invalid read", "Invalid write",
                   "uninitialised", "are definitely lost", "Invalid free")


def server_environment(extra=None):
    """Our environment without GROUPCHAT_* settings, plus `extra`: a test
    sets what it means to, nothing leaks in from the shell."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("GROUPCHAT_")}
    env.update(extra or {})
    return env


def describe_exit(code):
    if code is None:
        return "still running"
    if code < 0:
        return "killed by %s" % signal.Signals(-code).name
    return "exit code %d" % code


async def run_program(program, args, timeout=10.0, env=None):
    """Runs a program (wrapped) to completion; returns (code, stdout, stderr)."""
    full_env = server_environment(env)
    proc = await asyncio.create_subprocess_exec(
        *CONFIG.wrap, os.path.join(CONFIG.bin, program), *args,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=full_env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), deadline(timeout))
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("%s %s did not exit within %.0f s" % (
            program, shlex.join(args), deadline(timeout)))
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


# --------------------------------------------------------------------------
#  Cluster: one broker and N gateways

class Cluster:
    """A broker and `gateways` gateways on free loopback ports.

    Use as `async with Cluster() as cluster:`; leaving the block stops every
    process with SIGTERM and asserts each exits 0 within 10 s. Gateways are
    started before the broker, as they may be in production."""

    def __init__(self, gateways=2, start_broker=True, broker_env=None,
                 gateway_env=None, gateway_args=(), broker_args=(), by_env=False):
        """`by_env` configures the programs by environment variables only
        (GROUPCHAT_DB, ...) instead of flags; extra env and args win."""
        self.dir = tempfile.mkdtemp(prefix="cluster-", dir=CONFIG.tmp_root)
        self.db = os.path.join(self.dir, "groupchat.db")
        self.requests_port = free_port()
        self.events_port = free_port()
        self.ports = [free_port() for _ in range(gateways)]
        self.start_broker_too = start_broker
        requests = "tcp://127.0.0.1:%d" % self.requests_port
        events = "tcp://127.0.0.1:%d" % self.events_port

        def settings(pairs, extra_env, extra_args):
            if by_env:
                env = {name: value for _, name, value in pairs}
                args = []
            else:
                env = {}
                args = [word for flag, _, value in pairs for word in (flag, value)]
            env.update(extra_env or {})
            return env, args + list(extra_args)

        env, args = settings([("--db", "GROUPCHAT_DB", self.db),
                              ("--requests", "GROUPCHAT_REQUESTS", requests),
                              ("--events", "GROUPCHAT_EVENTS", events)],
                             broker_env, broker_args)
        self.broker = Process("broker", "groupchat-broker", args,
                              os.path.join(self.dir, "broker.log"), env)
        self.gateways = []
        for i, port in enumerate(self.ports):
            env, args = settings([("--port", "GROUPCHAT_PORT", str(port)),
                                  ("--requests", "GROUPCHAT_REQUESTS", requests),
                                  ("--events", "GROUPCHAT_EVENTS", events)],
                                 gateway_env, gateway_args)
            self.gateways.append(Process("gateway-%d" % i, "groupchat-gateway", args,
                                         os.path.join(self.dir, "gateway-%d.log" % i),
                                         env))
        self.started = False
        self.stopped = False
        self.owned_by_test = True   # the runner stops it after the test
        self.tokens = {}            # user -> token, for logins under a wrapper
        _scope.clusters.append(self)

    @property
    def processes(self):
        return self.gateways + [self.broker]

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
        problems = [self._unexpected_exit(p) for p in self.processes]
        problems = [p for p in problems if p]
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

    def _unexpected_exit(self, process):
        if process.popen is None or process.expect_exit or process.running():
            return None
        return "%s died during the test: %s" % (
            process.name, describe_exit(process.popen.returncode))

    def check_alive(self):
        """Asserts that no process died unless the test stopped it."""
        problems = [self._unexpected_exit(p) for p in self.processes]
        problems = [p for p in problems if p]
        if problems:
            raise AssertionError("\n".join(problems))

    # The broker ------------------------------------------------------------

    async def kill_broker(self):
        """SIGKILLs the broker, as a crash or power cut would."""
        await self.broker.kill()

    async def stop_broker(self, signum=signal.SIGTERM):
        """Stops the broker with `signum`; asserts it exits 0 within 10 s."""
        code = await self.broker.stop(signum, 10)
        assert code == 0, "broker: %s on %s, expected exit 0" % (
            describe_exit(code), signal.Signals(signum).name)

    async def start_broker(self, wait=True):
        """(Re)starts the broker on the same database and endpoints."""
        assert not self.broker.running(), "broker is already running"
        self.broker.start()
        if wait:
            await self.wait_healthy()

    # Readiness -------------------------------------------------------------

    async def healthz(self, gateway=0, timeout=2.0):
        """The status of GET /healthz on a gateway."""
        status, _ = await http_get(self.ports[gateway], "/healthz", timeout)
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

    # Clients ---------------------------------------------------------------

    def url(self, gateway=0):
        return "ws://127.0.0.1:%d/" % self.ports[gateway]

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
        with open("/proc/%d/status" % self.gateways[gateway].pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for gateway-%d" % gateway)

    def log_tails(self, lines=30):
        return "\n".join(p.log_tail(lines) for p in self.processes
                         if p.popen is not None)


# --------------------------------------------------------------------------
#  Client: one WebSocket connection speaking protocol v1

class ServerError(AssertionError):
    """A request got an `error` reply where `ok` was expected."""

    def __init__(self, request, reply):
        super().__init__("%s -> error %s: %s" % (
            json.dumps(request)[:300], reply.get("code"), reply.get("message")))
        self.reply = reply
        self.code = reply.get("code")


class Client:
    """A protocol v1 connection.

    A background reader sorts what arrives: replies whose id we are waiting
    for complete that request; other replies (no id, or an id we did not
    send through request()) queue for next_reply(); `message` pushes queue
    for next_message(); anything else queues for next_event()."""

    REPLY_TIMEOUT = 10.0            # bound on any reply (unavailable is 5 s)

    def __init__(self, ws, name):
        self.ws = ws                # the websockets connection
        self.name = name            # for error messages
        self.next_id = 1            # ids of request()s, auto-increment
        self.pending = {}           # id -> future of its reply
        self.sent = {}              # id -> the request, for error messages
        self.replies = asyncio.Queue()      # replies nobody waits for by id
        self.messages = asyncio.Queue()     # pushed `message` events
        self.events = asyncio.Queue()       # other pushed events
        self.reply_ids = []         # ids of all replies, in arrival order
        self.timeline = []          # replies and messages, in arrival order
        self.arrived = {}           # id -> time.monotonic() its reply came
        self.received = 0           # frames received
        self.violations = []        # frames that break the protocol
        self.closed = asyncio.Event()
        self.reading = asyncio.Event()
        self.reading.set()
        self.reader = asyncio.create_task(self._read_loop())
        _scope.clients.append(self)

    @classmethod
    async def connect(cls, url, name=None, rcvbuf=None, **options):
        """Connects; `rcvbuf` sets SO_RCVBUF before connecting (slow readers).

        Keepalive pings are off (a stalled reader must not be dropped by
        its own library) and so is compression (frame sizes stay exact)."""
        options.setdefault("ping_interval", None)
        options.setdefault("compression", None)
        options.setdefault("close_timeout", 2)
        options.setdefault("max_size", 1 << 22)
        options.setdefault("open_timeout", deadline(10))
        if rcvbuf is not None:
            host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
            options["sock"] = sock
        ws = await websockets.connect(url, **options)
        return cls(ws, name or url)

    # Reading ---------------------------------------------------------------

    async def _read_loop(self):
        try:
            while True:
                await self.reading.wait()
                frame = await self.ws.recv()
                self.received += 1
                self._dispatch(frame)
        except websockets.ConnectionClosed:
            pass
        except Exception as error:      # a bug here must show, not hang
            self.violations.append("reader failed: %r" % error)
        finally:
            self.closed.set()
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(AssertionError(
                        "%s: connection closed (%s) before the reply" % (
                            self.name, self.close_code)))

    def _dispatch(self, frame):
        if isinstance(frame, bytes):
            self.violations.append("binary frame from the gateway: %r" % frame[:80])
            return
        try:
            obj = json.loads(frame)
        except ValueError:
            self.violations.append("not JSON: %r" % frame[:200])
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("op"), str):
            self.violations.append("not an object with a string op: %r" % frame[:200])
            return
        op = obj["op"]
        if op in ("ok", "error", "message"):
            self.timeline.append(obj)
        if op in ("ok", "error"):
            if op == "error" and not (isinstance(obj.get("code"), str)
                                      and isinstance(obj.get("message"), str)):
                self.violations.append("error without string code and message: %r"
                                       % frame[:200])
            ident = obj.get("id")
            self.reply_ids.append(ident)
            self.arrived[ident] = time.monotonic()
            future = self.pending.get(ident) if "id" in obj else None
            if future is not None and not future.done():
                future.set_result(obj)
            else:
                self.replies.put_nowait(obj)
        elif op == "message":
            if "id" in obj:
                self.violations.append("pushed message with an id: %r" % frame[:200])
            self.messages.put_nowait(obj)
        else:
            self.events.put_nowait(obj)

    def _check(self):
        if self.violations:
            raise AssertionError("%s: protocol violations: %s"
                                 % (self.name, "; ".join(self.violations[:5])))

    async def _get(self, queue, timeout, what):
        """The next item of `queue`, failing on timeout or closed connection."""
        self._check()
        if not queue.empty():
            return queue.get_nowait()
        getter = asyncio.ensure_future(queue.get())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({getter, closed}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not getter.done():
                getter.cancel()
        if getter in done:
            return getter.result()
        self._check()
        if self.closed.is_set():
            raise AssertionError("%s: connection closed (code %s) while waiting for %s"
                                 % (self.name, self.close_code, what))
        raise AssertionError("%s: no %s within %.1f s" % (self.name, what, timeout))

    def pause_reading(self):
        """Stops taking frames off the socket, so the kernel buffers fill."""
        self.reading.clear()

    def resume_reading(self):
        self.reading.set()

    @property
    def close_code(self):
        return self.ws.close_code

    async def wait_closed(self, timeout=5.0):
        """Waits until the server closes the connection; returns the code."""
        try:
            await asyncio.wait_for(self.closed.wait(), deadline(timeout))
        except asyncio.TimeoutError:
            raise AssertionError("%s: connection still open after %.0f s"
                                 % (self.name, deadline(timeout)))
        await self.ws.wait_closed()
        return self.ws.close_code

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:       # closing is best effort at teardown
            self.ws.transport.abort()
        self.reader.cancel()
        try:
            await self.reader
        except BaseException:
            pass

    # Sending ---------------------------------------------------------------

    async def send_raw(self, data):
        """Sends one frame as is: str as a text frame, bytes as binary."""
        await self.ws.send(data)

    async def send_json(self, obj, ensure_ascii=True):
        await self.ws.send(json.dumps(obj, ensure_ascii=ensure_ascii))

    async def send_request(self, op, ensure_ascii=True, **fields):
        """Sends a request with the next id without waiting; returns the id."""
        ident = self.next_id
        self.next_id += 1
        request = {"op": op, "id": ident}
        request.update(fields)
        self.pending[ident] = asyncio.get_running_loop().create_future()
        self.sent[ident] = request
        await self.send_json(request, ensure_ascii)
        return ident

    async def reply(self, ident, timeout=None):
        """Waits for the reply to request `ident` (ok or error)."""
        self._check()
        future = self.pending.get(ident)
        if future is None:
            raise AssertionError("no request %r pending" % ident)
        timeout = deadline(timeout or self.REPLY_TIMEOUT)
        try:
            reply = await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            unmatched = list(self.replies._queue)
            raise AssertionError("%s: no reply to %s within %.1f s%s" % (
                self.name, json.dumps(self.sent[ident])[:200], timeout,
                "; replies without a matching id: %s" % _short(unmatched, 3)
                if unmatched else ""))
        #  Done with it: a second reply with this id now counts as unmatched
        del self.pending[ident]
        self._check()
        return reply

    async def request(self, op, timeout=None, ensure_ascii=True, **fields):
        """Sends a request with a fresh id and returns its reply."""
        ident = await self.send_request(op, ensure_ascii, **fields)
        return await self.reply(ident, timeout)

    async def call(self, op, **fields):
        """request(), asserting the reply is `ok`; returns it."""
        ident = await self.send_request(op, **fields)
        reply = await self.reply(ident)
        if reply["op"] != "ok":
            raise ServerError(self.sent[ident], reply)
        assert reply.get("id") == ident, "reply id %r, expected %r: %r" % (
            reply.get("id"), ident, reply)
        return reply

    async def expect_error(self, code, op, **fields):
        """request(), asserting an `error` with `code` and our id."""
        ident = await self.send_request(op, **fields)
        reply = await self.reply(ident)
        assert reply["op"] == "error" and reply.get("code") == code, \
            "%s: expected error %s, got %r" % (
                json.dumps(self.sent[ident])[:300], code, reply)
        assert reply.get("id") == ident, "error reply id %r, expected %r" % (
            reply.get("id"), ident)
        return reply

    async def next_reply(self, timeout=None):
        """The next reply not claimed by request() (e.g. one without id)."""
        return await self._get(self.replies, deadline(timeout or self.REPLY_TIMEOUT),
                               "reply")

    async def next_message(self, timeout=10.0):
        """The next pushed `message` (checked for shape)."""
        message = await self._get(self.messages, deadline(timeout), "pushed message")
        check_message(message)
        return message

    async def next_event(self, timeout=10.0):
        return await self._get(self.events, deadline(timeout), "pushed event")

    async def messages_until(self, room, seq, timeout=10.0):
        """Pushed messages of `room` up to and including `seq`.

        Fails on a message of another room, or when `seq` does not come
        within `timeout` of the previous message."""
        got = []
        while not got or got[-1]["seq"] < seq:
            message = await self.next_message(timeout)
            assert message["room"] == room, "%s: message of %r while waiting in %r: %r" \
                % (self.name, message["room"], room, message)
            got.append(message)
        return got

    async def expect_no_message(self, timeout=0.5):
        """Asserts that no `message` arrives within `timeout`.

        Call it after a later message was seen by another client of the
        same gateway, so that the wait is bounded after a known event."""
        self._check()
        if not self.messages.empty():
            raise AssertionError("%s: unexpected message %r" % (
                self.name, self.messages.get_nowait()))
        try:
            message = await asyncio.wait_for(self.messages.get(), timeout)
        except asyncio.TimeoutError:
            return
        raise AssertionError("%s: unexpected message %r" % (self.name, message))

    # Protocol shortcuts ----------------------------------------------------

    async def login(self, user, password=PASSWORD):
        reply = await self.call("login", user=user, password=password)
        assert reply.get("user") == user, "login reply user: %r" % (reply,)
        assert isinstance(reply.get("token"), str) and reply["token"], \
            "login reply without token: %r" % (reply,)
        self.user = user
        self.token = reply["token"]
        return reply

    async def join(self, room=ROOM, **fields):
        """Joins; checks the reply's shape; returns it."""
        reply = await self.call("join", room=room, **fields)
        assert reply.get("room") == room, "join reply room: %r" % (reply,)
        assert isinstance(reply.get("history"), list), "join reply history: %r" % (reply,)
        for message in reply["history"]:
            check_message(message, room)
        assert_contiguous([m["seq"] for m in reply["history"]], what="join history seqs")
        return reply

    async def say(self, text, room=ROOM):
        """Says; returns the acknowledged seq."""
        reply = await self.call("say", room=room, text=text)
        assert isinstance(reply.get("seq"), int) and reply["seq"] >= 1, \
            "say reply seq: %r" % (reply,)
        return reply["seq"]

    async def say_many(self, texts, room=ROOM, window=64):
        """Says every text, pipelined with up to `window` in flight.

        Returns the acknowledged seqs, in the order of `texts`."""
        seqs = []
        in_flight = []
        for text in texts:
            in_flight.append(await self.send_request("say", room=room, text=text))
            if len(in_flight) >= window:
                seqs.append(await self._say_reply(in_flight.pop(0)))
        for ident in in_flight:
            seqs.append(await self._say_reply(ident))
        return seqs

    async def _say_reply(self, ident):
        reply = await self.reply(ident)
        if reply["op"] != "ok":
            raise ServerError(self.sent[ident], reply)
        assert isinstance(reply.get("seq"), int), "say reply seq: %r" % (reply,)
        return reply["seq"]

    async def history(self, room=ROOM, **fields):
        reply = await self.call("history", room=room, **fields)
        assert reply.get("room") == room, "history reply room: %r" % (reply,)
        assert isinstance(reply.get("history"), list), "history reply: %r" % (reply,)
        for message in reply["history"]:
            check_message(message, room)
        return reply["history"]
