"""test_haproxy.py: deploy/haproxy.cfg in front of real gateways.

The load balancer of docker-compose.yml, run here with the same file: only
its listening addresses and its server list (Docker's DNS in a container)
are rewritten to loopback ports, its certificate is one that
deploy/tls-init.sh makes here as the tls service does in the container,
and a stats socket is added to read each gateway's state. WebSocket
logins and pushes pass through it, over TLS too (the command-line client
trusting that certificate with --ca, and refusing it without), connections
are spread by count, /metrics is refused on both ports, and a gateway whose
/healthz is not 200 (broker unreachable) or that is down gets no new
clients until it is back.
"""

import asyncio
import csv
import io
import os
import re
import shutil
import socket
import ssl
import tempfile

import websockets

import harness
from harness import (PASSWORD, Client, Cluster, Process, deadline, free_port, http_get,
                     run_program, tls_init)

#  The proxy in front of the gateways: the broker's database plays no part
DATABASES = ("sqlite",)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG_FILE = os.path.join(ROOT, "deploy", "haproxy.cfg")


def haproxy_program():
    program = shutil.which("haproxy", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    assert program, ("haproxy is not installed: it is the Debian package haproxy, "
                     "which scripts/deps.sh installs with the test dependencies")
    return program


def local_config(listen_port, tls_port, store, gateway_ports, stats_socket):
    """deploy/haproxy.cfg with loopback addresses, the certificate in
    `store` and a stats socket.

    Fails when the file no longer has the lines rewritten here, so that a
    change to it is noticed rather than silently not tested."""
    with open(CONFIG_FILE, encoding="utf-8") as source:
        text = source.read()
    servers = "".join("    server gateway%d 127.0.0.1:%d\n" % (index, port)
                      for index, port in enumerate(gateway_ports))
    for pattern, replacement in (
            (r"^[ \t]*bind :8080[ \t]*$", "    bind 127.0.0.1:%d" % listen_port),
            (r"^[ \t]*bind :8443 ssl crt /etc/haproxy/tls/haproxy.pem[ \t]*$",
             "    bind 127.0.0.1:%d ssl crt %s/haproxy.pem" % (tls_port, store)),
            (r"^[ \t]*server-template gateway .*\n", servers),
            (r"^global[ \t]*$", "global\n    stats socket %s mode 600 level admin"
             % stats_socket)):
        text, count = re.subn(pattern, lambda _, text=replacement: text, text, flags=re.M)
        assert count == 1, "deploy/haproxy.cfg: /%s/ matched %d times, expected once" \
            % (pattern, count)
    return text


class Haproxy:
    """haproxy running deploy/haproxy.cfg in front of the given gateway ports."""

    def __init__(self, gateway_ports):
        self.dir = tempfile.mkdtemp(prefix="haproxy-", dir=harness.CONFIG.tmp_root)
        self.port, self.tls_port = free_port(), free_port()
        self.store = os.path.join(self.dir, "tls")
        self.socket_path = os.path.join(self.dir, "stats.sock")
        self.config = os.path.join(self.dir, "haproxy.cfg")
        with open(self.config, "w", encoding="utf-8") as config:
            config.write(local_config(self.port, self.tls_port, self.store, gateway_ports,
                                      self.socket_path))
        self.names = ["gateway%d" % index for index in range(len(gateway_ports))]
        #  Not ours: never under GROUPCHAT_TEST_WRAP
        self.process = Process("haproxy", haproxy_program(), ["-db", "-f", self.config],
                               os.path.join(self.dir, "haproxy.log"), wrapped=False)

    async def __aenter__(self):
        code, out = await tls_init(self.store, os.path.join(self.dir, "nothing-given"))
        assert code == 0, "tls-init.sh: exit %d\n%s" % (code, out)
        self.process.start()
        return self

    async def __aexit__(self, *_):
        await self.process.stop()

    def url(self):
        return "ws://127.0.0.1:%d/" % self.port

    def tls_url(self):
        return "wss://localhost:%d/" % self.tls_port

    def certificate(self):
        """The certificate it serves, as clients are given it to trust."""
        return os.path.join(self.store, "cert.pem")

    def log_tail(self):
        return self.process.log_tail()

    def _ask(self, command):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stats:
            stats.settimeout(2)
            stats.connect(self.socket_path)
            stats.sendall(command.encode() + b"\n")
            answer = b""
            while True:
                chunk = stats.recv(65536)
                if not chunk:
                    return answer.decode()
                answer += chunk

    async def servers(self):
        """{server name: its row of `show stat`} for the gateways backend."""
        text = await asyncio.to_thread(self._ask, "show stat")
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {row["svname"]: row for row in rows
                if row["pxname"] == "gateways" and row["svname"] in self.names}

    async def wait_states(self, wanted, within=20.0):
        """Polls until each named server's status starts with its wanted
        word ("UP", "DOWN"); returns the rows."""
        end = asyncio.get_running_loop().time() + deadline(within)
        last = None
        while True:
            assert self.process.running(), self.log_tail()
            try:
                last = await self.servers()
                if all(last[name]["status"].split()[0] == state
                       for name, state in wanted.items()):
                    return last
            except OSError as error:    # the socket is not there yet
                last = repr(error)
            if asyncio.get_running_loop().time() > end:
                states = last if isinstance(last, str) else \
                    {name: (row["status"], row["check_status"]) for name, row in last.items()}
                raise AssertionError("haproxy: servers not %r within %.0f s, last %r\n%s"
                                     % (wanted, deadline(within), states, self.log_tail()))
            await asyncio.sleep(0.1)


async def login_through(lb, user):
    client = await Client.connect(lb.url(), name="%s@lb" % user)
    await client.login(user)
    return client


async def test_websockets_pass_through_and_are_spread_by_count():
    async with Cluster(gateways=2) as cluster, Haproxy(cluster.ports) as lb:
        await lb.wait_states({"gateway0": "UP", "gateway1": "UP"})
        clients = [await login_through(lb, user) for user in ("Alex", "Sue", "Sandy", "Sue")]
        #  leastconn with every connection held open: two on each gateway
        rows = await lb.servers()
        assert [int(rows[name]["scur"]) for name in lb.names] == [2, 2], \
            "connections per gateway: %r" % {n: rows[n]["scur"] for n in lb.names}
        #  Plain HTTP passes too, but not the gateways' figures
        assert (await http_get(lb.port, "/healthz"))[0] == 200
        assert (await http_get(lb.port, "/metrics"))[0] == 403
        assert (await http_get(cluster.ports[0], "/metrics"))[0] == 200
        #  Pushes come back through the tunnel to every member in the room
        for client in clients:
            await client.join("Taskmaster")
        seq = await clients[0].say("through the load balancer")
        for client in clients:
            message = await client.next_message()
            assert (message["seq"], message["text"]) == (seq, "through the load balancer"), \
                "%s got %r" % (client.name, message)


async def test_wss_ends_at_haproxy_with_the_certificate_tls_init_made():
    async with Cluster(gateways=2) as cluster, Haproxy(cluster.ports) as lb:
        await lb.wait_states({"gateway0": "UP", "gateway1": "UP"})
        trust = ssl.create_default_context(cafile=lb.certificate())
        listener = await Client.connect(lb.tls_url(), name="Alex@lb-tls", ssl=trust)
        await listener.login("Alex")
        await listener.join("Taskmaster")
        #  The command-line client trusts it when given it, and only then
        said = ["--user", "Sue", "--room", "Taskmaster", "--say"]
        env = {"GROUPCHAT_PASSWORD": PASSWORD}
        code, out, err = await run_program(
            "groupchat", said + ["over haproxy's TLS", "--ca", lb.certificate(), lb.tls_url()],
            timeout=20, env=env)
        assert code == 0, (code, out, err)
        message = await listener.next_message()
        assert (message["from"], message["text"]) == ("Sue", "over haproxy's TLS"), message
        code, out, err = await run_program("groupchat", said + ["never", lb.tls_url()],
                                           timeout=20, env=env)
        assert code == 1 and "certificate is not trusted: self-signed" in err, (code, err)
        await listener.expect_no_message(0.5)
        #  The gateways' figures are refused on this port too
        assert (await http_get(lb.tls_port, "/healthz", ssl=trust, host="localhost"))[0] == 200
        assert (await http_get(lb.tls_port, "/metrics", ssl=trust, host="localhost"))[0] == 403


async def test_a_gateway_without_its_broker_gets_no_clients():
    async with Cluster(gateways=1) as cluster:
        #  A second gateway pointed at a broker that is not there: it runs,
        #  but its /healthz answers 503
        stray_port = free_port()
        nowhere = "tcp://127.0.0.1:%d" % free_port()
        stray = Process("stray-gateway", "groupchat-gateway",
                        ["--port", str(stray_port), "--requests", nowhere, "--events", nowhere],
                        os.path.join(cluster.dir, "stray-gateway.log"))
        cluster.gateways.append(stray)
        cluster.ports.append(stray_port)
        stray.start()
        await cluster.wait_healthy([1], status=503)
        async with Haproxy(cluster.ports) as lb:
            rows = await lb.wait_states({"gateway0": "UP", "gateway1": "DOWN"})
            assert rows["gateway1"]["check_status"] == "L7STS", \
                "stray gateway down for %r, not its /healthz status" % rows["gateway1"]["check_status"]
            for user in ("Alex", "Sue", "Sandy", "Alex", "Sue", "Sandy"):
                await login_through(lb, user)
            rows = await lb.servers()
            assert int(rows["gateway1"]["stot"]) == 0 and int(rows["gateway0"]["stot"]) >= 6, \
                "sessions: %r" % {n: rows[n]["stot"] for n in lb.names}


async def test_gateways_leave_with_the_broker_and_come_back_with_it():
    async with Cluster(gateways=2) as cluster, Haproxy(cluster.ports) as lb:
        await lb.wait_states({"gateway0": "UP", "gateway1": "UP"})
        await cluster.kill_broker()
        await lb.wait_states({"gateway0": "DOWN", "gateway1": "DOWN"})
        try:
            client = await Client.connect(lb.url(), name="while down")
        except websockets.InvalidStatusCode as refused:
            assert refused.status_code == 503, "refused with %d" % refused.status_code
        else:
            await client.close()
            raise AssertionError("connected through haproxy with no healthy gateway")

        await cluster.start_broker()
        await lb.wait_states({"gateway0": "UP", "gateway1": "UP"})
        await login_through(lb, "Sandy")

        #  A gateway that stops is taken out too; the other serves everyone
        await cluster.gateways[1].stop()
        await lb.wait_states({"gateway0": "UP", "gateway1": "DOWN"})
        for user in ("Alex", "Sue", "Sandy"):
            await login_through(lb, user)
