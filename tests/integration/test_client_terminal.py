"""test_client_terminal.py: the interactive client as a new user meets it,
in a real terminal (tmux) against real gateways (docs/client.md,
"Interactive"): /join between rooms with unread counts, Tab completion,
/help, //TEXT, the menu's wrong choices, nick colours and mentions (and
none with NO_COLOR), and date lines, for which a stand-in gateway serves
history from other days.
"""

import json
import re
import time

import websockets

from harness import Terminal, free_port, run_program

SGR = re.compile("\x1b\\[([0-9;]*)m")


def sgr_params(text):
    """Every SGR parameter in text, as numbers."""
    return {int(p) for found in SGR.findall(text) for p in found.split(";") if p}


async def enter_room(term, user, room):
    await term.log_in(user, "password")
    await term.pick_room(room)
    await term.wait_for("You are in %s." % room)


def lines_of(screen):
    return [line.rstrip() for line in screen.splitlines()]


async def test_join_switches_rooms_and_counts_unread(cluster):
    term = Terminal.client(cluster)
    alex = await cluster.login("Alex")
    await alex.join("Taskmaster")
    try:
        await enter_room(term, "Sue", "Taskmaster")
        #  Tab completes the room's name (it holds a space), not a file's
        term.keys("/join Qu", "Tab")
        await term.wait_for("Taskmaster> /join Quite Interesting")
        term.keys("Enter")
        await term.wait_for("You are in Quite Interesting.")
        await alex.say("while you were away", room="Taskmaster")
        await alex.say("and again", room="Taskmaster")
        await term.wait_for("-- 2 unread in Taskmaster")
        assert "Alex: while you were away" not in term.screen(), term.screen()
        term.keys("/rooms", "Enter")
        await term.wait_for("3) Taskmaster (2 unread)")
        term.keys("/join Taskmaster", "Enter")
        screen = await term.wait_for("You are in Taskmaster.", count=2)
        after = lines_of(screen)
        after = after[max(i for i, line in enumerate(after) if "/join Taskmaster" in line):]
        assert any(line.endswith("Alex: while you were away") for line in after), after
        assert any(line.endswith("Alex: and again") for line in after), after
        #  People seen complete too
        term.keys("thanks Al", "Tab")
        await term.wait_for("Taskmaster> thanks Alex")
        term.keys("Enter")
        await term.wait_for("Sue: thanks Alex")
        term.keys("/rooms", "Enter")
        #  The second list without a count (the first was the menu's)
        screen = await term.wait_for("3) Taskmaster\n", count=2)
        assert "unread" not in screen.split("Your chat rooms:")[-1], screen
        term.keys("/quit", "Enter")
        await term.wait_exit()
    finally:
        term.close()
        await alex.close()


async def test_help_slash_literal_and_wrong_choices(cluster):
    term = Terminal.client(cluster)
    try:
        await term.log_in("Sue", "password")
        await term.wait_for("1) Join a chat room")
        term.keys("9", "Enter")
        await term.wait_for("No such choice.")
        term.keys("x", "Enter")
        await term.wait_for("No such choice.", count=2)
        await term.pick_room("Taskmaster", menus=3, lists=1)
        await term.wait_for("You are in Taskmaster.")
        term.keys("/help", "Enter")
        lines = lines_of(await term.wait_for("Anything else is said."))
        for command in ("/join ROOM", "/leave", "/history", "/rooms", "/who", "/help", "/quit",
                        "//TEXT"):
            assert any(line.startswith("  " + command + " ") for line in lines), (command, lines)
        #  A /join refused leaves one in the room one was in
        term.keys("/join Nowhere", "Enter")
        await term.wait_for("join failed: ")
        term.keys("//shrug", "Enter")
        await term.wait_for("Sue: /shrug")
        term.keys("/shrug", "Enter")
        await term.wait_for("No command /shrug")
        term.keys("/quit", "Enter")
        await term.wait_exit()
    finally:
        term.close()
    code, out, err = await run_program("groupchat", ["-h"])
    _, usage, _ = await run_program("groupchat", ["--help"])
    assert code == 0 and out == usage and "--follow" in out, (code, out, err)


async def colour_screen(cluster, env):
    """Sandy's screen, with attributes, after Alex says a plain line and
    one that mentions her."""
    term = Terminal.client(cluster, env=env)
    alex = await cluster.login("Alex")
    await alex.join("Taskmaster")
    try:
        await enter_room(term, "Sandy", "Taskmaster")
        await alex.say("a plain line", room="Taskmaster")
        await alex.say("sandy, look at this", room="Taskmaster")
        await term.wait_for("Alex: sandy, look at this")
        return term.screen(escapes=True)
    finally:
        term.close()
        await alex.close()


async def test_nick_colours_and_mentions_on_a_terminal(cluster):
    cells = await colour_screen(cluster, {})
    plain = [line for line in cells.splitlines() if "a plain line" in line][-1]
    mention = [line for line in cells.splitlines() if "look at this" in line][-1]
    name = plain.split("Alex")[0]
    assert sgr_params(name) & {31, 32, 33, 34, 35, 36}, repr(plain)
    assert 1 not in sgr_params(plain), repr(plain)
    assert 1 in sgr_params(mention), repr(mention)


async def test_no_colour_when_NO_COLOR_is_set(cluster):
    cells = await colour_screen(cluster, {"NO_COLOR": "1"})
    assert not SGR.search(cells), repr(cells)


# --------------------------------------------------------------------------
#  Date lines, from a stand-in gateway's history of other days

DAY = 86400


def day_line(ts):
    return "-- %s --" % time.strftime("%A %-d %B %Y", time.gmtime(ts))


def history_of(now):
    def message(seq, ts, text):
        return {"op": "message", "room": "Taskmaster", "seq": seq, "from": "Sue",
                "text": text, "ts": int(ts * 1000)}
    joined = [message(5, now - 3 * DAY, "three days ago"), message(6, now - 3 * DAY, "same day"),
              message(7, now - DAY, "yesterday"), message(8, now, "today")]
    older = [message(3, now - 10 * DAY, "ten days ago"), message(4, now - 3 * DAY, "also then")]
    return joined, older


def stand_in(now):
    joined, older = history_of(now)

    async def serve(ws, path=None):
        async for frame in ws:
            request = json.loads(frame)
            reply = {"op": "ok", "id": request.get("id")}
            if request["op"] == "login":
                reply.update(user="Sue", token="t")
            elif request["op"] == "rooms":
                reply["rooms"] = [{"name": "Taskmaster"}]
            elif request["op"] == "join":
                reply.update(room="Taskmaster", history=joined)
            elif request["op"] == "history":
                reply.update(room="Taskmaster", history=older)
            await ws.send(json.dumps(reply))
    return serve


async def test_date_lines_open_each_day():
    now = time.time()
    port = free_port()
    async with websockets.serve(stand_in(now), "127.0.0.1", port):
        term = Terminal.client(None, env={"TZ": "UTC"}, where="ws://127.0.0.1:%d" % port)
        try:
            await enter_room(term, "Sue", "Taskmaster")
            term.keys("/history", "Enter")
            screen = await term.wait_for("--- end of earlier messages ---")
        finally:
            term.close()
    shown = [line for line in lines_of(screen)
             if line.startswith("-- ") or line.startswith("[") or line.startswith("---")]
    texts = [line.split("Sue: ")[-1] if line.startswith("[") else line for line in shown]
    assert texts == [
        day_line(now - 3 * DAY), "three days ago", "same day",
        day_line(now - DAY), "yesterday", day_line(now), "today",
        "--- You are in Taskmaster. Type to chat; /help for commands. ---",
        "--- earlier messages ---", day_line(now - 10 * DAY), "ten days ago",
        day_line(now - 3 * DAY), "also then", "--- end of earlier messages ---"], texts


async def test_says_plainly_when_no_gateway_answers():
    where = "ws://127.0.0.1:%d" % free_port()
    term = Terminal.client(None, where=where)
    try:
        await term.wait_for("-- cannot reach %s (" % where)
        await term.wait_for("; trying again in 0.5 s")
        assert "reconnecting" not in term.screen(), term.screen()
    finally:
        term.close()
