"""harness: what groupchat's integration tests stand on.

A Cluster (cluster.py) is a real broker and real gateways on free loopback
ports, with the database and every process's log in a temporary folder;
each program in it is a Process (process.py). A Client (client.py) is a
WebSocket connection speaking protocol v1 (docs/protocol.md). checks.py
holds the protocol's assertions, seed.py what an empty database starts
with, web.py the HTTP(S) requests for /healthz, /metrics and the browser
client's files and the parser of the metrics' text, certs.py the
throwaway CAs and certificates of gateways that serve wss://,
follower.py the command-line client left following a room, terminal.py
the interactive client in a tmux terminal, postgres.py the PostgreSQL
server of the tests that run the broker on one.

Everything that waits, waits for an event with a deadline: a reply, a
push, a process exit, /healthz answering. Readiness is polled with a
deadline because a port has nothing to wait on until it is open.

tests/run.py calls configure() (config.py) before a module's tests and
begin_test()/end_test() (scope.py) around each, which closes the clients
and stops the clusters a test left behind. Tests import what they use
from here: `from harness import Cluster, seq_of`. See docs/testing.md.
"""

from .certs import (Certificates, fingerprint, served_fingerprint, tls_init,
                    unverified_context)
from .checks import assert_contiguous, check_message, seq_of
from .client import Client, ServerError
from .cluster import Cluster
from .config import CONFIG, configure, deadline, wrap_for
from .follower import Follower
from .process import (Process, connect_error, describe_exit, free_port,
                      other_local_address, run_command, run_program, server_environment)
from .postgres import Postgres
from .postgres import shared as postgres_server
from .scope import begin_test, end_test, log_tails
from .seed import GENERATION, PASSWORD, ROOM, ROOMS_OF, USERS
from .terminal import Terminal
from .web import http_get, http_request, parse_metrics

__all__ = [
    "CONFIG", "Certificates", "Client", "Cluster", "Follower", "GENERATION", "PASSWORD",
    "Postgres", "Process", "ROOM", "ROOMS_OF", "USERS", "ServerError", "Terminal", "assert_contiguous",
    "begin_test", "check_message", "configure", "connect_error", "deadline", "describe_exit",
    "end_test", "fingerprint", "free_port", "http_get", "http_request", "log_tails",
    "other_local_address", "parse_metrics", "postgres_server", "run_command", "run_program", "seq_of",
    "served_fingerprint", "server_environment", "tls_init", "unverified_context", "wrap_for",
]
