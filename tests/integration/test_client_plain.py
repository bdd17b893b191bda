"""test_client_plain.py: bin/groupchat's plain mode as scripts use it,
where gateways are missing or input comes slowly (docs/client.md,
"Plain mode, for scripts").

`--say -` is fed through a pipe whose writer stays open, as `tail -f log
| groupchat --say -` is: each line must be stored while more may come.
`--say` is given a first URL where nothing listens; `--follow` starts
before its gateway does and must say so plainly, then carry on.
"""

import asyncio
import os
import subprocess

from harness import CONFIG, PASSWORD, deadline, free_port, server_environment


def url(port):
    return "ws://127.0.0.1:%d" % port


async def start(*args, stdin=subprocess.DEVNULL):
    return await asyncio.create_subprocess_exec(
        os.path.join(CONFIG.bin, "groupchat"), *args, stdin=stdin,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=server_environment({"GROUPCHAT_PASSWORD": PASSWORD}))


async def finish(proc, timeout=15):
    out, err = await asyncio.wait_for(proc.communicate(), deadline(timeout))
    return proc.returncode, out.decode(), err.decode()


async def test_say_stdin_sends_each_line_as_it_is_read(cluster):
    sandy = await cluster.login("Sandy")
    await sandy.join("Taskmaster")
    proc = await start("--user", "Sue", "--room", "Taskmaster", "--say", "-",
                       url(cluster.ports[0]), stdin=subprocess.PIPE)
    try:
        proc.stdin.write(b"first, while the pipe stays open\n")
        await proc.stdin.drain()
        message = await sandy.next_message(timeout=deadline(10))
        assert message["text"] == "first, while the pipe stays open", message
        #  Blank lines are skipped, and a last line needs no newline
        proc.stdin.write(b"\n   \nsecond\n\t\nthird")
        proc.stdin.close()
        code, out, err = await finish(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert code == 0, (code, out, err)
    texts = [(await sandy.next_message())["text"] for _ in range(2)]
    assert texts == ["second", "third"], texts
    await sandy.expect_no_message()
    await sandy.close()


async def test_say_tries_each_url_in_turn(cluster):
    nowhere = url(free_port())
    proc = await start("--user", "Sue", "--room", "Taskmaster", "--say", "via the second",
                       nowhere, url(cluster.ports[1]))
    code, out, err = await finish(proc)
    assert code == 0, (code, out, err)
    assert err.startswith("groupchat: cannot reach %s (" % nowhere), err
    assert "trying %s now" % url(cluster.ports[1]) in err and "reconnecting" not in err, err
    sandy = await cluster.login("Sandy")
    history = (await sandy.join("Taskmaster"))["history"]
    assert history[-1]["text"] == "via the second", history
    await sandy.close()
    #  None answers: each is tried once, then it gives up, saying so
    other = url(free_port())
    proc = await start("--user", "Sue", "--room", "Taskmaster", "--say", "lost",
                       nowhere, other)
    code, out, err = await finish(proc)
    assert code == 1, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 2 and lines[1].startswith("groupchat: cannot reach %s (" % other), err
    assert "trying again" not in err and "reconnecting" not in err, err


async def test_follow_waits_for_its_gateway(cluster):
    """--follow started while its gateway is down says so, keeps trying,
    and follows once the gateway is up."""
    await cluster.gateways[1].kill()
    where = url(cluster.ports[1])
    proc = await start("--user", "Sandy", "--room", "Quite Interesting", "--follow", where)
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), deadline(10))
        assert line.decode().startswith("groupchat: cannot reach %s (" % where), line
        assert b"; trying again in " in line, line
        cluster.gateways[1].start()
        await cluster.wait_healthy()
        sue = await cluster.login("Sue")
        await sue.join("Quite Interesting")
        await sue.say("the gateway is back", room="Quite Interesting")
        await sue.close()
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), deadline(40))
            assert line, "follow ended: %r" % await proc.stderr.read()
            if b"Sue: the gateway is back" in line:
                break
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), deadline(10))
    assert proc.returncode == 0, proc.returncode
