"""postgres.py: a PostgreSQL 15 server of the tests' own, in a temporary
folder, listening on a free port of 127.0.0.1 and on a unix socket in
that folder, with a new database for each cluster that asks for one.

The server runs as the `postgres` user the Debian package makes (initdb
and postgres refuse root) when the tests run as root, else as the tests'
own user. `shared()` is the server of plain clusters: tests/run.py's own, which
every module of a run shares (GROUPCHAT_TEST_POSTGRES names its port),
or else one of this test process, made on first use. Tests that stop or
restart their server make one of their own (`Postgres().start()`). A
server is stopped (`pg_ctl stop -m fast`) and its folder removed when the
process that made it exits, and it dies with that process if it is killed.
"""

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from .config import deadline
from .process import die_with_parent, free_port

BIN = "/usr/lib/postgresql/15/bin"
SHARED_PORT = "GROUPCHAT_TEST_POSTGRES"
USER = "postgres"


def _account():
    """The (uid, gid) the server runs as; None: the tests' own."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def _as_server_user():
    """A preexec_fn: the child runs as the server's account, and dies with
    the test process (set after the change of user, which clears it)."""
    account = _account()
    if account:
        os.setgroups([])
        os.setgid(account[1])
        os.setuid(account[0])
    die_with_parent()


class Postgres:
    """A PostgreSQL server: start(), stop(), start() again on the same data
    (or restart()), new_database() for a URI, close() to stop it and
    remove its folder."""

    def __init__(self, port=None):
        """A new server in a folder of its own; with `port`, the running
        server of another process on that port, for new databases only."""
        self.databases = 0          # made by new_database()
        self.popen = None           # the running server, a child of ours
        if port is not None:
            self.dir = None
            self.port = port
            return
        #  In /tmp, not the run's folder: the server's account must reach it
        self.dir = tempfile.mkdtemp(prefix="groupchat-postgres-")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        account = _account()
        if account:
            os.chown(self.dir, *account)
        self._run([os.path.join(BIN, "initdb"), "-D", self.data, "-U", USER,
                   "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])

    def _run(self, argv, timeout=60):
        """Runs a server program as the server's account; asserts it worked."""
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              cwd=self.dir or "/", timeout=timeout,
                              preexec_fn=_as_server_user)
        assert done.returncode == 0, "%s: exit %d\n%s%s" % (
            " ".join(argv), done.returncode, done.stdout.decode(), done.stderr.decode())

    def uri(self, database="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (USER, self.port, database)

    def running(self):
        if self.dir is None:
            return True             # another process's, which keeps it up
        return self.popen is not None and self.popen.poll() is None

    def start(self, within=30.0):
        """Starts the server (again) and waits until it takes connections."""
        assert not self.running(), "postgres is already running"
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [os.path.join(BIN, "postgres"), "-D", self.data, "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + self.dir,
                 "-c", "max_connections=200", "-c", "shared_buffers=16MB"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.dir, preexec_fn=_as_server_user)
        self._wait_ready(within)
        return self

    def _wait_ready(self, within):
        end = time.monotonic() + deadline(within)
        while True:
            assert self.running(), "postgres exited on start:\n%s" % self.log_tail()
            ready = subprocess.run([os.path.join(BIN, "pg_isready"), "-q", "-h", "127.0.0.1",
                                    "-p", str(self.port), "-t", "1"],
                                   stdin=subprocess.DEVNULL, timeout=10)
            if ready.returncode == 0:
                return
            assert time.monotonic() < end, "postgres not ready within %.0f s:\n%s" % (
                deadline(within), self.log_tail())
            time.sleep(0.05)

    def stop(self):
        """Stops the server as its operator would: fast (clients are cut,
        every committed transaction stays)."""
        assert self.dir is not None, "the run's server is not this process's to stop"
        if not self.running():
            return
        self._run([os.path.join(BIN, "pg_ctl"), "stop", "-D", self.data, "-m", "fast",
                   "-w", "-t", "60"], timeout=90)
        self.popen.wait(timeout=30)

    def restart(self):
        """Stops the server fast and starts it again on the same data, as
        `pg_ctl restart -m fast` would: every client's connection is cut."""
        self.stop()
        self.start()

    def _processes(self):
        """The server's pids: the postmaster and every process it started."""
        pids, found = {self.popen.pid}, True
        while found:
            found = False
            for entry in os.listdir("/proc"):
                if not entry.isdigit() or int(entry) in pids:
                    continue
                try:
                    with open("/proc/%s/stat" % entry) as stat:
                        parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
                if parent in pids:
                    pids.add(int(entry))
                    found = True
        return pids

    def freeze(self):
        """Stops every process of the server (SIGSTOP): its connections
        stay open and silent, as a server cut off by the network is."""
        assert self.running(), "postgres is not running"
        self._signal(signal.SIGSTOP)

    def thaw(self):
        self._signal(signal.SIGCONT)

    def _signal(self, signum):
        for pid in self._processes():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass            # a backend whose client had gone

    def new_database(self):
        """A new, empty database; its URI. Named after this process too:
        the modules of a run make theirs on the same server at once."""
        if not self.running():
            self.start()
        self.databases += 1
        name = "groupchat_%d_%d" % (os.getpid(), self.databases)
        self._run([os.path.join(BIN, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                   "-U", USER, name])
        return self.uri(name)

    def log_tail(self, lines=30):
        if self.dir is None:
            return ""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def close(self):
        """Stops the server and removes its folder; safe to call twice."""
        if self.dir is None:
            return
        try:
            self.stop()
        finally:
            if self.running():
                self.popen.kill()
                self.popen.wait(timeout=30)
            shutil.rmtree(self.dir, ignore_errors=True)


def query(uri, statement, params=()):
    """Rows of one SQL statement on the database at uri, through psql,
    each a tuple of texts (None for NULL). `?` marks a parameter, as for
    sqlite3; psql quotes each (a text as a literal, a number as itself)."""
    names = {}
    parts = statement.split("?")
    assert len(parts) == len(params) + 1, "%d parameters for %r" % (len(params), statement)
    script = parts[0]
    for index, (param, part) in enumerate(zip(params, parts[1:])):
        names["p%d" % index] = str(param)
        quoted = ":p%d" if isinstance(param, int) else ":'p%d'"
        script += (quoted % index) + part
    argv = [os.path.join(BIN, "psql"), uri, "-X", "-q", "-A", "-t", "-F", "\x1f",
            "-v", "ON_ERROR_STOP=1", "-P", "null=\x1e", "-f", "-"]
    for name, value in names.items():
        argv += ["-v", "%s=%s" % (name, value)]
    done = subprocess.run(argv, input=(script + ";\n").encode(), capture_output=True,
                          timeout=30)
    assert done.returncode == 0, "psql: %s\n%s" % (statement, done.stderr.decode())
    rows = done.stdout.decode().split("\n")[:-1]
    return [tuple(None if cell == "\x1e" else cell for cell in row.split("\x1f"))
            for row in rows]


_SHARED = []


def shared():
    """The run's server (GROUPCHAT_TEST_POSTGRES, its port), else this
    process's, started on first use and closed at exit."""
    if not _SHARED:
        port = os.environ.get(SHARED_PORT)
        if port:
            _SHARED.append(Postgres(int(port)))
        else:
            server = Postgres()
            atexit.register(server.close)
            _SHARED.append(server.start())
    return _SHARED[0]
