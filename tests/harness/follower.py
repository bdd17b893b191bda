"""follower.py: `groupchat --follow` running in the background, as a
person or a script leaves it running, its printed lines collected."""

import asyncio
import os
import subprocess

from .config import CONFIG, deadline, wrap_for
from .process import server_environment
from .seed import PASSWORD


class Follower:
    """bin/groupchat --follow, its standard output read line by line."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []

    @classmethod
    async def start(cls, user, room, *urls, json_output=True, options=(), env=None,
                    wrapped=False):
        """Starts following `room` as `user` (password from the
        environment); `options` are more flags (--ca FILE), `wrapped` runs
        it under the test wrapper (valgrind) like the servers."""
        args = ["--user", user, "--room", room, "--follow"] + \
            (["--json"] if json_output else []) + list(options)
        proc = await asyncio.create_subprocess_exec(
            *(wrap_for("groupchat") if wrapped else []), os.path.join(CONFIG.bin, "groupchat"),
            *args, *urls, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=server_environment(dict({"GROUPCHAT_PASSWORD": PASSWORD}, **(env or {}))))
        return cls(proc)

    async def _read_line(self, timeout):
        line = await asyncio.wait_for(self.proc.stdout.readline(), deadline(timeout))
        assert line, "follow ended early: %r" % (await self.proc.stderr.read())
        self.lines.append(line.decode().rstrip("\n"))

    async def until(self, count, timeout=15):
        """Reads lines until `count` were seen."""
        while len(self.lines) < count:
            await self._read_line(timeout)
        return self.lines

    async def until_text(self, text, timeout=15):
        """Reads lines until one holds `text`; returns all lines so far."""
        while not any(text in line for line in self.lines):
            await self._read_line(timeout)
        return self.lines

    async def exited(self, timeout=15):
        """Waits for it to end by itself; returns (exit code, stderr)."""
        code = await asyncio.wait_for(self.proc.wait(), deadline(timeout))
        return code, (await self.proc.stderr.read()).decode("utf-8", "replace")

    async def stop(self):
        self.proc.terminate()
        code = await asyncio.wait_for(self.proc.wait(), deadline(10))
        assert code == 0, "follow exited %d on SIGTERM" % code
