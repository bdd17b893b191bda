"""postgres-server.py: a PostgreSQL 15 server for `make bench`, the tests'
own (tests/harness/postgres.py): initdb in a temporary folder, a free
loopback port, run as the `postgres` user when started by root.

Prints one line, the URI of a new empty database on it, then a second
one: the server's settings that decide what a commit costs, as JSON.
Stays up until its standard input closes (the bench that started it
ended, however it ended) or it is sent SIGTERM, SIGINT or SIGHUP; then
stops the server and removes its folder. Exits 1 when the server cannot
be started, with the reason on stderr.

    python3 bench/postgres-server.py
"""

import json
import os
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from harness.postgres import Postgres, query            # noqa: E402

#  What makes a commit durable, and what it costs
SETTINGS = ("server_version", "fsync", "synchronous_commit", "wal_sync_method",
            "full_page_writes", "shared_buffers", "max_wal_size")


def settings(server):
    """The SETTINGS as the server reports them, by name."""
    return dict(query(server.uri(), "SELECT name, current_setting (name) FROM pg_settings"
                                    " WHERE name IN (%s)" % ", ".join("?" * len(SETTINGS)),
                      SETTINGS))


def wait_for_the_end():
    """Returns once stdin closes or a stopping signal comes."""
    ended = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda *_: ended.set())
    reader = threading.Thread(target=lambda: (sys.stdin.read(), ended.set()), daemon=True)
    reader.start()
    while not ended.wait(1):    # a wait with a timeout lets the handlers run
        pass


def main():
    server = None
    try:
        server = Postgres()
        print(server.new_database(), flush=True)
        print(json.dumps(settings(server)), flush=True)
        wait_for_the_end()
    except (AssertionError, OSError, subprocess.SubprocessError) as error:
        print("postgres-server: %s" % error, file=sys.stderr)
        return 1
    finally:
        if server:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
