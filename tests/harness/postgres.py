"""postgres.py: a PostgreSQL 15 server of the tests' own, in a temporary
folder, listening on a free port of 127.0.0.1 and on a unix socket in
that folder, with a new database for each cluster that asks for one.

The server runs as the `postgres` user the Debian package makes (initdb
and postgres refuse root) when the tests run as root, else as the tests'
own user. It is one per test process (one module), made on first use:
`shared()`. It is stopped (`pg_ctl stop -m fast`) and its folder removed
when the process exits, and it dies with the process if that is killed.
"""

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from .config import deadline
from .process import die_with_parent, free_port

BIN = "/usr/lib/postgresql/15/bin"
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

    def __init__(self):
        #  In /tmp, not the run's folder: the server's account must reach it
        self.dir = tempfile.mkdtemp(prefix="groupchat-postgres-")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.popen = None           # the running server, a child of ours
        self.databases = 0          # made by new_database()
        account = _account()
        if account:
            os.chown(self.dir, *account)
        self._run([os.path.join(BIN, "initdb"), "-D", self.data, "-U", USER,
                   "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])

    def _run(self, argv, timeout=60):
        """Runs a server program as the server's account; asserts it worked."""
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              cwd=self.dir, timeout=timeout, preexec_fn=_as_server_user)
        assert done.returncode == 0, "%s: exit %d\n%s%s" % (
            " ".join(argv), done.returncode, done.stdout.decode(), done.stderr.decode())

    def uri(self, database="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (USER, self.port, database)

    def running(self):
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

    def new_database(self):
        """A new, empty database; its URI."""
        if not self.running():
            self.start()
        self.databases += 1
        name = "groupchat_%d" % self.databases
        self._run([os.path.join(BIN, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                   "-U", USER, name])
        return self.uri(name)

    def sql(self, statements, uri=None):
        """Runs SQL through psql on one of the server's databases (its URI;
        by default `postgres`), asserting it worked; returns the rows it
        printed, one a line, columns separated by tabs."""
        done = subprocess.run([os.path.join(BIN, "psql"), "-X", "-q", "-A", "-t", "-F", "\t",
                               "-v", "ON_ERROR_STOP=1", "-d", uri or self.uri(), "-c", statements],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, "psql: exit %d\n%s%s" % (done.returncode, done.stdout,
                                                             done.stderr)
        return done.stdout

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def close(self):
        """Stops the server and removes its folder; safe to call twice."""
        try:
            self.stop()
        finally:
            if self.running():
                self.popen.kill()
                self.popen.wait(timeout=30)
            shutil.rmtree(self.dir, ignore_errors=True)


_SHARED = []


def shared():
    """This process's server, started on first use, closed at exit."""
    if not _SHARED:
        server = Postgres()
        atexit.register(server.close)
        _SHARED.append(server.start())
    return _SHARED[0]
