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
import signal
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



async def stream_across(cluster, urls, texts, interrupt):
    """Streams `texts` through `--say -` as Sue to `urls`, awaiting
    `interrupt(proc)` once Sandy (on gateway 1) was pushed the first 5 and
    before the rest are written; asserts the stream ends 0 with every line
    pushed once, in order. Returns Sandy's connection."""
    sandy = await cluster.login("Sandy", gateway=1)
    await sandy.join("Taskmaster")
    proc = await start("--user", "Sue", "--room", "Taskmaster", "--say", "-",
                       *[url(cluster.ports[gateway]) for gateway in urls],
                       stdin=subprocess.PIPE)
    try:
        proc.stdin.write(("\n".join(texts[:len(texts) // 2]) + "\n").encode())
        await proc.stdin.drain()
        stored = [await sandy.next_message(timeout=deadline(10)) for _ in range(5)]
        await interrupt(proc)
        proc.stdin.write(("\n".join(texts[len(texts) // 2:]) + "\n").encode())
        proc.stdin.close()
        code, out, err = await finish(proc, timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert code == 0, (code, out, err)
    while len(stored) < len(texts):
        stored.append(await sandy.next_message(timeout=deadline(10)))
    await sandy.expect_no_message()
    assert [message["text"] for message in stored] == texts, stored
    return sandy


async def test_say_stdin_rides_out_a_lost_gateway(cluster):
    """A `--say -` stream whose gateway stops answering (SIGSTOP: the say
    in flight may have reached the broker, its reply never comes), then
    is killed, goes on through the next URL: the line in flight is sent
    again with its nonce, and every line is stored once, in order."""
    async def lose_gateway(proc):
        cluster.gateways[0].send_signal(signal.SIGSTOP)
        await cluster.gateways[0].kill()

    texts = ["streamed line %d" % number for number in range(1, 41)]
    sandy = await stream_across(cluster, [0, 1], texts, lose_gateway)
    history = await sandy.history("Taskmaster", limit=60)
    assert [message["text"] for message in history
            if message["text"].startswith("streamed line ")] == texts, history
    await sandy.close()


async def test_say_stdin_rides_out_its_gateway_restart(cluster):
    """`--say -` with one URL, its gateway killed and started again: the
    stream waits for it (it was connected, so it does not give up after
    one round) and every line is stored once, in order."""
    async def restart_gateway(proc):
        await cluster.gateways[0].kill()
        line = await asyncio.wait_for(proc.stderr.readline(), deadline(10))
        assert b"trying again in " in line, line
        cluster.gateways[0].start()

    texts = ["restart line %d" % number for number in range(1, 21)]
    sandy = await stream_across(cluster, [0], texts, restart_gateway)
    await sandy.close()
