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

from .config import deadline


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

    async def wait_for(self, text, timeout=10):
        """Polls the screen until `text` is on it, within a deadline."""
        end = time.monotonic() + deadline(timeout)
        while text not in self.screen():
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
