"""test_client_escape.py: bin/groupchat shows text from the network as
data, never as terminal controls (docs/client.md, "What the client shows").

A message holding an SGR colour, an OSC title change, a C1 CSI and a bidi
override is said by a Python WebSocket client through the real cluster,
after a say of invalid UTF-8 that the gateway refuses; user and room
names with controls are made by groupchat-admin, which takes any name;
a stand-in gateway sends error texts no real one would. The plain
--follow lines and --json lines are read as a script reads them; the
interactive client runs in tmux, whose screen, cell attributes and pane
title show whether anything reached the terminal as a control.
"""

import json
import os
import re
import shlex

import websockets

from harness import (CONFIG, PASSWORD, Follower, Terminal, free_port, run_program,
                     server_environment)

HOSTILE = ("red \x1b[31mRED\x1b[0m title \x1b]0;PWNED\x07 csi \u009b32mGREEN "
           "bidi \u202eevil\u202c end")
#  HOSTILE as the screen shows it: C0 in caret notation, the rest as \xHH
HOSTILE_SHOWN = ("red ^[[31mRED^[[0m title ^[]0;PWNED^G csi \\xc2\\x9b32mGREEN "
                 "bidi \\xe2\\x80\\xaeevil\\xe2\\x80\\xac end")
#  What must never reach a terminal: C0 but LF and TAB, DEL, C1, bidi controls
HARMFUL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SGR = re.compile("\x1b\\[[0-9;]*m")


def url(cluster, gateway=0):
    return "ws://127.0.0.1:%d" % cluster.ports[gateway]


async def say_hostile(cluster, room="Taskmaster", suffix=""):
    """Sue says HOSTILE + suffix, after a say of invalid UTF-8 that the
    gateway must refuse; returns the seq of the hostile message."""
    sue = await cluster.login("Sue")
    await sue.join(room)
    invalid = ('{"op":"say","room":"%s","text":"bad ' % room).encode() + \
        b'\xff\x9b31m \xc0\xaf \xed\xa0\x80"}'
    await sue.send_text_bytes(invalid)
    refused = await sue.next_reply()
    assert refused["op"] == "error" and refused["code"] == "bad_request", refused
    seq = await sue.say(HOSTILE + suffix, room=room)
    await sue.close()
    return seq


def assert_harmless(text, where):
    found = HARMFUL.search(text)
    assert not found, "%s holds %r raw: %r" % (where, found.group(), text)


async def test_follow_shows_controls_visibly_and_json_keeps_the_text(cluster):
    #  Under the test wrapper (valgrind), as the escaping is theirs
    plain = await Follower.start("Sandy", "Taskmaster", url(cluster), json_output=False,
                                 wrapped=True)
    as_json = await Follower.start("Sandy", "Taskmaster", url(cluster, 1), wrapped=True)
    seq = await say_hostile(cluster)
    sue = await cluster.login("Sue")
    await sue.join("Taskmaster")
    after = await sue.say("after the hostile one", room="Taskmaster")
    #  The invalid UTF-8 was refused, so nothing was stored between the two
    assert after == seq + 1, (seq, after)
    lines = await plain.until_text("after the hostile one")
    shown = [line for line in lines if "Sue: red " in line]
    assert shown and shown[-1].endswith("] Sue: " + HOSTILE_SHOWN), lines
    for line in lines:
        assert_harmless(line, "a --follow line")
    lines = await as_json.until_text("after the hostile one")
    for line in lines:
        assert_harmless(line, "a --json line")
    messages = [json.loads(line) for line in lines]
    hostile = [m for m in messages if m["seq"] == seq]
    assert hostile and hostile[0]["text"] == HOSTILE, messages
    assert "\\u001B[31m" in lines[messages.index(hostile[0])], lines
    assert [m["seq"] for m in messages][-2:] == [seq, after], messages
    await plain.stop()
    await as_json.stop()


def terminal(cluster_url, user, password=PASSWORD):
    """The interactive client in tmux, logged in as user at once (the user
    name goes through the environment, so any bytes can be in it). Its
    own colours are off (NO_COLOR), so any colour on the screen came
    from the network."""
    env = server_environment({"TERM": "xterm", "GROUPCHAT_PASSWORD": password,
                              "GC_TEST_USER": user, "NO_COLOR": "1"})
    command = '%s --user "$GC_TEST_USER" %s' % (
        shlex.quote(os.path.join(CONFIG.bin, "groupchat")), cluster_url)
    return Terminal(command, env)


def assert_screen_untouched(term, title):
    """Nothing on the screen was drawn by a control from the network."""
    screen = term.screen()
    assert_harmless(screen, "the screen")
    cells = term.screen(escapes=True)
    assert not SGR.search(cells), "a colour reached the screen:\n%r" % cells
    assert term.title() == title, "the pane's title became %r" % term.title()


async def test_the_interactive_client_shows_controls_visibly(cluster):
    await say_hostile(cluster, suffix=" (history)")
    term = terminal(url(cluster), "Sandy")
    try:
        title = term.title()
        await term.wait_for("Choose 1 or 2:")
        term.keys("1", "Enter")
        await term.wait_for("Room number or name:")
        term.keys("Taskmaster", "Enter")
        await term.wait_for("Sue: " + HOSTILE_SHOWN + " (history)")
        await term.wait_for("Taskmaster>")
        #  Said while the person types: printed above the typed line
        term.keys("half typed")
        await say_hostile(cluster, suffix=" (live)")
        screen = await term.wait_for("Sue: " + HOSTILE_SHOWN + " (live)")
        assert screen.rstrip().endswith("Taskmaster> half typed"), screen
        assert_screen_untouched(term, title)
        term.keys("C-u", "/quit", "Enter")
        await term.wait_exit()
    finally:
        term.close()


EVE = "Eve\x1b[35m\u202e"
EVE_SHOWN = "Eve^[[35m\\xe2\\x80\\xae"
LAIR = "Lair\x1b]0;ROOM\x07\x1b[32m"
LAIR_SHOWN = "Lair^[]0;ROOM^G^[[32m"


async def pick_the_lair(term):
    """Logged in as EVE: her welcome, the menu's first choice, the room
    list and its first room, LAIR, each shown escaped."""
    await term.wait_for("Welcome, %s." % EVE_SHOWN)
    term.keys("1", "Enter")
    await term.wait_for("  1) %s" % LAIR_SHOWN)
    term.keys("1", "Enter")


async def test_user_and_room_names_are_shown_escaped(cluster):
    await cluster.add_member(EVE, LAIR)
    eve = await cluster.login(EVE)
    await eve.join(LAIR)
    await eve.say("from the lair", room=LAIR)
    follower = await Follower.start(EVE, LAIR, url(cluster), json_output=False, wrapped=True)
    line = (await follower.until(1))[0]
    assert line.endswith("] %s: from the lair" % EVE_SHOWN), line
    await follower.stop()
    term = terminal(url(cluster, 1), EVE)
    try:
        title = term.title()
        await pick_the_lair(term)
        await term.wait_for("Joining %s..." % LAIR_SHOWN)
        await term.wait_for("%s>" % LAIR_SHOWN)
        screen = await term.wait_for("%s: from the lair" % EVE_SHOWN)
        assert "You are in %s." % LAIR_SHOWN in screen, screen
        assert_screen_untouched(term, title)
    finally:
        term.close()


# --------------------------------------------------------------------------
#  A stand-in gateway that says what no real one would

ERROR_TEXT = "\x1b]0;ERR\x07\x1b[31mjoin refused\nforged line \u009b2J"
ERROR_SHOWN = "^[]0;ERR^G^[[31mjoin refused^Jforged line \\xc2\\x9b2J"


async def stand_in(ws, path=None):
    """Answers login (as EVE), rooms (LAIR) and every other request with
    an `internal` error whose message is ERROR_TEXT."""
    async for frame in ws:
        request = json.loads(frame)
        reply = {"op": "error", "id": request.get("id"), "code": "internal",
                 "message": ERROR_TEXT}
        if request["op"] == "login":
            reply = {"op": "ok", "id": request["id"], "user": EVE, "token": "t"}
        elif request["op"] == "rooms":
            reply = {"op": "ok", "id": request["id"], "rooms": [{"name": LAIR}]}
        await ws.send(json.dumps(reply))


async def test_server_texts_are_shown_escaped():
    port = free_port()
    async with websockets.serve(stand_in, "127.0.0.1", port):
        where = "ws://127.0.0.1:%d" % port
        code, out, err = await run_program(
            "groupchat", ["--user", "Eve", "--room", "Lair", "--say", "hi", where],
            env={"GROUPCHAT_PASSWORD": PASSWORD})
        assert code == 1 and "groupchat: join failed: %s\n" % ERROR_SHOWN in err, (code, err)
        assert_harmless(err.replace("\n", " "), "stderr")
        term = terminal(where, "Eve")
        try:
            title = term.title()
            await pick_the_lair(term)
            await term.wait_for("join failed: %s" % ERROR_SHOWN)
            await term.wait_for("Choose 1 or 2:")
            assert_screen_untouched(term, title)
        finally:
            term.close()
