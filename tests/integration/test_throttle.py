"""test_throttle.py: password guessing is throttled per user name and per
client address, across gateways (shared/protocol.md, Errors).

After GC_LOGIN_FREE_FAILURES (5) failures a name is locked for 1 s, then
2, 4, ... and a locked name is refused whatever is tried, the right
password too, with `rate_limited` and `retry_after`; the same for an
address after 20 failures, whatever names it tries. The address is the
connection's peer, or, behind a proxy the gateway trusts
(--trusted-proxy), what its X-Forwarded-For says.
"""

import asyncio
import collections

from harness import Cluster

FREE = 5
FREE_PER_ADDRESS = 20


async def login_reply(client, user, password):
    return await client.request("login", user=user, password=password)


async def test_a_guessed_name_is_locked_on_every_gateway_even_for_the_right_password(cluster):
    guesser = await cluster.client(0)
    for attempt in range(FREE + 1):
        reply = await login_reply(guesser, "Sandy", "guess %d" % attempt)
        assert reply.get("code") == "bad_credentials", (attempt, reply)
    #  Locked: the right password too, on the other gateway too, unhashed
    owner = await cluster.client(1)
    reply = await login_reply(owner, "Sandy", "password")
    assert reply.get("code") == "rate_limited", reply
    wait_ms = reply.get("retry_after")
    assert isinstance(wait_ms, int) and 0 < wait_ms <= 1000, reply
    assert "try again" in reply.get("message", ""), reply
    #  Others are not held up
    alex = await cluster.client(0)
    assert (await login_reply(alex, "Alex", "password"))["op"] == "ok"
    #  Once the lock is over, the right password works and clears the count
    await asyncio.sleep(wait_ms / 1000)
    reply = await login_reply(owner, "Sandy", "password")
    assert reply["op"] == "ok", reply
    reply = await login_reply(guesser, "Sandy", "one more guess")
    assert reply.get("code") == "bad_credentials", reply


async def test_guesses_sent_at_once_are_tried_no_more_than_guesses_in_turn(cluster):
    """Guesses still being hashed count as the failures they may be: fifty
    sent at once to the broker, all before its first verdict, get no more
    hashes than guesses one after another would (FREE + 1), the rest
    rate_limited unhashed."""
    link = cluster.broker_link()
    for attempt in range(50):
        link.send("login", user="Sandy", password="guess %d" % attempt)
    codes = collections.Counter()
    for _ in range(50):
        codes[(await link.reply()).get("code")] += 1
    assert set(codes) == {"bad_credentials", "rate_limited"}, codes
    assert codes["bad_credentials"] <= FREE + 1, codes


async def test_a_name_that_does_not_exist_is_locked_alike(cluster):
    client = await cluster.client(0)
    codes = [(await login_reply(client, "Nobody", "guess %d" % n)).get("code")
             for n in range(FREE + 2)]
    assert codes == ["bad_credentials"] * (FREE + 1) + ["rate_limited"], codes


async def test_an_address_behind_a_trusted_proxy_is_throttled_by_its_forwarded_address():
    async with Cluster(gateways=1, gateway_args=["--trusted-proxy", "127.0.0.0/8"]) as cluster:
        def behind(address):
            return cluster.client(0, extra_headers={"X-Forwarded-For": address})
        guesser = await behind("203.0.113.9")
        #  Connected before the guessing, so that each is asked within the
        #  first lock's second, however slowly the servers run
        again, other = await behind("203.0.113.9"), await behind("198.51.100.7")
        spoofer = await behind("198.51.100.7, 203.0.113.9")
        #  A new name every FREE guesses, so that no name is locked first
        for n in range(FREE_PER_ADDRESS + 1):
            reply = await login_reply(guesser, "Guess%d" % (n // FREE), "x")
            assert reply.get("code") == "bad_credentials", (n, reply)
        reply = await login_reply(again, "Alex", "password")
        assert reply.get("code") == "rate_limited" and reply.get("retry_after"), reply
        #  A client cannot pass itself off as another: its own header is
        #  read from the right, and only trusted hops vouch for the next
        reply = await login_reply(spoofer, "Alex", "password")
        assert reply.get("code") == "rate_limited", reply
        #  Another client behind the same proxy is someone else
        reply = await login_reply(other, "Alex", "password")
        assert reply["op"] == "ok", reply


async def test_without_a_trusted_proxy_forwarded_for_is_not_believed():
    async with Cluster(gateways=1) as cluster:
        client = await cluster.client(0, extra_headers={"X-Forwarded-For": "192.0.2.200"})
        for n in range(FREE_PER_ADDRESS + 1):
            guesser = await cluster.client(0, extra_headers={"X-Forwarded-For": "192.0.2.%d" % n})
            reply = await login_reply(guesser, "Who%d" % (n // FREE), "x")
            assert reply.get("code") == "bad_credentials", (n, reply)
        #  Every one of them was 127.0.0.1, whatever it claimed
        reply = await login_reply(client, "Sue", "password")
        assert reply.get("code") == "rate_limited", reply
