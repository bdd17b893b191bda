"""stack.py: docker-compose.yml brought up for real, as a test's subject.

A Stack is the project's compose file (or the main file with
docker-compose.ha.yml over it: Stack.high_availability()) run under a
project name of its own on free host ports, by `docker compose` where
that plugin exists, else by Debian's `docker-compose`. It waits for
Docker's own health states, finds a service's container, its main
process, its log and what its health check said, runs one-off
containers, logs clients in through the load balancer or a gateway, and
waits for the gateways to move to another broker. The folder its tls
service takes an operator's certificate from (GROUPCHAT_TLS_DIR) is its
own, empty unless a test gives one. Everything it runs is bounded by a
deadline (scaled like every other).

The project names start with GROUPCHAT_TEST_PROJECT, which
scripts/test-compose.sh makes from the checkout's path, so that runs from
two checkouts on one engine never take each other's stack down.
"""

import asyncio
import copy
import json
import os
import shutil
import subprocess
import tempfile
import time

from .client import Client
from .config import deadline
from .process import free_port, run_command
from .seed import PASSWORD
from .web import gateway_figures, http_get, wait_dialing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROJECT = os.environ.get("GROUPCHAT_TEST_PROJECT", "groupchat-test")
FILES = ("docker-compose.yml",)
SERVICES = ("broker", "gateway1", "gateway2", "lb")
#  PostgreSQL and a standby broker: the main file and the override
HA_FILES = FILES + ("docker-compose.ha.yml",)
HA_SERVICES = ("postgres", "broker", "broker2", "gateway1", "gateway2", "lb")


def compose_command():
    """The compose program: the plugin when the docker CLI has it."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 timeout=30).returncode == 0:
        return [docker, "compose"]
    found = shutil.which("docker-compose")
    assert found, "neither `docker compose` nor docker-compose is installed"
    return [found]


class Stack:
    """The compose project `name` of the compose `files` (in the checkout),
    its lb and gateways on free host ports; `services` are those that run
    and have a health check."""

    def __init__(self, name=PROJECT, files=FILES, services=SERVICES):
        self.name = name
        self.services = services
        self.compose = compose_command()
        self.lb_port, self.lb_tls_port = free_port(), free_port()
        self.gateway_ports = (free_port(), free_port())
        self.tls_given = os.path.join(tempfile.gettempdir(), "%s-tls-given" % name)
        os.makedirs(self.tls_given, exist_ok=True)
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("GROUPCHAT_", "COMPOSE_"))}
        self.env.update({
            "COMPOSE_PROJECT_NAME": name,
            "COMPOSE_FILE": os.pathsep.join(files),
            #  The scenarios are the seed's users (compose's default is none)
            "GROUPCHAT_SEED": "demo",
            "GROUPCHAT_LB_PORT": str(self.lb_port),
            "GROUPCHAT_LB_TLS_PORT": str(self.lb_tls_port),
            "GROUPCHAT_TLS_DIR": self.tls_given,
            "GROUPCHAT_GATEWAY1_PORT": str(self.gateway_ports[0]),
            "GROUPCHAT_GATEWAY2_PORT": str(self.gateway_ports[1]),
        })

    @classmethod
    def high_availability(cls):
        """docker-compose.ha.yml over the main file, a project of its own."""
        return cls(PROJECT + "-ha", HA_FILES, HA_SERVICES)

    def also(self, path):
        """This stack with one more compose file (a path in the checkout)
        over its files: the same project, ports and settings."""
        other = copy.copy(self)
        other.env = dict(self.env, COMPOSE_FILE=self.env["COMPOSE_FILE"] + os.pathsep + path)
        return other

    def url(self, through="lb"):
        """A client's URL: through the load balancer or to one gateway."""
        port = self.lb_port if through == "lb" else self.gateway_ports[int(through[-1]) - 1]
        return "ws://127.0.0.1:%d/" % port

    def tls_url(self, host="localhost"):
        """wss:// through the load balancer, which ends TLS."""
        return "wss://%s:%d/" % (host, self.lb_tls_port)

    def give_certificate(self, cert, key):
        """Puts an operator's pair where the tls service looks for one."""
        shutil.copy(cert, os.path.join(self.tls_given, "cert.pem"))
        shutil.copy(key, os.path.join(self.tls_given, "key.pem"))

    def take_back_certificate(self):
        for name in ("cert.pem", "key.pem"):
            path = os.path.join(self.tls_given, name)
            if os.path.exists(path):
                os.remove(path)

    async def export_certificate(self, path):
        """Writes to `path` the certificate lb serves, taken out of its
        volume the way the README says (`exec -T lb cat ...`)."""
        pem = await self.run("exec", "-T", "lb", "cat", "/etc/haproxy/tls/cert.pem")
        assert pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:500]
        with open(path, "w", encoding="ascii") as exported:
            exported.write(pem)
        return path

    async def run(self, *args, timeout=120.0, check=True):
        """`compose ARGS` in the checkout; returns its output."""
        code, out, _ = await run_command(self.compose + list(args), self.env,
                                         deadline(timeout), cwd=ROOT, merge_output=True)
        assert not check or code == 0, "%s %s: exit %s\n%s" % (
            " ".join(self.compose), " ".join(args), code, out[-4000:])
        return out

    async def docker(self, *args, timeout=60.0, check=True):
        code, out, _ = await run_command(["docker"] + list(args), self.env,
                                         deadline(timeout), merge_output=True)
        assert not check or code == 0, "docker %s: exit %s\n%s" % (
            " ".join(args), code, out[-4000:])
        return out

    async def container(self, service):
        """The id of the service's container (running or not). Asked of the
        engine by the labels compose puts on it, which is what `compose ps`
        does, without the second that starting compose takes each time."""
        labels = {"project": self.name, "service": service, "oneoff": "False"}
        filters = [word for name, value in labels.items()
                   for word in ("--filter", "label=com.docker.compose.%s=%s" % (name, value))]
        out = await self.docker("ps", "-a", "-q", *filters)
        ids = out.split()
        assert len(ids) == 1, "%s: containers %r" % (service, ids)
        return ids[0]

    async def state(self, service):
        """(status, health, started at, restart count) of its container."""
        out = await self.docker("inspect", "--format",
                                "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}"
                                "{{else}}none{{end}} {{.State.StartedAt}} {{.RestartCount}}",
                                await self.container(service))
        status, health, started, restarts = out.split()
        return status, health, started, int(restarts)

    async def first_pid(self, service):
        """The host pid of the container's first process (its init)."""
        out = await self.docker("inspect", "--format", "{{.State.Pid}}",
                                await self.container(service))
        assert int(out) > 0, "%s is not running" % service
        return int(out)

    async def wait_healthy(self, services=None, within=120.0):
        """Waits until Docker says each service (all by default) is healthy;
        returns the seconds it took. Polls the engine's state every half
        second: Docker itself runs the health checks only every few seconds."""
        services = services or self.services
        started = time.monotonic()
        end = started + deadline(within)
        states = {}
        while True:
            states = {service: await self.state(service) for service in services}
            if all(state[1] == "healthy" for state in states.values()):
                return time.monotonic() - started
            if time.monotonic() > end:
                logs = await self.run("logs", "--tail", "20", check=False)
                raise AssertionError("not healthy within %.0f s: %r\n%s" % (
                    deadline(within), states, logs[-6000:]))
            await asyncio.sleep(0.5)

    async def ready(self):
        """The stack up and healthy: brought up (no build) if a service is
        missing or stopped, so that a test also runs on its own."""
        out = await self.run("ps", "-q", *self.services)
        running = len(out.split()) == len(self.services)
        for service in self.services if running else ():
            running = running and (await self.state(service))[0] == "running"
        if not running:
            await self.up()
        return await self.wait_healthy()

    async def health_said(self, service):
        """What the service's health check printed last ("" before its first)."""
        out = await self.docker("inspect", "--format", "{{json .State.Health.Log}}",
                                await self.container(service))
        checks = json.loads(out) or []
        return checks[-1]["Output"].strip() if checks else ""

    async def log(self, service):
        """The service's log, every container run of it, without colours."""
        return await self.run("logs", "--no-color", service)

    async def wait_for_log(self, service, text, count=1, within=30.0):
        """Waits until `text` stands `count` times in the service's log."""
        end = time.monotonic() + deadline(within)
        while (await self.log(service)).count(text) < count:
            assert time.monotonic() < end, "%s logged %r fewer than %d times:\n%s" % (
                service, text, count, (await self.log(service))[-3000:])
            await asyncio.sleep(0.2)    # log polling interval

    async def login(self, user, gateway=None, password=PASSWORD):
        """A Client logged in as `user` through the load balancer, or on
        gateway 0 or 1 (gateway1, gateway2) itself."""
        through = "lb" if gateway is None else "gateway%d" % (gateway + 1)
        client = await Client.connect(self.url(through), name="%s@%s" % (user, through))
        await client.login(user, password)
        return client

    async def _gateway_healthy(self, port):
        """Whether the gateway at `port` answers /healthz with 200."""
        try:
            return (await http_get(port, "/healthz", 1.0))[0] == 200
        except (OSError, asyncio.TimeoutError, AssertionError):
            return False        # the gateway restarting

    async def wait_serving_on(self, index, within=30.0):
        """Waits until both gateways dial broker `index` of their lists and
        their /healthz answers 200 through it; returns the seconds it took."""
        started = time.monotonic()
        end = started + deadline(within)
        await wait_dialing(self.gateway_ports, index, end)
        for port in self.gateway_ports:
            while not await self._gateway_healthy(port):
                assert time.monotonic() < end, "the gateway on port %d is not healthy" % port
                await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def serving_broker(self, within=30.0):
        """The index, in the gateways' broker lists, of the broker that
        serves: once both gateways dial the same one and answer /healthz
        200 through it. (A gateway tries each broker of its list in turn
        until one answers, and only the serving one does.)"""
        end = time.monotonic() + deadline(within)
        while True:
            dialed = {(await gateway_figures(port))["groupchat_broker_endpoint_index"]
                      for port in self.gateway_ports}
            healthy = [await self._gateway_healthy(port) for port in self.gateway_ports]
            if len(dialed) == 1 and all(healthy):
                return int(dialed.pop())
            assert time.monotonic() < end, "the gateways dial %r, healthy: %r" % (
                sorted(dialed), healthy)
            await asyncio.sleep(0.05)

    async def up(self, build=False):
        await self.run("up", "-d", *(["--build"] if build else []), timeout=600.0)

    async def down(self, volumes=False):
        await self.run("down", *(["-v"] if volumes else []), "--remove-orphans",
                       timeout=120.0)

    async def volume_exists(self, volume="groupchat-data"):
        out = await self.docker("volume", "ls", "-q", "--filter",
                                "name=%s_%s" % (self.name, volume))
        return bool(out.split())

    async def one_off(self, *args, env=None, entrypoint=None, timeout=60.0, check=True,
                      service="client"):
        """`compose run --rm -T` of a service (the client's unless said);
        returns its output."""
        flags = ["run", "--rm", "-T"]
        for key, value in (env or {}).items():
            flags += ["-e", "%s=%s" % (key, value)]
        if entrypoint:
            flags += ["--entrypoint", entrypoint]
        return await self.run(*flags, service, *args, timeout=timeout, check=check)
