"""web.py: a plain HTTP GET, for the gateways' /healthz and /metrics,
and any request with its answer's headers, for the browser client's
files; over TLS too (https://) for gateways that have a certificate. And
the Prometheus text of /metrics parsed, and the wait for gateways to
move to another broker, which their figures show."""

import asyncio
import re
import time


async def http_get(port, path="/healthz", timeout=2.0, ssl=None, host="127.0.0.1"):
    """GET http://host:port/path, or https:// with `ssl` (an SSLContext,
    which decides what is verified); returns (status, body bytes)."""
    status, _, body = await http_request(port, path, timeout=timeout, ssl=ssl, host=host)
    return status, body


async def http_request(port, path="/", method="GET", headers=None, timeout=2.0, ssl=None,
                       host="127.0.0.1"):
    """One request as http_get's, with `method` and `headers` (a dict,
    sent after Host); returns (status, {lower-case name: value}, body
    bytes). A header sent twice is a list of its values. A HEAD, a 304
    and a 204 have no body, whatever their Content-Length says: what
    comes for them is read until the server closes (the request says
    Connection: close), so that a body sent all the same shows."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl, server_hostname=host if ssl else None)
        try:
            lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (host, port)]
            lines += ["%s: %s" % pair for pair in (headers or {}).items()]
            lines += ["Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode())
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.split()
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise AssertionError("not an HTTP response: %r" % status_line)
            status = int(parts[1])
            answered = await _read_headers(reader)
            if "content-length" in answered and method != "HEAD" and status not in (204, 304):
                body = await reader.readexactly(int(answered["content-length"]))
            else:
                body = await reader.read()
            return status, answered, body
        finally:
            writer.close()


async def _read_headers(reader):
    """The header lines up to the empty one, as http_request returns them."""
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip()
        if name not in headers:
            headers[name] = value
        elif isinstance(headers[name], list):
            headers[name].append(value)
        else:
            headers[name] = [headers[name], value]


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? '
                    r'(-?[0-9.eE+-]+|\+Inf|NaN)$')


def parse_metrics(text):
    """The Prometheus text of /metrics as ({sample name with labels: value},
    {metric name: type}), asserting the format on the way."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert len(line.split(" ", 3)) == 4, "HELP without text: %r" % line
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in types, "TYPE twice for %s" % name
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, "not a Prometheus sample line: %r" % line
            name = line.rsplit(" ", 1)[0]
            base = match.group(1)
            family = re.sub(r"_(bucket|sum|count)$", "", base)
            assert base in types or family in types, "sample %s without TYPE" % base
            samples[name] = float(line.rsplit(" ", 1)[1])
    return samples, types


async def gateway_figures(port):
    """The samples of GET /metrics on the gateway at `port`: {sample: value}."""
    status, body = await http_get(port, "/metrics")
    assert status == 200, "the gateway on port %d: /metrics answered %d" % (port, status)
    return parse_metrics(body.decode("utf-8"))[0]


async def wait_dialing(ports, index, end, check=None):
    """Waits until the gateway at each of `ports` dials broker `index` of
    its list (groupchat_broker_endpoint_index), calling check() between
    polls; fails at `end`, a time.monotonic()."""
    for port in ports:
        while (await gateway_figures(port))["groupchat_broker_endpoint_index"] != index:
            if check:
                check()
            assert time.monotonic() < end, "the gateway on port %d did not move to broker %d" % (
                port, index)
            await asyncio.sleep(0.02)   # metrics polling interval
