"""test_postgres.py: the broker on PostgreSQL (--db postgresql://...).

The same service as on SQLite, on a PostgreSQL 15 server the tests start
(harness/postgres.py): the seeded users and rooms, logins and tokens,
says acknowledged and pushed across gateways with gap-free seqs, history
and join since, nonces, administration, restarts; a batch of says that
fails in the database (a trigger refuses one nonce) stores none of them,
and the seqs go on without a gap; a broker killed under
a stream of says loses nothing it acknowledged; a PostgreSQL server
stopped under the broker, or frozen (its connections open and silent,
as when the network is cut), makes says `unavailable`, loses nothing
acknowledged, and ends the broker with status 3 (it can no longer prove
it holds the database's lease); started again once the server is back,
as a supervisor would, it serves. `groupchat-admin backup` is refused
with the way to back up PostgreSQL instead, and writes nothing.
"""

import asyncio
import os

from harness import (CONFIG, ROOMS_OF, Cluster, Postgres, assert_contiguous, deadline,
                     run_command)

SLOW = True
#  Its clusters are on PostgreSQL, whatever the pass's database
DATABASES = ("postgresql",)


async def shared_cluster():
    return Cluster(postgres=True)


async def test_seeded_users_log_in_and_tokens_work_until_logout(cluster):
    for user, rooms in ROOMS_OF.items():
        client = await cluster.login(user)
        assert [room["name"] for room in (await client.call("rooms"))["rooms"]] == rooms
    sue = await cluster.login("Sue", gateway=0)
    other = await cluster.client(1)
    reply = await other.call("login", token=sue.token)
    assert reply["user"] == "Sue", reply
    await sue.call("logout")
    fresh = await cluster.client(1)
    await fresh.expect_error("bad_credentials", "login", token=sue.token)
    await fresh.expect_error("bad_credentials", "login", user="Sue", password="wrong")


async def test_says_are_acknowledged_and_pushed_on_both_gateways_without_gaps(cluster):
    room = await cluster.new_group("Relay")
    sue = await cluster.joined("Sue", 0, room)
    alex = await cluster.joined("Alex", 1, room)
    texts = ["relay %d" % n for n in range(40)]
    seqs = await sue.say_many(texts, room=room, window=16)
    assert_contiguous(seqs, 1, "acknowledged seqs")
    for client in (sue, alex):
        pushed = await client.messages_until(room, seqs[-1])
        assert [m["seq"] for m in pushed] == seqs
        assert [m["text"] for m in pushed] == texts
    #  A join gets the newest 10; history pages back from there; a join
    #  since a seq gets what came after it
    sandy = await cluster.login("Sandy", gateway=1)
    joined = await sandy.join(room)
    assert [m["seq"] for m in joined["history"]] == seqs[-10:]
    page = await sandy.history(room, before=seqs[-10], limit=10)
    assert [m["seq"] for m in page] == seqs[-20:-10]
    assert [m["text"] for m in page] == texts[-20:-10]
    again = await cluster.login("Sandy", gateway=0)
    since = await again.join(room, since=seqs[-5])
    assert [m["seq"] for m in since["history"]] == seqs[-4:]


async def test_administration_changes_users_groups_and_members(cluster):
    await cluster.admin("user", "add", "Greg", password="hunter2")
    await cluster.admin("group", "add", "Bake Off")
    await cluster.admin("member", "add", "Greg", "Bake Off")
    out, _ = await cluster.admin("members", "Bake Off")
    assert out == "Greg\n", out
    out, err = await cluster.admin("group", "add", "Bake Off", expect=1)
    assert "exists" in out + err, out + err
    greg = await cluster.login("Greg", password="hunter2")
    await greg.join("Bake Off")
    assert await greg.say("On your marks", room="Bake Off") == 1
    await cluster.admin("password", "Greg", password="second")
    fresh = await cluster.client(1)
    await fresh.expect_error("bad_credentials", "login", token=greg.token)
    await cluster.admin("member", "remove", "Greg", "Bake Off")
    await fresh.login("Greg", password="second")
    await fresh.expect_error("not_member", "join", room="Bake Off")
    await cluster.admin("user", "remove", "Greg")
    last = await cluster.client(0)
    await last.expect_error("bad_credentials", "login", user="Greg", password="second")


async def say_with_nonce(client, nonce, text, room="Taskmaster"):
    reply = await client.request("say", room=room, text=text, nonce=nonce)
    assert reply["op"] == "ok", reply
    return reply["seq"]


async def test_a_backup_is_refused_with_the_way_to_back_up_postgresql(cluster):
    out, err = await cluster.admin("backup", "copy.db", expect=1)
    assert "bad_request" in err and "pg_dump" in err, (out, err)
    assert os.listdir(cluster.backups) == [], os.listdir(cluster.backups)


async def test_a_restart_keeps_everything_and_nonces_still_answer_the_first_seq():
    async with Cluster(postgres=True) as cluster:
        await cluster.add_member("Mel", "Quiz")
        sue = await cluster.joined("Sue", 0, "Taskmaster")
        first = await say_with_nonce(sue, "n-1", "said once")
        assert await say_with_nonce(sue, "n-1", "said once") == first
        await sue.expect_error("conflict", "say", room="Taskmaster", text="other", nonce="n-1")
        others = await sue.say_many(["before the restart %d" % n for n in range(5)])
        await cluster.stop_broker()
        await cluster.start_broker()
        sue = await cluster.joined("Sue", 1, "Taskmaster")
        assert await say_with_nonce(sue, "n-1", "said once") == first
        history = await sue.history("Taskmaster", limit=100)
        assert [m["seq"] for m in history] == [first] + others
        assert await sue.say("after the restart") == others[-1] + 1
        mel = await cluster.joined("Mel", 0, "Quiz")
        assert await mel.say("still a member", room="Quiz") == 1


#  An operator's trigger that refuses one nonce: the batch holding it
#  fails in the database after its messages were inserted
REFUSE_NONCE = """
CREATE FUNCTION refuse_nonce () RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'nonce refused'; END$$;
CREATE TRIGGER refuse_nonce BEFORE INSERT ON nonces FOR EACH ROW
  WHEN (NEW.nonce = 'refused') EXECUTE FUNCTION refuse_nonce ();
"""


async def test_a_batch_that_fails_in_the_database_stores_none_of_its_says():
    async with Cluster(postgres=True) as cluster:
        sue = await cluster.joined("Sue", 0, "Taskmaster")
        first = await sue.say("before the failed batch")
        cluster.sql(REFUSE_NONCE)
        texts = ["around the failed one %d" % n for n in range(60)]
        idents = [await sue.send_request("say", room="Taskmaster", text=text) for text in texts[:30]]
        refused = await sue.send_request("say", room="Taskmaster", text="refused", nonce="refused")
        idents += [await sue.send_request("say", room="Taskmaster", text=text) for text in texts[30:]]
        assert (await sue.reply(refused)).get("code") == "unavailable"
        acked = {}
        for ident, text in zip(idents, texts):
            reply = await sue.reply(ident)
            if reply["op"] == "ok":
                acked[reply["seq"]] = text
            else:
                assert reply.get("code") == "unavailable", reply
        cluster.sql("DROP TRIGGER refuse_nonce ON nonces")
        last = await say_with_nonce(sue, "refused", "said again")
        stored = await everything_in(sue, "Taskmaster", last)
        assert_contiguous(sorted(stored), first, "stored seqs")
        assert {seq: stored[seq] for seq in acked} == acked
        assert len(stored) == 2 + len(acked), "a say answered unavailable was stored"
        assert last == max(stored) and stored[last] == "said again"


async def test_acknowledged_says_survive_a_broker_killed_under_a_stream():
    async with Cluster(postgres=True) as cluster:
        reader, stored, _, _ = await cluster.kill_broker_under_says()
        assert await reader.say("after the kill") == max(stored) + 1


async def says_until_refused(client, prefix, acked):
    """Says until one is refused, adding the acknowledged to `acked`;
    returns the refusal."""
    end = asyncio.get_running_loop().time() + deadline(20)
    for n in range(10000):
        text = "%s %d" % (prefix, n)
        reply = await client.request("say", room="Taskmaster", text=text)
        if reply["op"] != "ok":
            return reply
        acked[reply["seq"]] = text
        assert asyncio.get_running_loop().time() < end, "no say refused"
    raise AssertionError("no say refused")


async def everything_in(client, room, newest):
    """{seq: text} of every message of the room up to newest, page by page."""
    stored = {}
    while newest > 0:
        page = await client.history(room, before=newest + 1, limit=100)
        stored.update((m["seq"], m["text"]) for m in page)
        newest = page[0]["seq"] - 1 if page else 0
    return stored


async def test_postgres_stopped_under_the_broker_refuses_says_then_serves_again():
    #  A server of its own: the shared one's other brokers would end with it
    server = Postgres().start()
    try:
        #  Stopped from the side, as an operator would: the broker's
        #  connections are closed
        await cut_off_under_the_broker(server, server.stop, server.start)
    finally:
        server.close()


async def test_postgres_gone_silent_under_the_broker_refuses_says_then_serves_again():
    server = Postgres().start()
    try:
        #  Frozen: the connections stay open and nothing answers, as when
        #  the network to the database machine is cut. The broker cannot
        #  renew its lease in time, and stops before it ends
        await cut_off_under_the_broker(server, server.freeze, server.thaw,
                                       "PostgreSQL did not answer in time")
    finally:
        server.thaw()
        server.close()


async def cut_off_under_the_broker(server, cut, restore, why=""):
    async with Cluster(postgres=server) as cluster:
        sue = await cluster.joined("Sue", 0, "Taskmaster")
        acked = dict(zip(await sue.say_many(["before %d" % n for n in range(10)]),
                         ["before %d" % n for n in range(10)]))
        #  With says going on; the broker, unable to prove it holds the
        #  lease, stops at once (status 3)
        cluster.broker.expect_exit = True
        cutter = asyncio.get_running_loop().run_in_executor(None, cut)
        refused = await says_until_refused(sue, "during", acked)
        await cutter
        assert refused.get("code") == "unavailable", refused
        await sue.expect_error("unavailable", "say", room="Taskmaster", text="while down")
        await cluster.wait_healthy(status=503, within=10)
        code = await cluster.broker.wait(deadline(10))
        assert code == 3, "broker: exit %r once its server went, expected 3" % code
        assert "lost the database lease (%s" % why in cluster.broker.log(), \
            cluster.broker.log_tail()
        restore()
        #  Back: started again as a supervisor would, it serves once its
        #  lease (2 s) has expired
        await cluster.start_broker(wait=False)
        await cluster.wait_healthy(within=15)
        alex = await cluster.login("Alex", gateway=1)
        await alex.join("Taskmaster")
        last = await alex.say("after PostgreSQL came back")
        stored = await everything_in(alex, "Taskmaster", last)
        assert_contiguous(sorted(stored), 1, "stored seqs")
        lost = {seq: text for seq, text in acked.items() if stored.get(seq) != text}
        assert not lost, "acknowledged but not stored: %r" % lost
        assert "while down" not in stored.values()
        assert last == max(stored)


async def test_the_broker_refuses_to_start_without_its_server():
    #  A server of its own: the shared one's brokers would end with it
    server = Postgres().start()
    uri = server.new_database()
    server.stop()
    try:
        code, out, err = await run_command(
            [os.path.join(CONFIG.bin, "groupchat-broker"), "--db", uri, "--requests",
             "tcp://127.0.0.1:0", "--events", "tcp://127.0.0.1:0"], env=None, timeout=20)
    finally:
        server.close()
    assert code == 1, (code, out, err)
    assert "cannot connect to PostgreSQL" in out + err, out + err
    assert "postgres@" not in out + err, "the URI's user, with its password, was logged"

