"""web.py: a plain HTTP GET, for the gateways' /healthz and /metrics,
over TLS too (https://) for gateways that have a certificate, and the
Prometheus text of /metrics parsed."""

import asyncio
import re


async def http_get(port, path="/healthz", timeout=2.0, ssl=None, host="127.0.0.1"):
    """GET http://host:port/path, or https:// with `ssl` (an SSLContext,
    which decides what is verified); returns (status, body bytes)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl, server_hostname=host if ssl else None)
        try:
            writer.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                          "Connection: close\r\n\r\n" % (path, host, port)).encode())
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.split()
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise AssertionError("not an HTTP response: %r" % status_line)
            status = int(parts[1])
            length = None
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is not None:
                body = await reader.readexactly(length)
            else:
                body = await reader.read()
            return status, body
        finally:
            writer.close()


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
