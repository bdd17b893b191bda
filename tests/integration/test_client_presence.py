"""test_client_presence.py: presence and typing in the interactive client,
in a real terminal (tmux) against two real gateways (docs/client.md,
"Who is here, and who is typing"): Alex's client on gateway 0, Sue as a
protocol client on gateway 1. Join and leave notices, /who, "Sue is
typing" in the prompt without disturbing the half-typed line (gone when
her message comes, or 5 s after her last typing), and Alex's typing
reaching Sue, a command typed never; /who completed by Tab; NO_COLOR.
"""

import asyncio
import re
import time

from harness import Terminal, deadline

SGR = re.compile("\x1b\\[[0-9;]*m")


async def enter_room(term, user, room):
    await term.log_in(user, "password")
    await term.pick_room(room)
    await term.wait_for("You are in %s." % room)


async def wait_gone(term, text, timeout=10):
    """Polls the screen until `text` is no longer on it; returns the screen."""
    end = time.monotonic() + deadline(timeout)
    while text in term.screen():
        assert time.monotonic() < end, "%r still on the screen:\n%s" % (text, term.screen())
        await asyncio.sleep(0.05)     # screen polling interval
    return term.screen()


def last_line(screen):
    return [line.rstrip() for line in screen.splitlines() if line.strip()][-1]


async def typing_from(client, user, within):
    """The first typing push from `user` to reach client within `within` s."""
    end = time.monotonic() + deadline(within)
    while True:
        left = end - time.monotonic()
        assert left > 0, "%s: no typing from %s" % (client.name, user)
        push = await client.next_presence(timeout=left)
        if push["op"] == "typing" and push["user"] == user:
            return push


async def test_notices_who_and_typing_keep_the_typed_line(cluster):
    room = await cluster.new_group("Taskmaster")
    term = Terminal.client(cluster, gateway=0)
    sue = None
    try:
        await enter_room(term, "Alex", room)
        sue = await cluster.joined("Sue", 1, room)
        await term.wait_for("-- Sue joined")

        #  Alex types half a line: Sue is told he types, once at first
        term.keys("half typed")
        await term.wait_for("%s> half typed" % room)
        push = await typing_from(sue, "Alex", 5)
        assert push == {"op": "typing", "room": room, "user": "Alex"}, push

        #  Sue types: the prompt says so, the half-typed line stays as it was
        await sue.send_json({"op": "typing", "room": room})
        screen = await term.wait_for("(Sue is typing) %s> half typed" % room)
        assert last_line(screen) == "(Sue is typing) %s> half typed" % room, screen
        term.keys(" still")
        await term.wait_for("(Sue is typing) %s> half typed still" % room)

        #  Her message ends it
        await sue.say("I was typing this", room=room)
        await term.wait_for("Sue: I was typing this")
        screen = await wait_gone(term, "Sue is typing", timeout=2)
        assert last_line(screen) == "%s> half typed still" % room, screen

        #  /who, with the half-typed line cleared first
        term.keys("C-u")
        await wait_gone(term, "half typed still")
        term.keys("/who", "Enter")
        await term.wait_for("-- here: Alex, Sue")

        await sue.close()
        sue = None
        await term.wait_for("-- Sue left")
        term.keys("/quit", "Enter")
        await term.wait_exit()
    finally:
        term.close()
        if sue is not None:
            await sue.close()


async def test_typing_goes_after_five_quiet_seconds_and_is_not_coloured(cluster):
    room = await cluster.new_group("Taskmaster")
    term = Terminal.client(cluster, gateway=0, env={"NO_COLOR": "1"})
    sue = None
    try:
        await enter_room(term, "Alex", room)
        sue = await cluster.joined("Sue", 1, room)
        await term.wait_for("-- Sue joined")
        await sue.send_json({"op": "typing", "room": room})
        await term.wait_for("(Sue is typing) %s>" % room)
        shown = time.monotonic()
        assert not SGR.search(term.screen(escapes=True)), repr(term.screen(escapes=True))
        await wait_gone(term, "Sue is typing", timeout=10)
        quiet = time.monotonic() - shown
        assert 4.0 <= quiet, "typing shown only %.1f s" % quiet
        #  A command typed is not typing: Sue hears nothing of it
        term.keys("/wh")
        await term.wait_for("%s> /wh" % room)
        try:
            push = await asyncio.wait_for(sue.presence.get(), 1.0)
            assert push["op"] != "typing", "a command was typing: %r" % (push,)
        except asyncio.TimeoutError:
            pass
        #  Tab completes the command, which lists who is here
        term.keys("Tab")
        await term.wait_for("%s> /who" % room)
        term.keys("Enter")
        await term.wait_for("-- here: Alex, Sue")
        term.keys("/quit", "Enter")
        await term.wait_exit()
    finally:
        term.close()
        if sue is not None:
            await sue.close()
