"""test_listen.py: --listen ADDRESS, the one address a gateway binds.

What the kernel says is the truth: the listening sockets of the
gateway's port in /proc/net/tcp and /proc/net/tcp6, and a connection to
another address of this machine, which must be refused. A gateway told
nothing keeps listening on every address; one given an address that is
not an IP address, or not this machine's, refuses to start.
"""

import asyncio
import errno
import socket

from harness import Cluster, deadline, free_port, run_program

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


def _other_local_address():
    """An IPv4 address of this machine other than loopback, or None. A
    UDP socket 'connected' to a public address sends nothing but learns
    which local address the route would use."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.200", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def _connect_error(address, port):
    """None when a TCP connection to address:port opens, else its errno."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port),
                                           deadline(5))
    except OSError as error:
        return error.errno
    writer.close()
    return None


async def test_listen_binds_only_the_loopback_address():
    for by_env in (False, True):
        async with Cluster(gateways=1, start_broker=False, by_env=by_env,
                           gateway_args=[] if by_env else ["--listen", "127.0.0.1"],
                           gateway_env={"GROUPCHAT_LISTEN": "127.0.0.1"} if by_env else None
                           ) as lone:
            await lone.wait_healthy(status=503)
            port = lone.ports[0]
            assert _listening_addresses(port) == ["0100007F"], _listening_addresses(port)
            other = _other_local_address()
            if other:
                assert await _connect_error(other, port) == errno.ECONNREFUSED, other


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
