"""process.py: one program run by the tests: started under the optional
wrapper with its output in a log file, waited for (event-driven, through
a pidfd), stopped or killed; free ports for it to listen on, and whether
a port opens on another address of this machine; a program run to
completion (run_program) for the tests of flags and commands.
"""

import asyncio
import ctypes
import os
import random
import shlex
import signal
import socket
import subprocess
import time

from .config import CONFIG, deadline, wrap_for

_ports_given = set()


def _ephemeral_low():
    """The lowest port the kernel hands out for outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            return int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_random = random.Random(os.getpid())


def free_port():
    """A loopback TCP port nobody listens on right now, chosen BELOW the
    kernel's ephemeral range. A port from that range (what bind to port
    0 gives) can be taken before the server binds it: a client that
    connects to it early, as a gateway started before its broker does
    every 100 ms, may be given that very port as its own local port and
    connect to itself (TCP simultaneous open on loopback), and the
    server then finds its port in use."""
    high = _ephemeral_low() - 1
    while True:
        port = _random.randint(10000, high)
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        #  Never hand out one port twice in this process
        _ports_given.add(port)
        return port


def other_local_address():
    """An IPv4 address of this machine other than loopback, or None. A
    UDP socket 'connected' to a public address sends nothing but learns
    which local address the route would use."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.200", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def connect_error(address, port):
    """None when a TCP connection to address:port opens, else its errno."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port),
                                           deadline(5))
    except OSError as error:
        return error.errno
    writer.close()
    return None


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """A preexec_fn: the child dies with the test process.

    Runs in the child between fork and exec, so that when the test process
    dies (crash, timeout kill) its servers die with it instead of lingering."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    """A server program run under the optional wrapper, logging to a file."""

    def __init__(self, name, program, args, log_path, env=None, wrapped=True):
        self.name = name            # e.g. "broker", "gateway-1"
        self.program = program      # file name in CONFIG.bin, or a full path
        self.wrapped = wrapped      # run under CONFIG.wrap (ours, not others')
        self.args = list(args)      # flags
        self.log_path = log_path    # stdout and stderr, appended across runs
        self.env = env or {}        # extra environment
        self.popen = None           # the running or last run
        self.expect_exit = False    # True once we stopped or killed it

    @property
    def pid(self):
        return self.popen.pid

    def argv(self):
        wrap = wrap_for(self.program) if self.wrapped else []
        return wrap + [os.path.join(CONFIG.bin, self.program)] + self.args

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
                preexec_fn=die_with_parent)
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

    def log(self):
        """The whole log, as text."""
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")

    async def wait_for_log(self, text, within=20.0):
        """Waits until the log holds `text` or the program has exited;
        returns the log. Polled with a deadline: a log line is nothing to
        wait on."""
        end = time.monotonic() + deadline(within)
        while text not in self.log() and self.running():
            assert time.monotonic() < end, "%s: no %r in its log within %.0f s" % (
                self.name, text, deadline(within))
            await asyncio.sleep(0.05)
        return self.log()

    def rss(self):
        """The resident set size in bytes (/proc/PID/status VmRSS)."""
        with open("/proc/%d/status" % self.pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for %s" % self.name)

    async def all_threads_stopped(self, within=5.0):
        """Polls /proc until every thread is in state T: a SIGSTOP takes
        effect as each thread next enters the kernel, which may be after
        kill() returned, and a stop raises no event to wait on."""
        end = time.monotonic() + deadline(within)
        while True:
            states = []
            for task in os.listdir("/proc/%d/task" % self.pid):
                with open("/proc/%d/task/%s/stat" % (self.pid, task)) as stat:
                    states.append(stat.read().rsplit(")", 1)[1].split()[0])
            if all(state in ("T", "t") for state in states):
                return
            assert time.monotonic() < end, "threads of %s not stopped: %r" % (self.name, states)
            await asyncio.sleep(0.005)

    def instrumented(self):
        """True when the program runs under AddressSanitizer (libasan
        mapped) or a wrapper such as valgrind: its memory costs more."""
        with open("/proc/%d/maps" % self.pid) as maps:
            asan = "libasan" in maps.read()
        return asan or bool(self.wrapped and wrap_for(self.program))

    def _socket_inodes(self):
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % self.pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (self.pid, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
        return inodes

    def listening(self):
        """The TCP addresses the program listens on: (address, port) pairs,
        read from /proc (its sockets among its namespace's listeners)."""
        inodes = self._socket_inodes()
        return {(address, port) for address, port, inode in tcp_listeners(self.pid)
                if inode in inodes}

    def connected_to(self, port):
        """How many of the program's TCP connections to `port` are open at
        both ends (ESTABLISHED), read from /proc: one the peer closed is
        not, even while the program has not noticed (it is stopped)."""
        inodes = self._socket_inodes()
        return sum(1 for remote, state, inode in tcp_connections(self.pid)
                   if remote == port and state == "01" and inode in inodes)

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


def tcp_listeners(pid="self"):
    """Every listening TCP socket of a process's network namespace:
    (address, port, inode) triples, read from /proc."""
    found = set()
    for table in ("tcp", "tcp6"):
        with open("/proc/%s/net/%s" % (pid, table)) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A":
                    address, port = local.split(":")
                    found.add((_address(address), int(port, 16), inode))
    return found


def tcp_connections(pid="self"):
    """Every TCP socket of a process's network namespace: (remote port,
    state as /proc writes it, inode) triples."""
    found = []
    for table in ("tcp", "tcp6"):
        with open("/proc/%s/net/%s" % (pid, table)) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                found.append((int(fields[2].split(":")[1], 16), fields[3], fields[9]))
    return found


def _address(hex_address):
    """An address as /proc/net/tcp writes it (hex, in the host's byte
    order) in the usual notation."""
    packed = bytes.fromhex(hex_address)
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed[::-1])
    words = b"".join(packed[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


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
    return await run_command(
        wrap_for(program) + [os.path.join(CONFIG.bin, program)] + list(args),
        server_environment(env), timeout)


async def run_command(argv, env, timeout, cwd=None, merge_output=False):
    """Runs argv to completion within deadline(timeout); returns (code,
    stdout, stderr), stderr empty when `merge_output` sends it to stdout.

    Raises AssertionError (after killing it) when it takes longer."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_output else subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), deadline(timeout))
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("%s did not exit within %.0f s" % (
            shlex.join(argv), deadline(timeout)))
    return (proc.returncode, out.decode("utf-8", "replace"),
            (err or b"").decode("utf-8", "replace"))
