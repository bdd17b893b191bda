"""test_login_flood.py: a flood of password logins costs the broker only
what its hash workers can do in time.

Replays the report that found it otherwise: 5,000 password logins sent
straight to the broker made it stop answering pings for 16 s and ignore
SIGTERM for over a minute, because its loop blocked handing jobs to a
full hash queue. Now the queue is bounded and never waited on: a login
that finds it full is told `unavailable` at once, and one whose deadline
passed before a worker took it is answered without being hashed.
Each login names another user, as a flood that the throttle per name
cannot stop does (test_throttle.py has the flood on one name).
"""

import collections
import os
import time

from harness import CONFIG, Cluster, deadline



def flood_size():
    """5,000 logins; 1,000 when the servers run under valgrind, where each
    costs the broker some ms even unhashed (the bound is the same)."""
    return 1000 if CONFIG.wrap else 5000
#  A request's time to be carried out, as a gateway gives it
DEADLINE_MS = 3000


async def test_five_thousand_password_logins_do_not_stop_the_broker():
    async with Cluster(gateways=1) as cluster:
        sue = await cluster.login("Sue")
        await sue.join("Taskmaster")
        flood = cluster.broker_link()
        until = int(time.time() * 1000) + DEADLINE_MS
        for index in range(flood_size()):
            flood.send("login", user="Mallory %d" % index, password="guess", deadline=until)
        #  Meanwhile the broker serves everything else at once
        started = time.monotonic()
        ping = await cluster.broker_link().request("ping")
        assert ping["op"] == "ok", ping
        assert time.monotonic() - started < deadline(2.0), \
            "ping answered after %.1f s" % (time.monotonic() - started)
        seq = await sue.say("said during the flood")
        assert seq >= 1
        #  Every login is answered, none hashed past its deadline
        codes = collections.Counter()
        for _ in range(flood_size()):
            reply = await flood.reply()
            codes[reply.get("code", reply["op"])] += 1
        assert set(codes) <= {"bad_credentials", "unavailable", "expired"}, codes
        #  Most were never hashed: refused at once with the queue full, or
        #  found late (a slow broker, under valgrind, reads most past
        #  their deadline)
        assert codes["unavailable"] + codes["expired"] > flood_size() / 2, \
            "the flood was hashed: %r" % codes
        stats = await cluster.broker_link("admin").request("stats")
        busy = [line for line in stats["text"].splitlines()
                if line.startswith("groupchat_broker_logins_busy_total ")]
        assert busy and float(busy[0].split()[1]) == codes["unavailable"], (busy, codes)
        #  The right password still works once the flood is over
        alex = await cluster.login("Alex")
        await alex.join("Taskmaster")
    #  Leaving the block stopped every process with SIGTERM within 10 s


async def test_sigterm_stops_the_broker_in_the_middle_of_a_flood():
    async with Cluster(gateways=0) as cluster:
        flood = cluster.broker_link()
        for index in range(flood_size()):
            flood.send("login", user="Sue", password="guess %d" % index)
        #  The first verdicts show the workers busy with the flood
        await flood.reply()
        started = time.monotonic()
        await cluster.stop_broker()
        assert time.monotonic() - started < deadline(10.0)


async def test_the_hash_workers_yield_the_cores_to_everything_else():
    """Hashing is what a stranger can make the broker do at will: its
    workers run at nice 10 (GC_HASHER_NICE), the loop at the broker's
    own, so that says, joins and token logins keep a core under a flood."""
    async with Cluster(gateways=0) as cluster:
        assert (await cluster.broker_link().request("ping"))["op"] == "ok"
        pid = cluster.broker.pid
        nice = collections.Counter()
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, task)) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            nice[int(fields[16])] += 1      # field 19 of stat(5)
        assert nice[10] == 2 and nice[0] >= 1, nice
