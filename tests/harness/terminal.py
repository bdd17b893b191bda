"""terminal.py: the interactive client in a real terminal, a tmux session
of its own, whose screen the tests read as a person would see it.

tmux is the terminal: what the client writes goes through tmux's own
parser, so an escape sequence that reached it would show as what it does
(a colour on the screen, a new pane title), not as the bytes that were
sent. capture-pane reads the screen back; with escapes=True it also gives
the attributes of the cells (a red cell as ESC [31m), which is how a test
sees that nothing coloured the screen.
"""

import asyncio
import os
import subprocess
import time
import uuid

from .config import CONFIG, deadline
from .process import server_environment


class Terminal:
    """A tmux session of its own (its own server socket) running one command."""

    def __init__(self, command, env, width=120, height=50):
        self.socket = "gc-test-%s" % uuid.uuid4().hex[:8]
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-x", str(width),
                        "-y", str(height), command], check=True, env=env)
        #  tmux leaves its socket file behind when its server ends
        self.socket_path = self._tmux("display-message", "-p", "#{socket_path}").strip()

    def _tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def keys(self, *keys):
        self._tmux("send-keys", *keys)

    def screen(self, escapes=False):
        """The screen's text; with `escapes`, each cell's attributes as the
        escape sequences that would draw them (capture-pane -e)."""
        return self._tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def title(self):
        """The pane's title, which OSC 0 and OSC 2 sequences change."""
        return self._tmux("display-message", "-p", "#{pane_title}").rstrip("\n")

    @classmethod
    def client(cls, cluster, gateway=0, env=None, where=None):
        """The interactive client connecting to one of a cluster's gateways
        (or to the URL `where`), with more environment variables `env`."""
        env = server_environment(dict({"TERM": "xterm"}, **(env or {})))
        where = where or cluster.url(gateway)
        return cls("%s %s" % (os.path.join(CONFIG.bin, "groupchat"), where), env)

    async def log_in(self, user, password, asked=1):
        """Answers the `asked`-th login questions (the first one, or a
        later one after a failure or an end)."""
        await self.wait_for("User name:", count=asked)
        self.keys(user, "Enter")
        await self.wait_for("Password:", count=asked)
        self.keys(password, "Enter")

    async def pick_room(self, room, menus=1, lists=None):
        """From the `menus`-th menu shown: "Join a chat room", then room
        from the `lists`-th room list (as many as menus unless told)."""
        await self.wait_for("1) Join a chat room", count=menus)
        self.keys("1", "Enter")
        await self.wait_for("Room number or name:", count=lists or menus)
        self.keys(room, "Enter")

    async def wait_for(self, text, timeout=10, count=1):
        """Polls the screen until `text` is on it `count` times, within a
        deadline; returns the screen."""
        end = time.monotonic() + deadline(timeout)
        while self.screen().count(text) < count:
            assert time.monotonic() < end, "%r not on the screen:\n%s" % (text, self.screen())
            await asyncio.sleep(0.05)     # screen polling interval
        return self.screen()

    async def wait_exit(self, timeout=10):
        """Waits until the command exits (its tmux session ends with it)."""
        end = time.monotonic() + deadline(timeout)
        while subprocess.run(["tmux", "-L", self.socket, "has-session"],
                             capture_output=True).returncode == 0:
            assert time.monotonic() < end, "still running:\n%s" % self.screen()
            await asyncio.sleep(0.05)     # session polling interval

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if self.socket_path.startswith("/"):
            try:
                os.unlink(self.socket_path)
            except FileNotFoundError:
                pass
