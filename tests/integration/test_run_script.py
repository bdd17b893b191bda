"""test_run_script.py: scripts/run.sh, what `make run` starts.

run.sh starts a broker and two gateways, waits until both answer /healthz,
prints how to connect and stays in the foreground. SIGTERM, or Ctrl-C to
its process group, stops the three cleanly (exit 0); when one of them dies
the others are stopped and run.sh exits 1; a port already in use stops it
before anything starts. Each test runs it on free ports in its own folder,
started with `sh` as the Makefile does.
"""

import asyncio
import os
import re
import signal
import socket
import subprocess
import tempfile

import harness
from harness import Client, deadline, free_port, http_get
from harness.process import tcp_listeners

#  run.sh starts a broker of its own, on SQLite, whatever the pass's database
DATABASES = ("sqlite",)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_SH = os.path.join(ROOT, "scripts", "run.sh")
PROGRAMS = ("groupchat-broker", "groupchat-gateway")


class RunScript:
    """scripts/run.sh running in a fresh folder on free ports, its output
    collected line by line (and always drained, so it never blocks)."""

    def __init__(self, gateways=2):
        self.dir = tempfile.mkdtemp(prefix="run-sh-", dir=harness.CONFIG.tmp_root)
        self.ports = [free_port() for _ in range(gateways)]
        self.db = os.path.join(self.dir, "chat.db")
        self.env = harness.server_environment({
            "GROUPCHAT_BIN": harness.CONFIG.bin,
            "GROUPCHAT_DB": self.db,
            "GROUPCHAT_GATEWAY_PORTS": " ".join(map(str, self.ports)),
            "GROUPCHAT_REQUESTS_PORT": str(free_port()),
            "GROUPCHAT_EVENTS_PORT": str(free_port()),
        })
        self.lines = []
        self.changed = asyncio.Event()
        self.proc = None
        self.reader = None
        self.children = {}      # pid: program name, once seen

    async def start(self):
        #  Its own process group, so that a test can send Ctrl-C's SIGINT
        #  to the whole group as a terminal does (run.sh itself puts the
        #  programs in sessions of their own)
        self.proc = await asyncio.create_subprocess_exec(
            "sh", RUN_SH, cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))
            self.changed.set()
        self.changed.set()

    def output(self):
        return "\n".join(self.lines)

    async def wait_for_line(self, pattern, within=30.0):
        """The first output line matching `pattern` (a regex)."""
        end = asyncio.get_running_loop().time() + deadline(within)
        while True:
            for line in self.lines:
                if re.search(pattern, line):
                    return line
            if self.reader.done():
                raise AssertionError("run.sh ended (%s) without printing /%s/:\n%s" % (
                    self.proc.returncode, pattern, self.output()))
            left = end - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError("run.sh printed no /%s/ within %.0f s:\n%s" % (
                    pattern, deadline(within), self.output()))
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait_exit(self, within=30.0):
        """run.sh's exit code, once it and everything it started are gone
        (asyncio reports the exit only when its output is closed too)."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), deadline(within))
        except asyncio.TimeoutError:
            if self.proc.returncode is not None:
                raise AssertionError("run.sh exited %d but left programs running "
                                     "(pids %r):\n%s" % (self.proc.returncode,
                                                         self.alive_children(),
                                                         self.output()))
            raise AssertionError("run.sh still running %.0f s later:\n%s" % (
                deadline(within), self.output()))
        await self.reader
        return code

    def find_children(self):
        """The programs run.sh started (its children that are ours)."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                exe = os.path.basename(os.readlink("/proc/%s/exe" % entry))
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and exe in PROGRAMS:
                self.children[int(entry)] = exe
        return self.children

    def alive_children(self):
        alive = []
        for pid in self.children:
            try:
                with open("/proc/%d/stat" % pid) as stat:
                    state = stat.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        return alive

    def cleanup(self):
        """Whatever a failed test left running. The programs run in
        sessions of their own: find them while run.sh is still their
        parent, then kill run.sh, then them."""
        if self.proc is None:
            return
        if self.proc.returncode is None:
            self.find_children()
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in self.alive_children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


async def started_and_ready(gateways=2):
    """run.sh started and past its banner, with its programs found."""
    run = await RunScript(gateways).start()
    await run.wait_for_line(r"^Ctrl-C stops everything")
    children = run.find_children()
    assert sorted(children.values()) == ["groupchat-broker"] + ["groupchat-gateway"] * gateways, \
        "run.sh's programs: %r\n%s" % (children, run.output())
    return run


async def check_secure_by_default(run):
    """Loopback only, and the broker link has keys, made on the first start:
    the admin's folder is served, no key is refused, as the banner says."""
    for port in run.ports:
        listening = {address for address, bound, _ in tcp_listeners() if bound == port}
        assert listening == {"127.0.0.1"}, "gateway on %d listens on %r" % (port, listening)
    keys = os.path.join(run.dir, "run", "keys")
    for folder in ("broker", "gateway", "admin"):
        assert os.stat(os.path.join(keys, folder)).st_mode & 0o777 == 0o700, folder
    requests = ["--requests", "tcp://127.0.0.1:%s" % run.env["GROUPCHAT_REQUESTS_PORT"]]
    code, out, err = await harness.run_program(
        "groupchat-admin", requests + ["--keys", os.path.join(keys, "admin"), "users"])
    assert (code, out.split()) == (0, ["Alex", "Sandy", "Sue"]), (code, out, err)
    assert "groupchat-admin --keys run/keys/admin users" in run.output(), run.output()
    code, out, err = await harness.run_program("groupchat-admin", requests + ["users"])
    assert code == 1 and "refused the handshake" in err, (code, out, err)


async def test_run_sh_starts_a_broker_and_two_gateways_and_says_how_to_connect():
    run = await started_and_ready()
    try:
        urls = re.findall(r"groupchat (ws://localhost:\d+)", run.output())
        assert urls == ["ws://localhost:%d" % port for port in run.ports], \
            "connect lines: %r\n%s" % (urls, run.output())
        for port in run.ports:
            status, _ = await http_get(port, "/healthz")
            assert status == 200, "gateway on %d: /healthz %d" % (port, status)
        #  The browser's address too, each serving the page
        pages = re.findall(r"^    (http://localhost:\d+/)$", run.output(), re.M)
        assert pages == ["http://localhost:%d/" % port for port in run.ports], run.output()
        for port in run.ports:
            status, body = await http_get(port, "/")
            assert status == 200 and b"<title>groupchat</title>" in body, (port, status)
        #  The three are wired together: a message said on one gateway
        #  reaches a member on the other
        alex = await Client.connect("ws://127.0.0.1:%d/" % run.ports[0], name="Alex")
        sue = await Client.connect("ws://127.0.0.1:%d/" % run.ports[1], name="Sue")
        await alex.login("Alex")
        await sue.login("Sue")
        await alex.join("Taskmaster")
        await sue.join("Taskmaster")
        seq = await alex.say("through run.sh")
        message = await sue.next_message()
        assert (message["seq"], message["text"], message["from"]) == \
            (seq, "through run.sh", "Alex"), "Sue got %r" % (message,)
        assert os.path.exists(run.db), "no database at GROUPCHAT_DB=%s" % run.db
        await check_secure_by_default(run)

        run.proc.send_signal(signal.SIGTERM)
        code = await run.wait_exit()
        assert code == 0, "run.sh exit %d on SIGTERM:\n%s" % (code, run.output())
        assert run.alive_children() == [], "left running: %r" % run.alive_children()
        #  Output is prefixed on the terminal and kept in run/<name>.log
        for name in ["broker"] + ["gateway-%d" % p for p in run.ports]:
            assert any(line.startswith(name + " ") for line in run.lines), \
                "no output prefixed %r:\n%s" % (name, run.output())
            log = os.path.join(run.dir, "run", name + ".log")
            assert os.path.getsize(log) > 0, "%s is empty" % log
    finally:
        run.cleanup()


async def test_ctrl_c_stops_everything_with_exit_0():
    #  Three times, each the moment the banner is out: a Ctrl-C that comes
    #  while run.sh forks its first wait was once lost (one try in ten)
    for _ in range(3):
        run = await started_and_ready()
        try:
            #  A terminal's Ctrl-C: SIGINT to every process of the group
            os.killpg(run.proc.pid, signal.SIGINT)
            code = await run.wait_exit()
            assert code == 0, "run.sh exit %d on Ctrl-C:\n%s" % (code, run.output())
            assert run.alive_children() == [], "left running: %r" % run.alive_children()
        finally:
            run.cleanup()


async def test_when_a_gateway_dies_the_others_stop_and_run_sh_exits_1():
    run = await started_and_ready()
    try:
        gateway = next(pid for pid, name in run.children.items()
                       if name == "groupchat-gateway")
        os.kill(gateway, signal.SIGKILL)
        code = await run.wait_exit()
        assert code == 1, "run.sh exit %d after a gateway died:\n%s" % (code, run.output())
        assert run.alive_children() == [], "left running: %r" % run.alive_children()
        assert re.search(r"gateway-\d+ exited with code", run.output()), \
            "run.sh did not say which program died:\n%s" % run.output()
    finally:
        run.cleanup()


async def test_a_port_in_use_stops_run_sh_before_anything_starts():
    run = RunScript()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", run.ports[1]))
        taken.listen()
        await run.start()
        try:
            code = await run.wait_exit(10)
        finally:
            run.cleanup()
    assert code == 1, "run.sh exit %d with port %d taken:\n%s" % (
        code, run.ports[1], run.output())
    assert "port %d is already in use" % run.ports[1] in run.output(), run.output()
    assert not os.path.exists(run.db), "the broker was started anyway"


async def test_three_gateways_on_ports_of_ones_choice():
    """README's recipe for other ports: one gateway per port given."""
    run = await started_and_ready(gateways=3)
    try:
        urls = re.findall(r"groupchat (ws://localhost:\d+)", run.output())
        assert urls == ["ws://localhost:%d" % port for port in run.ports], run.output()
        for port in run.ports:
            status, _ = await http_get(port, "/healthz")
            assert status == 200, "gateway on %d: /healthz %d" % (port, status)
        os.killpg(run.proc.pid, signal.SIGINT)
        assert await run.wait_exit() == 0, run.output()
    finally:
        run.cleanup()


async def test_make_run_installs_only_what_building_and_running_need():
    """make run asks deps.sh for the build set, and that set holds none of
    the test tools."""
    root = ROOT
    dry = subprocess.run(["make", "-n", "-C", root, "run"], capture_output=True,
                         text=True, timeout=60)
    assert "scripts/deps.sh build" in dry.stdout, dry.stdout + dry.stderr
    listed = subprocess.run(["sh", os.path.join(root, "scripts", "deps.sh"), "list", "build"],
                            capture_output=True, text=True, timeout=10)
    assert listed.returncode == 0, listed.stderr
    packages = listed.stdout.split()
    assert "libczmq-dev" in packages and "libwebsockets-dev" in packages, packages
    for tool in ("valgrind", "haproxy", "docker-compose", "tmux", "python3"):
        assert tool not in packages, "%s in the build set: %r" % (tool, packages)
    everything = subprocess.run(["sh", os.path.join(root, "scripts", "deps.sh"), "list"],
                                capture_output=True, text=True, timeout=10).stdout.split()
    assert set(packages) < set(everything) and "valgrind" in everything, everything

