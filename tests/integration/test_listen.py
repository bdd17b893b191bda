"""test_listen.py: --listen ADDRESS, the one address a gateway binds.

What the kernel says is the truth: the listening sockets of the
gateway's port in /proc/net/tcp and /proc/net/tcp6, and a connection to
another address of this machine, which must be refused. A gateway told
nothing keeps listening on every address; one given an address that is
not an IP address, or not this machine's, refuses to start.
"""

import errno
import socket

from harness import Cluster, connect_error, free_port, other_local_address, run_program

#  The gateway's listening addresses: the broker's database plays no part
DATABASES = ("sqlite",)

_LISTEN = "0A"      # the TCP state LISTEN in /proc/net/tcp*


def _listening_addresses(port):
    """The local addresses listening on `port`, as the kernel writes them
    in /proc/net/tcp and tcp6 (hex, e.g. 0100007F for 127.0.0.1)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.rpartition(":")
                if state == _LISTEN and int(hex_port, 16) == port:
                    found.append(address)
    return found


async def test_listen_binds_only_the_loopback_address():
    for by_env in (False, True):
        async with Cluster(gateways=1, start_broker=False, by_env=by_env,
                           gateway_args=[] if by_env else ["--listen", "127.0.0.1"],
                           gateway_env={"GROUPCHAT_LISTEN": "127.0.0.1"} if by_env else None
                           ) as lone:
            await lone.wait_healthy(status=503)
            port = lone.ports[0]
            assert _listening_addresses(port) == ["0100007F"], _listening_addresses(port)
            other = other_local_address()
            if other:
                assert await connect_error(other, port) == errno.ECONNREFUSED, other


async def test_without_listen_every_address_is_bound():
    async with Cluster(gateways=1, start_broker=False) as lone:
        await lone.wait_healthy(status=503)
        addresses = _listening_addresses(lone.ports[0])
        assert addresses in (["00000000"], ["0" * 32]), addresses


async def test_listen_refuses_what_is_not_an_address_here():
    for address in ("localhost", "127.0.0.1:8080", "every"):
        code, _, err = await run_program("groupchat-gateway", ["--listen", address])
        assert code == 2 and "--listen wants an IP address" in err, (address, code, err)
    #  An address of another machine (TEST-NET-3): cannot be bound
    with socket.socket() as probe:
        try:
            probe.bind(("203.0.113.7", 0))
            return              # this machine has it after all: nothing to show
        except OSError:
            pass
    code, _, err = await run_program("groupchat-gateway", ["--listen", "203.0.113.7",
                                                           "--port", str(free_port())])
    assert code == 1 and "cannot start" in err, (code, err)
