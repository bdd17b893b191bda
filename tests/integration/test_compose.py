"""test_compose.py: the container files, checked without a Docker engine.

docker-compose.yml, and docker-compose.ha.yml over it, are validated and
read back by docker-compose itself (`config`, which needs no engine),
deploy/haproxy.cfg by `haproxy -c`, and each is shown to reject a broken
copy. The Dockerfile's two stages are
read for what they must do (deps.sh and make; deps.sh runtime and a
non-root user), the runtime package list is checked against the libraries
the built programs really load, and deploy/healthz.sh, the containers'
health check, is run against a real broker and gateway, over TLS too.
deploy/tls-init.sh, which gives haproxy its certificate, is run here in
folders of its own: it makes one, keeps it, takes the operator's instead
and refuses a pair it cannot use. deploy/postgres-keys.sh, which makes
the PostgreSQL password and TLS pair of the HA stack, is run the same
way, and healthz.sh's --standby against a waiting standby broker.
"""

import os
import re
import signal
import socket
import shutil
import ssl
import subprocess
import tempfile

import harness
from harness import (CONFIG, Certificates, Cluster, fingerprint, free_port, run_command,
                     tls_init)

#  The container files, read and checked: the pass's database plays no part
DATABASES = ("sqlite",)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPOSE_FILE = os.path.join(ROOT, "docker-compose.yml")
HA_FILE = os.path.join(ROOT, "docker-compose.ha.yml")
HAPROXY_FILE = os.path.join(ROOT, "deploy", "haproxy.cfg")
HEALTHZ = os.path.join(ROOT, "deploy", "healthz.sh")
TLS_INIT = os.path.join(ROOT, "deploy", "tls-init.sh")
POSTGRES_KEYS = os.path.join(ROOT, "deploy", "postgres-keys.sh")
#  Where the lb image keeps haproxy's certificate: the volume groupchat-tls
TLS_STORE = "/etc/haproxy/tls"


def makefile_programs():
    """The programs `make` builds (PROGRAMS in the Makefile), but the
    self-test runner, and the folders whose sources it compiles."""
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as source:
        text = source.read().replace("\\\n", " ")
    match = re.search(r"^PROGRAMS\s*=(.*)$", text, re.M)
    assert match, "the Makefile has no PROGRAMS line"
    programs = [p for p in re.findall(r"\$\(BIN\)/(\S+)", match.group(1))
                if p != "groupchat-selftest"]
    folders = sorted(set(re.findall(r"\b(\w+)/[\w*]+\.c\b", text)))
    return programs, folders


PROGRAMS, SOURCE_FOLDERS = makefile_programs()


async def run(argv, cwd=ROOT, env=None, timeout=60.0):
    """Runs a command to completion; returns (exit code, stdout + stderr)."""
    if env is None:
        #  Nothing from the shell may change what is checked
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("GROUPCHAT_", "COMPOSE_", "DOCKER_"))}
    code, out, _ = await run_command(argv, env, timeout, cwd=cwd, merge_output=True)
    return code, out


def tool(name, package):
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    assert found, ("%s is not installed: it is the Debian package %s, which "
                   "scripts/deps.sh installs with the test dependencies" % (name, package))
    return found


async def compose_config(*paths, settings=None):
    """`docker-compose -f path ... config` of docker-compose.yml or the
    files given, parsed, with the given GROUPCHAT_* settings in the
    environment; asserts that `config -q` accepts them first."""
    compose = tool("docker-compose", "docker-compose")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("GROUPCHAT_", "COMPOSE_", "DOCKER_"))}
    env.update(settings or {})
    files = [word for path in paths or (COMPOSE_FILE,) for word in ("-f", path)]
    code, out = await run([compose] + files + ["config", "-q"], env=env)
    assert code == 0, "docker-compose config -q rejects %s:\n%s" % (" ".join(files), out)
    code, out = await run([compose] + files + ["config"], env=env)
    assert code == 0, "docker-compose config: exit %d\n%s" % (code, out)
    import yaml     # python3-yaml, a dependency of docker-compose
    return yaml.safe_load(out)


def open_files(service):
    """(soft, hard) open-file limits a service asks for, or None."""
    nofile = service.get("ulimits", {}).get("nofile")
    return None if nofile is None else (int(nofile["soft"]), int(nofile["hard"]))


async def test_open_file_limit_starts_anywhere_and_can_be_raised():
    """Docker refuses to start a container whose limit is above its
    daemon's own hard limit (20,000 on the machines here): the default
    stays under it, and GROUPCHAT_NOFILE raises it."""
    services = (await compose_config())["services"]
    limited = {name: open_files(s) for name, s in services.items() if open_files(s)}
    assert {"gateway1", "gateway2", "lb"} <= set(limited), limited
    assert all(soft == hard and hard <= 20000 for soft, hard in limited.values()), limited
    services = (await compose_config(settings={"GROUPCHAT_NOFILE": "65536"}))["services"]
    assert all(open_files(services[name]) == (65536, 65536) for name in limited), services


def published(service):
    """{host port: (container port, host address or "")} of a service, from
    either form `config` writes: "127.0.0.1:8081:8080/tcp" or a mapping."""
    ports = {}
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports[int(port["published"])] = (int(port["target"]), port.get("host_ip", ""))
        else:
            parts = str(port).split("/")[0].split(":")
            address = parts[0] if len(parts) == 3 else ""
            ports[int(parts[-2])] = (int(parts[-1]), address)
    return ports


def mounts(service):
    """{path in the container: (source, read-only)} of a service's volumes,
    from either form `config` writes: "source:target:ro" or a mapping."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = (volume.get("source"), bool(volume.get("read_only")))
        else:
            parts = str(volume).split(":")
            found[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
    return found


def healthcheck_command(service):
    test = service.get("healthcheck", {}).get("test")
    assert isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL"), \
        "healthcheck.test: %r" % (test,)
    return test[1:]


# --------------------------------------------------------------------------
#  docker-compose.yml

def check_keys(config):
    """The broker link's keys: made by a one-shot service before anyone
    starts, one volume per program, each service holding its own only."""
    services = config["services"]
    keys = services["keys"]
    assert keys["command"] == ["groupchat-admin", "keys", "init", "/keys"], keys["command"]
    assert keys.get("restart") == "no", keys.get("restart")
    folders = {"/keys/%s" % name: ("groupchat-keys-%s" % name, False)
               for name in ("broker", "gateway", "admin")}
    assert mounts(keys) == folders, mounts(keys)
    for name in ("broker", "gateway", "admin"):
        assert "groupchat-keys-%s" % name in config["volumes"], config["volumes"]
    for name in ("broker", "gateway1", "gateway2"):
        depends = services[name]["depends_on"]
        assert depends["keys"]["condition"] == "service_completed_successfully", depends
    broker = services["broker"]
    assert broker["environment"]["GROUPCHAT_KEYS"] == "/keys/broker"
    assert mounts(broker)["/keys/broker"] == ("groupchat-keys-broker", True)
    assert mounts(broker)["/keys/admin"] == ("groupchat-keys-admin", True)
    for name in ("gateway1", "gateway2"):
        gateway = services[name]
        assert gateway["environment"]["GROUPCHAT_KEYS"] == "/keys/gateway"
        assert {target for target in mounts(gateway) if target.startswith("/keys")} \
            == {"/keys/gateway"}, mounts(gateway)
    admin = services["admin"]
    assert admin["entrypoint"] == ["groupchat-admin"], admin["entrypoint"]
    assert admin["environment"] == {"GROUPCHAT_REQUESTS": "tcp://broker:5555",
                                    "GROUPCHAT_KEYS": "/keys/admin"}, admin["environment"]
    assert mounts(admin) == {"/keys/admin": ("groupchat-keys-admin", True)}, mounts(admin)
    assert admin.get("profiles"), "the admin tool must not start with `up`"


async def test_compose_file_is_valid_and_describes_the_cluster():
    config = await compose_config()
    services = config["services"]
    assert set(services) == {"keys", "broker", "gateway1", "gateway2", "tls", "lb", "client",
                             "admin"}, \
        "services: %r" % sorted(services)

    #  Published ports: haproxy's wss:// on 8443 for everyone, its clear
    #  ws:// on 8080 and each gateway on its own port for this host only;
    #  the broker's ZeroMQ ports never
    assert published(services["lb"]) == {8443: (8443, ""), 8080: (8080, "127.0.0.1")}, \
        services["lb"].get("ports")
    assert published(services["gateway1"]) == {8081: (8080, "127.0.0.1")}, \
        services["gateway1"].get("ports")
    assert published(services["gateway2"]) == {8082: (8080, "127.0.0.1")}, \
        services["gateway2"].get("ports")
    assert published(services["broker"]) == {}, "broker ports published: %r" \
        % services["broker"]["ports"]

    #  The history lives in a named volume, so down and up keep it
    assert "groupchat-data" in config.get("volumes", {}), config.get("volumes")
    assert mounts(services["broker"]).get("/data") == ("groupchat-data", False), \
        "broker volumes: %r" % services["broker"]["volumes"]
    assert services["broker"]["environment"]["GROUPCHAT_DB"].startswith("/data/")

    assert healthcheck_command(services["broker"]) == \
        ["groupchat-healthz", "--broker", "/keys/admin"]
    check_keys(config)
    for name in ("gateway1", "gateway2"):
        gateway = services[name]
        assert gateway["command"] == ["groupchat-gateway"], gateway["command"]
        assert healthcheck_command(gateway) == ["groupchat-healthz"]
        env = gateway["environment"]
        assert env["GROUPCHAT_REQUESTS"] == "tcp://broker:5555", env
        assert env["GROUPCHAT_EVENTS"] == "tcp://broker:5556", env
        assert env["GROUPCHAT_PORT"] == "8080", env
        #  haproxy (option forwardfor) names the client for login throttling
        assert env["GROUPCHAT_TRUSTED_PROXY"] == "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16", env
        #  haproxy finds gateways under this alias (server-template)
        aliases = gateway["networks"]["default"]["aliases"]
        assert "gateway" in aliases, "%s aliases: %r" % (name, aliases)
    assert services["broker"]["command"] == ["groupchat-broker"]
    broker_env = services["broker"]["environment"]
    assert broker_env["GROUPCHAT_REQUESTS"] == "tcp://*:5555"
    assert broker_env["GROUPCHAT_EVENTS"] == "tcp://*:5556"
    #  A deployment starts with no users, unless told to seed the demo's
    assert broker_env["GROUPCHAT_SEED"] == "none", broker_env
    #  Backups go to a folder of the volume, and only there
    assert broker_env["GROUPCHAT_BACKUP_DIR"] == "/data/backups", broker_env
    demo = await compose_config(settings={"GROUPCHAT_SEED": "demo"})
    assert demo["services"]["broker"]["environment"]["GROUPCHAT_SEED"] == "demo"

    #  Configuration only through GROUPCHAT_* variables
    for name, service in services.items():
        for variable in service.get("environment", {}):
            assert variable.startswith("GROUPCHAT_"), "%s sets %s" % (name, variable)
    for name in ("broker", "gateway1", "gateway2", "lb"):
        assert services[name].get("restart") == "unless-stopped", \
            "%s restart: %r" % (name, services[name].get("restart"))

    #  The load balancer is built here too, from Debian's haproxy: no
    #  image comes from a registry
    lb = services["lb"]
    assert lb["build"]["context"] == os.path.join(ROOT, "deploy"), lb["build"]
    assert lb["build"]["dockerfile"] == "lb.Dockerfile", lb["build"]
    assert healthcheck_command(lb) == ["groupchat-healthz 8080 && groupchat-healthz --tls 8443"]
    with open(os.path.join(ROOT, "deploy", "lb.Dockerfile"), encoding="utf-8") as source:
        lines = [l.strip() for l in source if l.strip() and not l.startswith("#")]
    assert lines[0] == "FROM debian:bookworm-slim", lines[0]
    assert any("apt-get install" in l and "haproxy openssl" in l for l in lines), lines
    assert "COPY haproxy.cfg /etc/haproxy/haproxy.cfg" in lines, lines
    #  The tls service's script, and the store a new volume copies, haproxy's
    assert "COPY tls-init.sh /usr/local/bin/groupchat-tls-init" in lines, lines
    assert any("install -d -o haproxy -g haproxy -m 0700 %s" % TLS_STORE in l
               for l in lines), lines
    for name, service in services.items():
        assert "build" in service, "%s uses an image built elsewhere: %r" % (
            name, service.get("image"))

    client = services["client"]
    assert client["entrypoint"] == ["groupchat"] and client["command"] == ["ws://lb:8080"], \
        (client["entrypoint"], client["command"])
    assert client.get("stdin_open") and client.get("tty")
    assert client.get("profiles"), "the client must not start with `up`"


def haproxy_lines(path=HAPROXY_FILE):
    """deploy/haproxy.cfg's lines, comments dropped and spaces single."""
    with open(path, encoding="utf-8") as source:
        lines = [line.split("#", 1)[0].split() for line in source]
    return [" ".join(words) for words in lines if words]


def ignored(path):
    """The patterns of a .dockerignore file."""
    with open(path, encoding="utf-8") as source:
        return {line.strip() for line in source if line.strip() and not line.startswith("#")}


async def test_compose_ends_tls_at_the_load_balancer_with_a_kept_certificate():
    config = await compose_config()
    services = config["services"]
    lb, tls = services["lb"], services["tls"]

    #  A one-shot of lb's own image puts the certificate in place; lb
    #  starts only once it has ended well
    assert tls["command"] == ["groupchat-tls-init"] and tls["restart"] == "no", tls
    assert (tls["build"], tls["image"]) == (lb["build"], lb["image"])
    assert lb["depends_on"]["tls"] == {"condition": "service_completed_successfully"}, \
        lb["depends_on"]
    assert published(tls) == {}, tls.get("ports")
    #  Root, to read the operator's key whoever owns it, with only the
    #  capabilities that hand the files to haproxy's user
    assert tls.get("user") == "root" and tls["cap_drop"] == ["ALL"], tls
    assert sorted(tls["cap_add"]) == ["CHOWN", "DAC_OVERRIDE", "FOWNER"], tls["cap_add"]
    for service in (tls, lb):
        assert service["read_only"] and "no-new-privileges:true" in service["security_opt"]

    #  The certificate lives in a named volume, so down and up keep it;
    #  tls writes it, lb only reads it
    assert "groupchat-tls" in config["volumes"], config["volumes"]
    assert mounts(tls)[TLS_STORE] == ("groupchat-tls", False), tls["volumes"]
    assert mounts(lb)[TLS_STORE] == ("groupchat-tls", True), lb["volumes"]
    given = os.path.join(ROOT, "deploy", "tls")
    assert mounts(tls)["/etc/haproxy/tls-given"] == (given, True), tls["volumes"]
    assert "/etc/haproxy/tls-given" not in mounts(lb), lb["volumes"]
    crt = [line.split(" crt ")[1].split()[0] for line in haproxy_lines()
           if line.startswith("bind ") and " crt " in line]
    assert len(crt) == 1 and crt[0].startswith(TLS_STORE + "/"), \
        "haproxy must read its certificate from the volume: %r" % crt

    #  The operator's folder and the host ports are settings
    elsewhere = tempfile.mkdtemp(prefix="tls-given-", dir=harness.CONFIG.tmp_root)
    moved = (await compose_config(settings={
        "GROUPCHAT_TLS_DIR": elsewhere, "GROUPCHAT_LB_TLS_PORT": "9443",
        "GROUPCHAT_LB_PORT": "9080"}))["services"]
    assert mounts(moved["tls"])["/etc/haproxy/tls-given"] == (elsewhere, True)
    assert published(moved["lb"]) == {9443: (8443, ""), 9080: (8080, "127.0.0.1")}, \
        moved["lb"].get("ports")

    #  The default folder is in the checkout; what is put there goes into
    #  no image's build context
    assert os.path.isfile(os.path.join(given, "README.md"))
    assert "deploy/tls" in ignored(os.path.join(ROOT, ".dockerignore"))
    assert "tls" in ignored(os.path.join(ROOT, "deploy", ".dockerignore"))


async def test_compose_config_rejects_a_broken_file():
    #  Proves the validation above can fail: a misspelt key in a copy
    with open(COMPOSE_FILE, encoding="utf-8") as source:
        text = source.read()
    broken, count = re.subn(r"^(\s+)healthcheck:", r"\1healthchek:", text, count=1,
                            flags=re.M)
    assert count == 1
    folder = tempfile.mkdtemp(prefix="compose-", dir=harness.CONFIG.tmp_root)
    path = os.path.join(folder, "docker-compose.yml")
    with open(path, "w", encoding="utf-8") as copy:
        copy.write(broken)
    code, out = await run([tool("docker-compose", "docker-compose"), "-f", path,
                           "config", "-q"], cwd=folder)
    assert code != 0, "docker-compose accepted an unknown key:\n%s" % out
    assert "healthchek" in out, out


# --------------------------------------------------------------------------
#  docker-compose.ha.yml: two brokers on PostgreSQL

async def test_compose_ha_file_puts_two_same_brokers_on_postgres_with_no_secret():
    config = await compose_config(COMPOSE_FILE, HA_FILE)
    services = config["services"]
    assert set(services) == {"keys", "db-keys", "postgres", "broker", "broker2", "gateway1",
                             "gateway2", "tls", "lb", "client", "admin"}, sorted(services)
    #  broker2 is written out in the file: it must stay the broker
    assert services["broker2"] == services["broker"], \
        "broker2 differs from broker: %r" % {key: (value, services["broker2"].get(key))
                                             for key, value in services["broker"].items()
                                             if services["broker2"].get(key) != value}

    broker = services["broker"]
    db = broker["environment"]["GROUPCHAT_DB"]
    address, _, options = db.partition("?")
    assert address == "postgresql://groupchat@postgres/groupchat", db
    assert sorted(options.split("&")) == ["passfile=/keys/db/pgpass", "sslmode=verify-full",
                                          "sslrootcert=/keys/db/server.crt"], db
    assert mounts(broker)["/keys/db"] == ("groupchat-keys-broker-db", True), mounts(broker)
    assert broker["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert broker["depends_on"]["keys"] == {"condition": "service_completed_successfully"}
    assert healthcheck_command(broker) == ["groupchat-healthz", "--standby", "/keys/admin"]
    assert published(broker) == {}, broker.get("ports")
    #  The main file's settings that are not the database's stay
    assert broker["environment"]["GROUPCHAT_SEED"] == "none"
    assert broker["environment"]["GROUPCHAT_KEYS"] == "/keys/broker"

    lists = {"GROUPCHAT_REQUESTS": "tcp://broker:5555,tcp://broker2:5555",
             "GROUPCHAT_EVENTS": "tcp://broker:5556,tcp://broker2:5556"}
    for name in ("gateway1", "gateway2", "admin"):
        env = services[name]["environment"]
        assert {key: env.get(key) for key in lists} == lists, (name, env)
    for name in ("gateway1", "gateway2"):
        assert "broker2" in services[name]["depends_on"], services[name]["depends_on"]

    #  PostgreSQL: built here from Debian's package, for the compose
    #  network only, its data in a volume, healthy once it takes connections
    postgres, keys = services["postgres"], services["db-keys"]
    assert postgres["build"]["context"] == os.path.join(ROOT, "deploy"), postgres["build"]
    assert postgres["build"]["dockerfile"] == "postgres.Dockerfile", postgres["build"]
    assert published(postgres) == {}, postgres.get("ports")
    assert mounts(postgres) == {
        "/var/lib/postgresql/data": ("groupchat-postgres", False),
        "/keys/postgres": ("groupchat-keys-postgres", True)}, mounts(postgres)
    assert healthcheck_command(postgres)[0] == "pg_isready", postgres["healthcheck"]
    assert postgres["depends_on"]["db-keys"] == {"condition": "service_completed_successfully"}
    assert postgres["restart"] == "unless-stopped"
    #  Its keys: a one-shot of the same image, root with only the
    #  capabilities that hand each store to its owner
    assert (keys["build"], keys["image"]) == (postgres["build"], postgres["image"])
    assert keys["command"] == ["groupchat-postgres-keys"] and keys["restart"] == "no", keys
    assert keys.get("user") == "root" and keys["cap_drop"] == ["ALL"], keys
    assert sorted(keys["cap_add"]) == ["CHOWN", "DAC_OVERRIDE", "FOWNER"], keys["cap_add"]
    assert mounts(keys) == {"/keys/postgres": ("groupchat-keys-postgres", False),
                            "/keys/broker-db": ("groupchat-keys-broker-db", False)}, mounts(keys)
    for name in ("postgres", "db-keys", "broker2"):
        service = services[name]
        assert service["read_only"] and "no-new-privileges:true" in service["security_opt"]
        assert not any(not variable.startswith("GROUPCHAT_")
                       for variable in service.get("environment", {})), service["environment"]
    for volume in ("groupchat-postgres", "groupchat-keys-postgres", "groupchat-keys-broker-db"):
        assert volume in config["volumes"], config["volumes"]

    with open(os.path.join(ROOT, "deploy", "postgres.Dockerfile"), encoding="utf-8") as source:
        lines = [l.strip() for l in source if l.strip() and not l.startswith("#")]
    assert lines[0] == "FROM debian:bookworm-slim", lines[0]
    assert any("apt-get install" in l and "postgresql-15" in l for l in lines), lines
    assert any("create_main_cluster = false" in l for l in lines), lines
    assert "USER postgres" in lines and "STOPSIGNAL SIGINT" in lines, lines


async def test_postgres_keys_makes_the_password_and_pair_once_and_hands_them_out():
    for shell in ("sh", "bash"):
        for script in (POSTGRES_KEYS, os.path.join(ROOT, "deploy", "postgres.sh")):
            code, out = await run([shell, "-n", script])
            assert code == 0, "%s -n %s: %s" % (shell, script, out)
    folder = tempfile.mkdtemp(prefix="postgres-keys-", dir=harness.CONFIG.tmp_root)
    server, brokers = os.path.join(folder, "server"), os.path.join(folder, "brokers")
    me = "%d:%d" % (os.getuid(), os.getgid())
    env = {"PATH": "/usr/bin:/bin", "GROUPCHAT_PG_STORE": server,
           "GROUPCHAT_PG_CLIENT_STORE": brokers, "GROUPCHAT_PG_OWNER": me,
           "GROUPCHAT_PG_CLIENT_OWNER": me}

    code, out = await run(["sh", POSTGRES_KEYS], env=env)
    assert code == 0 and "made a new password" in out and "made a new TLS" in out, out
    password = store_file(server, "password")
    assert re.fullmatch(r"[0-9a-f]{64}", password), password
    assert password not in out, "the password was printed"
    assert store_file(brokers, "pgpass") == "*:*:groupchat:groupchat:%s\n" % password
    assert store_file(brokers, "server.crt") == store_file(server, "server.crt")
    cert = os.path.join(server, "server.crt")
    assert "SHA-256 fingerprint %s" % fingerprint(cert) in out, out
    code, text = await run(["openssl", "x509", "-in", cert, "-noout", "-ext",
                            "subjectAltName", "-checkend", str(3000 * 86400)])
    assert code == 0 and "DNS:postgres" in text, text
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, os.path.join(server,
                                                                               "server.key"))
    for store in (server, brokers):
        assert os.stat(store).st_mode & 0o777 == 0o700, store
    #  libpq ignores a passfile others may read; the server a key
    for path in (os.path.join(server, "password"), os.path.join(server, "server.key"),
                 os.path.join(brokers, "pgpass")):
        assert os.stat(path).st_mode & 0o777 == 0o600, path

    #  Again: nothing new, the same password and certificate
    made = fingerprint(cert)
    code, out = await run(["sh", POSTGRES_KEYS], env=env)
    assert code == 0 and "made a new" not in out, out
    assert store_file(server, "password") == password and fingerprint(cert) == made

    #  The password deleted: a new one, handed to the brokers; the pair kept
    os.remove(os.path.join(server, "password"))
    code, out = await run(["sh", POSTGRES_KEYS], env=env)
    assert code == 0 and "made a new password" in out and "made a new TLS" not in out, out
    renewed = store_file(server, "password")
    assert renewed != password and store_file(brokers, "pgpass").endswith(renewed + "\n")
    assert fingerprint(cert) == made


# --------------------------------------------------------------------------
#  deploy/haproxy.cfg

async def checkable_haproxy_config():
    """A copy of deploy/haproxy.cfg that reads its certificate from a store
    made here by deploy/tls-init.sh, as the tls service makes the volume."""
    folder = tempfile.mkdtemp(prefix="haproxy-", dir=harness.CONFIG.tmp_root)
    store = os.path.join(folder, "tls")
    code, out = await tls_init(store, os.path.join(folder, "nothing-given"))
    assert code == 0, "tls-init.sh: exit %d\n%s" % (code, out)
    path = os.path.join(folder, "haproxy.cfg")
    with open(HAPROXY_FILE, encoding="utf-8") as source, open(path, "w") as copy:
        copy.write(source.read().replace(TLS_STORE + "/", store + "/"))
    return path


async def test_haproxy_config_is_valid_and_websocket_aware():
    haproxy = tool("haproxy", "haproxy")
    checkable = await checkable_haproxy_config()
    code, out = await run([haproxy, "-c", "-f", checkable])
    assert code == 0, "haproxy -c rejects deploy/haproxy.cfg:\n%s" % out
    lines = haproxy_lines()
    for needed in ("bind :8080", "bind :8443 ssl crt %s/haproxy.pem" % TLS_STORE,
                   "balance leastconn", "option httpchk", "option forwardfor",
                   "http-check expect status 200"):
        assert needed in lines, "deploy/haproxy.cfg lacks %r" % needed
    assert any(re.fullmatch(r"timeout tunnel \d+[smh]", line) for line in lines), \
        "no `timeout tunnel`: WebSockets would be cut by the client/server timeouts"
    assert any(line.startswith("http-check send") and "uri /healthz" in line
               for line in lines), "the health check does not ask for /healthz"
    template = [line for line in lines if line.startswith("server-template ")]
    assert len(template) == 1 and " gateway:8080 " in template[0] + " ", \
        "servers must be the compose alias gateway:8080: %r" % template

    #  One frontend holds both ports, so /metrics is refused on either
    frontend = lines[lines.index("frontend groupchat"):]
    frontend = frontend[:next((n for n, line in enumerate(frontend[1:], 1)
                               if line.split()[0] in ("backend", "frontend", "defaults")),
                              len(frontend))]
    assert sum(line.startswith("bind ") for line in frontend) == 2, frontend
    assert any(line.startswith("http-request deny") and "/metrics" in line
               for line in frontend), frontend

    broken = checkable + ".broken"
    with open(checkable, encoding="utf-8") as source, open(broken, "w") as copy:
        copy.write(source.read().replace("balance leastconn", "balance fewest"))
    code, out = await run([haproxy, "-c", "-f", broken])
    assert code != 0, "haproxy -c accepted `balance fewest`:\n%s" % out
    #  Nor does it start without the certificate that tls-init.sh makes
    code, out = await run([haproxy, "-c", "-f", HAPROXY_FILE])
    assert code != 0 and "%s/haproxy.pem" % TLS_STORE in out, out


# --------------------------------------------------------------------------
#  deploy/tls-init.sh, haproxy's certificate

def store_file(store, name):
    with open(os.path.join(store, name), encoding="ascii") as source:
        return source.read()


async def test_tls_init_makes_a_certificate_keeps_it_and_takes_the_operators():
    for shell in ("sh", "bash"):
        code, out = await run([shell, "-n", TLS_INIT])
        assert code == 0, "%s -n tls-init.sh: %s" % (shell, out)
    folder = tempfile.mkdtemp(prefix="tls-init-", dir=harness.CONFIG.tmp_root)
    store, given = os.path.join(folder, "store"), os.path.join(folder, "given")
    os.mkdir(given)

    #  Nothing given, nothing kept: a new self-signed one for localhost,
    #  its fingerprint printed
    code, out = await tls_init(store, given)
    assert code == 0 and "serving a new self-signed certificate" in out, out
    made = fingerprint(os.path.join(store, "cert.pem"))
    assert "SHA-256 fingerprint %s" % made in out, out
    code, text = await run(["openssl", "x509", "-in", os.path.join(store, "cert.pem"),
                            "-noout", "-ext", "subjectAltName,basicConstraints",
                            "-checkend", str(800 * 86400)])
    assert code == 0, "the certificate ends within 800 days:\n%s" % text
    assert "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" in text, text
    assert "CA:FALSE" in text, text
    #  The key is nobody's but the owner's, and haproxy's file pairs them
    assert os.stat(store).st_mode & 0o777 == 0o700
    for name in os.listdir(store):
        status = os.stat(os.path.join(store, name))
        assert status.st_mode & 0o777 == 0o600 and status.st_uid == os.getuid(), name
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(os.path.join(store, "haproxy.pem"))
    assert "PRIVATE KEY" not in store_file(store, "cert.pem")

    #  Run again: the same one, kept
    code, out = await tls_init(store, given)
    assert code == 0 and "serving the self-signed certificate kept" in out, out
    assert fingerprint(os.path.join(store, "cert.pem")) == made

    #  The operator's pair, with its chain, wins while it is there
    certs = Certificates(os.path.join(folder, "certs"))
    await certs.authority("ca")
    await certs.server("chat", "ca")
    await certs.server("other", "ca")
    with open(os.path.join(given, "cert.pem"), "w") as chain:
        chain.write(store_file(certs.folder, "chat.pem") + store_file(certs.folder, "ca.pem"))
    shutil.copy(certs.path("chat", "key"), os.path.join(given, "key.pem"))
    code, out = await tls_init(store, given)
    assert code == 0 and "the certificate given in GROUPCHAT_TLS_DIR" in out, out
    assert fingerprint(os.path.join(store, "cert.pem")) == fingerprint(certs.path("chat"))
    assert store_file(store, "cert.pem").count("BEGIN CERTIFICATE") == 2, "chain lost"
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(os.path.join(store, "haproxy.pem"))

    #  A pair it cannot use stops it, and what it served stays
    for cert, key, said in (
            (certs.path("chat"), None, "both cert.pem and key.pem"),
            (certs.path("chat"), certs.path("other", "key"), "is not the key"),
            (certs.path("chat"), certs.path("chat"), "no unencrypted PEM private key"),
            (certs.path("chat", "key"), certs.path("chat", "key"), "no PEM certificate")):
        for name in ("cert.pem", "key.pem"):
            if os.path.exists(os.path.join(given, name)):
                os.remove(os.path.join(given, name))
        shutil.copy(cert, os.path.join(given, "cert.pem"))
        if key:
            shutil.copy(key, os.path.join(given, "key.pem"))
        code, out = await tls_init(store, given)
        assert code == 1 and said in out, (said, code, out)
        assert fingerprint(os.path.join(store, "cert.pem")) == fingerprint(certs.path("chat"))

    #  Taken away: the self-signed one made first is served again
    for name in os.listdir(given):
        os.remove(os.path.join(given, name))
    code, out = await tls_init(store, given)
    assert code == 0 and "kept" in out, out
    assert fingerprint(os.path.join(store, "cert.pem")) == made


# --------------------------------------------------------------------------
#  Dockerfile and .dockerignore

def dockerfile_stages():
    """[(FROM line, [instructions])] with continuation lines joined."""
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as source:
        text = re.sub(r"\\\n", " ", source.read())
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        else:
            assert stages, "instruction before FROM: %r" % line
            stages[-1][1].append(" ".join(line.split()))
    return stages


async def test_dockerfile_builds_like_a_developer_and_runs_unprivileged():
    stages = dockerfile_stages()
    assert len(stages) == 2, "expected a build and a runtime stage: %r" % [s[0] for s in stages]
    (build_from, build), (run_from, runtime) = stages

    assert re.fullmatch(r"FROM debian:bookworm AS \w+", build_from), build_from
    runs = [i for i in build if i.startswith("RUN ")]
    deps = [n for n, i in enumerate(runs) if re.search(r"\bsh scripts/deps\.sh build\b", i)]
    make = [n for n, i in enumerate(runs) if re.search(r"(^RUN |&& )make( |$)", i)]
    assert deps and make and deps[0] < make[0], \
        "the build stage must run `sh scripts/deps.sh build`, then make: %r" % runs

    assert run_from == "FROM debian:bookworm-slim", run_from
    assert any(re.search(r"\bsh \S*deps\.sh runtime\b", i) for i in runtime), \
        "the runtime stage must install with `deps.sh runtime`: %r" % runtime
    assert any(i.startswith("COPY ") and "scripts/deps.sh" in i for i in runtime)
    users = [i.split()[1] for i in runtime if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith("0:"), \
        "the runtime stage must end as a non-root USER: %r" % users
    assert any(re.search(r"useradd [^&;]*\s%s(\s|$)" % re.escape(users[-1]), i)
               for i in runtime), \
        "user %s is never created" % users[-1]
    copied = " ".join(i for i in runtime if i.startswith("COPY --from="))
    for program in PROGRAMS:
        assert "/bin/%s " % program in copied + " ", "%s is not copied from the build" % program
    assert "ENV GROUPCHAT_DB=/data/groupchat.db" in runtime
    assert any(re.search(r"chown \S+ /data\b", i) for i in runtime), "/data is not the user's"
    exposed = [word for i in runtime if i.startswith("EXPOSE ") for word in i.split()[1:]]
    assert sorted(exposed) == ["5555", "5556", "8080"], exposed
    assert any(i.startswith("COPY ") and "deploy/healthz.sh" in i
               and i.endswith("/usr/local/bin/groupchat-healthz") for i in runtime), \
        "the health check script is not installed as groupchat-healthz"


async def test_dockerignore_keeps_local_builds_out_and_the_sources_in():
    patterns = ignored(os.path.join(ROOT, ".dockerignore"))
    for local in ("bin", "build", ".git"):
        assert local in patterns, ".dockerignore lets %s/ into the image build" % local
    #  Everything `make` reads must stay in the build context, web/ too:
    #  the gateway is built with its files inside
    for needed in ["Makefile", "tests", "scripts", "deploy", "web"] + SOURCE_FOLDERS:
        assert not any(p.rstrip("/") == needed for p in patterns), \
            ".dockerignore drops %s, which the build needs" % needed


# --------------------------------------------------------------------------
#  The runtime image's packages against what the programs load

def installed_packages():
    """{installed package: set of the packages it depends on}."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Status}\t${Depends}, ${Pre-Depends}\n"],
        capture_output=True, text=True, check=True)
    result = {}
    for line in done.stdout.splitlines():
        name, status, fields = line.split("\t")
        if not status.endswith("ok installed"):
            continue
        needs = set()
        for item in fields.split(","):
            for alternative in item.split("|"):
                #  "libc6 (>= 2.34)", "python3:any": the package name only
                word = alternative.split("(")[0].strip().split(":")[0]
                if word:
                    needs.add(word)
        result[name] = needs
    return result


def closure(packages):
    """The packages and every installed package they depend on, recursively
    (what apt-get installs with them on a slim image)."""
    depends = installed_packages()
    seen, todo = set(), list(packages)
    while todo:
        package = todo.pop()
        if package not in seen:
            seen.add(package)
            todo.extend(depends.get(package, ()))
    return seen


def owners(paths):
    """{library path: the installed package that holds it}."""
    candidates = {}
    for path in paths:
        #  /lib is /usr/lib on Debian 12; dpkg may know either name
        for candidate in (path, "/usr" + path, os.path.realpath(path)):
            candidates[candidate] = path
    done = subprocess.run(["dpkg-query", "-S"] + sorted(candidates),
                          capture_output=True, text=True)
    found = {}
    for line in done.stdout.splitlines():
        package, _, where = line.partition(": ")
        if where in candidates:
            found[candidates[where]] = package.split(":")[0].split(",")[0]
    return found


def runtime_packages():
    with open(os.path.join(ROOT, "scripts", "deps.sh"), encoding="utf-8") as source:
        match = re.search(r'^runtime="([^"]*)"', source.read(), re.M)
    assert match, "scripts/deps.sh has no runtime=\"...\" list"
    return match.group(1).split()


async def test_runtime_packages_provide_every_library_the_programs_load():
    provided = closure(runtime_packages())
    needs = {}
    for program in PROGRAMS:
        path = os.path.join(harness.CONFIG.bin, program)
        assert os.access(path, os.X_OK), "%s is missing (run make)" % path
        code, out = await run(["ldd", path])
        assert code == 0, "ldd %s: %s" % (path, out)
        for library in re.findall(r"=> (/\S+)", out):
            #  The sanitizers' runtime is in SANITIZE=1 builds only
            if not re.search(r"/lib(asan|ubsan|lsan|tsan)\.", library):
                needs.setdefault(library, []).append(program)
    assert needs, "ldd found no libraries at all"
    found = owners(needs)
    unowned = sorted(set(needs) - set(found))
    assert not unowned, "no Debian package holds %s" % unowned
    missing = ["%s (%s, for %s)" % (found[library], library, ", ".join(needs[library]))
               for library in needs if found[library] not in provided]
    assert not missing, ("scripts/deps.sh runtime does not install:\n  "
                         + "\n  ".join(sorted(missing)))


# --------------------------------------------------------------------------
#  deploy/healthz.sh, the containers' health check

async def healthz(*args, env=None):
    code, out = await run(["bash", HEALTHZ] + list(args), env=env or {"PATH": "/usr/bin:/bin"},
                          timeout=15)
    return code, out.strip()


async def test_healthz_script_follows_gateway_and_broker():
    async with Cluster(gateways=1) as cluster:
        port = str(cluster.ports[0])
        admin = os.path.join(CONFIG.bin, "groupchat-admin")
        requests = {"PATH": "/usr/bin:/bin", "GROUPCHAT_ADMIN": admin,
                    "GROUPCHAT_REQUESTS": "tcp://*:%d" % cluster.requests_port}
        assert await healthz(port) == (0, "gateway: HTTP/1.1 200 OK")
        code, out = await healthz(env={"PATH": "/usr/bin:/bin", "GROUPCHAT_PORT": port})
        assert code == 0, "GROUPCHAT_PORT not used: %s" % out
        #  The broker has keys: an admin's folder is needed, and its
        #  own GROUPCHAT_KEYS (the broker's folder) is not taken for one
        code, out = await healthz("--broker", cluster.key_folder("admin"),
                                  env=dict(requests, GROUPCHAT_KEYS=cluster.key_folder("broker")))
        assert (code, out) == (0, "broker: answers requests on port %d" % cluster.requests_port)
        code, out = await healthz("--broker", env=requests)
        assert code == 1 and "refused the handshake" in out, (code, out)

        await cluster.kill_broker()
        await cluster.wait_healthy(status=503)
        code, out = await healthz(port)
        assert (code, out.split()[:3]) == (1, ["gateway:", "HTTP/1.1", "503"]), (code, out)
        code, out = await healthz("--broker", cluster.key_folder("admin"), env=requests)
        assert code == 1, "broker down, yet: %s" % out

    #  An open port that answers nothing is not a healthy broker
    silent_port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", silent_port))
        silent.listen()
        code, out = await healthz("--broker", env={
            "PATH": "/usr/bin:/bin", "GROUPCHAT_ADMIN": os.path.join(CONFIG.bin, "groupchat-admin"),
            "GROUPCHAT_REQUESTS": "tcp://*:%d" % silent_port})
    assert code == 1 and "no request was answered" in out, (code, out)

    closed = str(free_port())
    code, out = await healthz(closed)
    assert code == 1 and "nothing listens" in out, (code, out)
    assert (await healthz("not-a-port"))[0] == 2


async def test_healthz_script_standby_counts_a_waiting_standby_as_healthy():
    """`--standby`, the HA stack's broker check: a broker that binds nothing
    is healthy while a groupchat-broker given that endpoint runs (the
    standby, here on one database file); --broker still says it is not."""
    async with Cluster(gateways=1, brokers=2, by_env=True) as cluster:
        await cluster.start_standby(1)
        env = {"PATH": "/usr/bin:/bin", "GROUPCHAT_ADMIN": os.path.join(CONFIG.bin,
                                                                       "groupchat-admin")}
        serving = dict(env, GROUPCHAT_REQUESTS=cluster.endpoints[0][0])
        waiting = dict(env, GROUPCHAT_REQUESTS=cluster.endpoints[1][0])
        admin = cluster.key_folder("admin")
        code, out = await healthz("--standby", admin, env=serving)
        assert (code, out) == (0, "broker: answers requests on port %d" % cluster.requests_port)
        code, out = await healthz("--standby", admin, env=waiting)
        assert code == 0 and out.startswith("broker: a standby"), (code, out)
        code, out = await healthz("--broker", admin, env=waiting)
        assert code == 1 and "nothing listens" in out, (code, out)

        code = await cluster.brokers[1].stop(signal.SIGTERM, 10)
        assert code == 0, "the standby: exit %r on SIGTERM" % code
        code, out = await healthz("--standby", admin, env=waiting)
        assert code == 1 and "nothing listens" in out, (code, out)


async def test_healthz_script_asks_over_tls():
    """`--tls PORT`, lb's check of its wss:// port: TLS served and /healthz
    200 through it, whatever the certificate (here a self-signed one)."""
    certs = Certificates(tempfile.mkdtemp(prefix="healthz-", dir=harness.CONFIG.tmp_root))
    await certs.self_signed("gateway")
    async with Cluster(gateways=1, tls=True, per_gateway=[certs.gateway_args("gateway")]) \
            as cluster:
        port = str(cluster.ports[0])
        assert await healthz("--tls", port) == (0, "gateway: HTTP/1.1 200 OK")
        #  Clear text to a TLS port is no answer (and no SIGPIPE either)
        code, out = await healthz(port)
        assert code == 1 and "no HTTP answer" in out, (code, out)
        await cluster.kill_broker()
        await cluster.wait_healthy(status=503)
        code, out = await healthz("--tls", port)
        assert (code, out.split()[:3]) == (1, ["gateway:", "HTTP/1.1", "503"]), (code, out)
    code, out = await healthz("--tls", str(free_port()))
    assert code == 1 and "nothing listens" in out, (code, out)
    assert (await healthz("--tls"))[0] == 2
