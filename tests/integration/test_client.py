"""test_client.py: bin/groupchat against a real broker and gateways.

The plain mode is run as a script would run it; the interactive client
runs in a real terminal (tmux) and the test reads its screen, waiting for
what should appear with a deadline. A gateway killed in the middle of a
conversation must cost the client nothing: every message exactly once.
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time

from harness import (CONFIG, Cluster, Follower, Terminal, deadline, run_program,
                     server_environment)


def url(cluster, gateway):
    return "ws://127.0.0.1:%d" % cluster.ports[gateway]


async def plain(cluster, *args, gateway=0, password="password", stdin=None):
    env = {"GROUPCHAT_PASSWORD": password} if password else {}
    proc = await asyncio.create_subprocess_exec(
        os.path.join(CONFIG.bin, "groupchat"), *args, url(cluster, gateway),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=server_environment(env))
    out, err = await asyncio.wait_for(proc.communicate(stdin), deadline(15))
    return proc.returncode, out.decode(), err.decode()


async def test_plain_say_and_follow_with_json(cluster):
    code, out, err = await plain(cluster, "--user", "Sue", "--room", "Taskmaster",
                                 "--say", "Did you see the last task?")
    assert code == 0, (code, out, err)
    code, out, err = await plain(cluster, "--user", "Alex", "--room", "Taskmaster",
                                 "--say", "-", gateway=1, stdin=b"one\ntwo\n")
    assert code == 0, (code, out, err)
    follower = await Follower.start("Sandy", "Taskmaster", url(cluster, 1))
    lines = await follower.until(3)
    messages = [json.loads(line) for line in lines]
    assert [(m["from"], m["text"]) for m in messages] == [
        ("Sue", "Did you see the last task?"), ("Alex", "one"), ("Alex", "two")], messages
    code, out, err = await plain(cluster, "--user", "Sue", "--room", "Taskmaster",
                                 "--say", "live")
    assert code == 0, (code, out, err)
    live = json.loads((await follower.until(4))[3])
    assert live["text"] == "live" and live["seq"] == messages[-1]["seq"] + 1, live
    await follower.stop()


async def test_plain_follow_formats_lines(cluster):
    code, out, err = await plain(cluster, "--user", "Sue", "--room", "Quite Interesting",
                                 "--say", "first line\nsecond line")
    assert code == 0, err
    follower = await Follower.start("Sandy", "Quite Interesting",
                                    url(cluster, 0), json_output=False)
    first, second = await follower.until(2)
    assert first.endswith("] Sue: first line") and first.startswith("["), first
    assert second == " " * len(first.split("Sue: ")[0] + "Sue: ") + "second line", second
    await follower.stop()


async def test_plain_errors_have_exit_codes_and_human_messages(cluster):
    code, out, err = await plain(cluster, "--user", "Sandy", "--room", "8 out of 10 cats",
                                 "--say", "hi")
    assert code == 1 and "not a member" in err and "{" not in err, (code, err)
    code, out, err = await plain(cluster, "--user", "Sue", "--room", "Taskmaster",
                                 "--say", "hi", password="wrong")
    assert code == 1 and "wrong user name or password" in err, (code, err)
    code, out, err = await plain(cluster, "--user", "Sue", "--room", "Nowhere", "--say", "hi")
    assert code == 1 and "no such room" in err, (code, err)
    code, out, err = await plain(cluster, "--user", "Sue", "--room", "Taskmaster",
                                 "--say", " ")
    assert code == 1 and "nothing to send" in err, (code, err)
    code, out, err = await plain(cluster, "--user", "Sue", "--room", "Taskmaster",
                                 "--say", "x", password=None)
    assert code == 2 and "GROUPCHAT_PASSWORD" in err, (code, err)
    code, out, err = await plain(cluster, "--bogus")
    assert code == 2 and "usage" in err, (code, err)
    code, out, err = await run_program("groupchat", ["--help"])
    assert code == 0 and "--follow" in out and "/history" in out, out
    #  No terminal and no plain-mode flag: a clear refusal, not a hang
    code, out, err = await plain(cluster)
    assert code == 2 and "terminal" in err, (code, err)


async def test_plain_say_of_many_lines_waits_out_the_rate_limit():
    """150 lines on stdin under --rate-limit 20 (bursts of 100): the
    lines past the burst are refused rate_limited and sent again after
    the wait the gateway names, so the command succeeds and every line is
    stored once, in order, at the rate."""
    async with Cluster(gateways=1, gateway_args=["--rate-limit", "20"]) as cluster:
        lines = ["line %d" % n for n in range(150)]
        started = time.monotonic()
        code, out, err = await plain(cluster, "--user", "Sue", "--room", "Taskmaster",
                                     "--say", "-", stdin="\n".join(lines).encode())
        elapsed = time.monotonic() - started
        assert code == 0, (code, out, err)
        #  Past the burst (less the login and the join) at 20 a second
        assert elapsed >= (len(lines) + 2 - 100) / 20 * 0.9, elapsed
        sandy = await cluster.login("Sandy")
        history = (await sandy.join("Taskmaster", since=0))["history"]
        assert [m["text"] for m in history] == lines, [m["text"] for m in history]
        assert {m["from"] for m in history} == {"Sue"}


async def test_gateway_killed_mid_conversation_loses_nothing(cluster):
    follower = await Follower.start("Alex", "8 out of 10 cats",
                                    url(cluster, 0), url(cluster, 1))
    said = []
    for i in range(3):
        code, out, err = await plain(cluster, "--user", "Sue", "--room", "8 out of 10 cats",
                                     "--say", "before %d" % i, gateway=1)
        assert code == 0, err
        said.append("before %d" % i)
    await follower.until(3)
    #  The follower's gateway dies; the conversation goes on elsewhere
    await cluster.gateways[0].kill()
    for i in range(5):
        code, out, err = await plain(cluster, "--user", "Sue", "--room", "8 out of 10 cats",
                                     "--say", "during %d" % i, gateway=1)
        assert code == 0, err
        said.append("during %d" % i)
    cluster.gateways[0].start()
    await cluster.wait_healthy()
    for i in range(3):
        code, out, err = await plain(cluster, "--user", "Sue", "--room", "8 out of 10 cats",
                                     "--say", "after %d" % i, gateway=0)
        assert code == 0, err
        said.append("after %d" % i)
    lines = await follower.until(len(said), timeout=30)
    messages = [json.loads(line) for line in lines]
    assert [m["text"] for m in messages] == said, [m["text"] for m in messages]
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    await follower.stop()


async def test_plain_follow_ends_when_its_session_is_ended(cluster):
    """Lee's account is removed while following: the client says so and
    exits 3 at once; it does not come back with its token, which is refused."""
    await cluster.admin("user", "add", "Lee", password="first")
    await cluster.admin("member", "add", "Lee", "Taskmaster")
    follower = await Follower.start("Lee", "Taskmaster", url(cluster, 0), url(cluster, 1),
                                    env={"GROUPCHAT_PASSWORD": "first"})
    code, out, err = await plain(cluster, "--user", "Sue", "--room", "Taskmaster",
                                 "--say", "Lee, are you there?", gateway=1)
    assert code == 0, err
    await follower.until_text("Lee, are you there?")
    await cluster.admin("user", "remove", "Lee")
    code, err = await follower.exited(timeout=5)
    assert code == 3, (code, err)
    assert err.splitlines() == ["groupchat: your account was removed; you are logged out"], err


# --------------------------------------------------------------------------
#  The interactive client in a terminal

async def test_interactive_menu_flow(cluster):
    assert shutil.which("tmux"), "tmux is not installed: run scripts/deps.sh"
    for i in range(12):
        code, out, err = await plain(cluster, "--user", "Sue", "--room", "Taskmaster",
                                     "--say", "old %d" % i)
        assert code == 0, err
    term = Terminal.client(cluster)
    try:
        await term.log_in("Alex", "wrong")
        await term.wait_for("wrong user name or password")
        assert "wrong" not in term.screen().replace("wrong user", ""), "password echoed"
        await term.log_in("Alex", "password", asked=2)
        screen = await term.wait_for("1) Join a chat room")
        term.keys("1", "Enter")
        screen = await term.wait_for("Room number or name:")
        assert "1) 8 out of 10 cats" in screen and "2) Taskmaster" in screen, screen
        term.keys("2", "Enter")
        screen = await term.wait_for("You are in Taskmaster")
        shown = [n for n in range(12) if "Sue: old %d\n" % n in screen]
        assert shown == list(range(2, 12)), "previous messages shown: %r" % shown
        term.keys("half a thought")
        code, out, err = await plain(cluster, "--user", "Sandy", "--room", "Taskmaster",
                                     "--say", "Sandy arrives", gateway=1)
        assert code == 0, err
        screen = await term.wait_for("Sandy: Sandy arrives")
        assert screen.rstrip().endswith("Taskmaster> half a thought"), screen
        term.keys(" finished", "Enter")
        screen = await term.wait_for("Alex: half a thought finished")
        #  The entered line is taken off the screen: the message shows once
        assert screen.count("half a thought finished") == 1, screen
        assert "Taskmaster> half a thought" not in screen, screen
        term.keys("/history", "Enter")
        #  "Sue: old 1" alone would match old 10 and 11, on screen already
        screen = await term.wait_for("--- end of earlier messages ---")
        assert "Sue: old 1\n" in screen and "Sue: old 0\n" in screen, screen
        term.keys("/leave", "Enter")
        await term.pick_room("Taskmaster", menus=2)
        #  In the room again (the prompt of before is on the screen too)
        await term.wait_for("You are in Taskmaster", count=2)
        term.keys("/quit", "Enter")
        await term.wait_exit()
    finally:
        term.close()


async def test_interactive_client_asks_for_a_login_again_when_its_session_ends(cluster):
    await cluster.admin("user", "add", "Max", password="first")
    await cluster.admin("member", "add", "Max", "Taskmaster")
    term = Terminal.client(cluster)
    try:
        await term.log_in("Max", "first")
        await term.pick_room("Taskmaster")
        await term.wait_for("You are in Taskmaster")
        await cluster.admin("password", "Max", password="second")
        screen = await term.wait_for("-- your password was changed; you are logged out")
        screen = await term.wait_for("User name:", count=2)
        assert screen.rstrip().endswith("User name:"), screen
        assert "reconnecting" not in screen and "expired" not in screen, screen
        await term.log_in("Max", "second", asked=2)
        await term.wait_for("Welcome, Max.", count=2)
        term.keys("2", "Enter")
        await term.wait_exit()
    finally:
        term.close()


async def test_interactive_line_typed_while_down_is_sent_after_the_reconnect(cluster):
    """Alex's client has two URLs. Its gateway is killed while the other
    is down too: a line typed meanwhile shows pending, and once the other
    gateway is up the client sends it there, where it is stored once and
    shown once more, as a message. Then a line whose reply is lost (its
    gateway stopped, then killed) is sent again with its nonce: stored once."""
    await cluster.gateways[1].kill()
    term = Terminal.client(cluster, where="%s %s" % (url(cluster, 0), url(cluster, 1)))
    try:
        await term.log_in("Alex", "password")
        await term.pick_room("Taskmaster")
        await term.wait_for("You are in Taskmaster")
        await cluster.gateways[0].kill()
        await term.wait_for("connection lost")
        term.keys("typed while down", "Enter")
        await term.wait_for("Alex: typed while down  (pending)")
        cluster.gateways[1].start()
        screen = await term.wait_for("Alex: typed while down\n", timeout=30)
        lines = [line.rstrip() for line in screen.splitlines()]
        assert sum(line.endswith("Alex: typed while down") for line in lines) == 1, screen
        assert "say failed" not in screen, screen
        #  In flight when the connection drops: the reply never comes
        cluster.gateways[0].start()
        await cluster.wait_healthy()
        cluster.gateways[1].send_signal(signal.SIGSTOP)
        term.keys("in flight")
        await term.wait_for("Taskmaster> in flight")
        term.keys("Enter")
        end = time.monotonic() + deadline(10)
        while "Taskmaster> in flight" in term.screen():     # sent: taken off the screen
            assert time.monotonic() < end, term.screen()
            await asyncio.sleep(0.05)     # screen polling interval
        await cluster.gateways[1].kill()
        await term.wait_for("(1 message waiting to be sent)")
        screen = await term.wait_for("Alex: in flight\n", timeout=30)
        assert "say failed" not in screen, screen
        sandy = await cluster.login("Sandy", gateway=0)
        history = (await sandy.join("Taskmaster"))["history"]
        texts = [m["text"] for m in history if m["from"] == "Alex"]
        assert texts[-2:] == ["typed while down", "in flight"], texts
        assert texts.count("typed while down") == 1 and texts.count("in flight") == 1, texts
        await sandy.close()
        cluster.gateways[1].start()
        await cluster.wait_healthy()        # started for good, as the cluster ends
        term.keys("/quit", "Enter")
        await term.wait_exit()
    finally:
        term.close()
