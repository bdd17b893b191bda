"""test_web_page.py: every gateway serves the browser client of web/.

GET / is web/index.html, GET /NAME each other file of web/, byte for
byte as the repository holds them (the gateway was built from them),
each with its type, a strong ETag and Cache-Control: no-cache; an
If-None-Match naming the ETag gets 304 and no body; HEAD gets the
headers alone; methods other than GET and HEAD get 405. Every answer
of the gateway, files, /healthz, /metrics, 404 and 405, carries the
security headers (docs/security.md, "The browser client"). A gateway
with a certificate serves the page over https://.
"""

import os
import re

from harness import CONFIG, Certificates, Cluster, http_request

#  The gateway's HTTP answers for the page's files: the broker's database plays no part
DATABASES = ("sqlite",)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEB = os.path.join(ROOT, "web")

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
STRONG_ETAG = re.compile(r'^"[0-9a-f]{32}"$')


def web_file(name):
    with open(os.path.join(WEB, name), "rb") as source:
        return source.read()


def web_names():
    """The files of web/, as the build takes them (no dot files)."""
    return sorted(name for name in os.listdir(WEB) if not name.startswith("."))


def assert_security_headers(headers, what):
    got = {name: headers.get(name) for name in SECURITY_HEADERS}
    assert got == SECURITY_HEADERS, "%s: security headers %r" % (what, got)


async def get(cluster, path, method="GET", headers=None, gateway=0):
    return await http_request(cluster.ports[gateway], path, method, headers)


def assert_file(answer, name, path):
    status, headers, body = answer
    assert status == 200, "%s: %d" % (path, status)
    assert body == web_file(name), "%s: not web/%s's bytes: %r" % (path, name, body[:200])
    assert headers["content-type"] == TYPES[os.path.splitext(name)[1]], (path, headers)
    assert int(headers["content-length"]) == len(body), (path, headers)
    assert STRONG_ETAG.match(headers["etag"]), (path, headers["etag"])
    assert headers["cache-control"] == "no-cache", (path, headers)
    assert_security_headers(headers, path)


# --------------------------------------------------------------------------
#  The files

async def test_index_html_is_served_at_the_root_as_the_repository_holds_it(cluster):
    answer = await get(cluster, "/")
    assert_file(answer, "index.html", "/")
    for path in ("/index.html", "/?from=a-link", "/index.html?v=2"):
        again = await get(cluster, path)
        assert_file(again, "index.html", path)
        assert again[1]["etag"] == answer[1]["etag"], path
    #  Every gateway of one build names it alike, so a load balancer's
    #  next choice keeps the browser's copy
    assert (await get(cluster, "/", gateway=1))[1]["etag"] == answer[1]["etag"]


async def test_every_file_of_web_is_served_with_its_type(cluster):
    names = web_names()
    assert {"index.html", "app.js", "app.css"} <= set(names), names
    etags = {}
    for name in names:
        answer = await get(cluster, "/" + name)
        assert_file(answer, name, "/" + name)
        etags.setdefault(web_file(name), set()).add(answer[1]["etag"])
    assert all(len(tags) == 1 for tags in etags.values()), etags
    assert len({tag for tags in etags.values() for tag in tags}) == len(etags), etags


async def test_head_answers_the_headers_of_a_get_and_nothing_more(cluster):
    for path in ("/", "/app.js", "/healthz"):
        _, got, _ = await get(cluster, path)
        status, headers, body = await get(cluster, path, "HEAD")
        assert status == 200 and body == b"", (path, status, body[:200])
        same = ("content-type", "content-length", "etag", "cache-control")
        assert {n: headers.get(n) for n in same} == {n: got.get(n) for n in same}, path
        assert_security_headers(headers, "HEAD " + path)


async def test_a_current_copy_is_answered_304_without_a_body(cluster):
    _, headers, _ = await get(cluster, "/app.css")
    etag = headers["etag"]
    for sent in (etag, "W/" + etag, '"0123", %s' % etag, "*"):
        status, answer, body = await get(cluster, "/app.css",
                                         headers={"If-None-Match": sent})
        assert (status, body) == (304, b""), (sent, status, body[:200])
        assert answer["etag"] == etag and answer["cache-control"] == "no-cache", answer
        assert "content-type" not in answer, answer
        assert_security_headers(answer, "304")
    #  Another file's tag, or a stale one, gets the file
    for path, sent in (("/app.js", etag), ("/app.css", '"0123"')):
        answer = await get(cluster, path, headers={"If-None-Match": sent})
        assert_file(answer, path[1:], path)


async def test_other_methods_get_405(cluster):
    for method, path in (("POST", "/"), ("PUT", "/app.js"), ("DELETE", "/index.html"),
                         ("POST", "/healthz"), ("OPTIONS", "/")):
        status, headers, body = await get(cluster, path, method)
        assert (status, body) == (405, b"method not allowed\n"), (method, path, status, body)
        assert headers["allow"] == "GET, HEAD", headers
        assert_security_headers(headers, "%s %s" % (method, path))


async def test_other_paths_get_404_with_the_security_headers(cluster):
    for path in ("/nothing.html", "/web/index.html", "/app.js/", "/APP.JS", "/../Makefile",
                 "/%2e%2e/Makefile", "/.git/config"):
        status, headers, body = await get(cluster, path)
        assert (status, body) == (404, b"not found\n"), (path, status, body[:200])
        assert "etag" not in headers, (path, headers)
        assert_security_headers(headers, path)


# --------------------------------------------------------------------------
#  What else the gateway answers over HTTP

async def test_healthz_and_metrics_carry_the_security_headers(cluster):
    for path in ("/healthz", "/metrics"):
        status, headers, body = await get(cluster, path)
        assert status == 200, (path, status, body[:200])
        assert headers["content-type"].startswith("text/plain"), headers
        assert "etag" not in headers and "cache-control" not in headers, headers
        assert_security_headers(headers, path)


async def test_the_page_is_served_over_https_by_a_gateway_with_a_certificate():
    certs = Certificates(os.path.join(CONFIG.tmp_root, "certs"))
    await certs.authority("ca")
    await certs.server("good", "ca")
    async with Cluster(gateways=1, tls=True, start_broker=False,
                       per_gateway=[certs.gateway_args("good")]) as lone:
        await lone.wait_healthy(status=503)
        for name in ("index.html", "app.js"):
            path = "/" if name == "index.html" else "/" + name
            answer = await http_request(lone.ports[0], path, ssl=certs.context("ca"),
                                        host="localhost")
            assert_file(answer, name, "https " + path)
