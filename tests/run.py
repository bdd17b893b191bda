#!/usr/bin/python3
"""run.py: groupchat's test runner.

    tests/run.py --bin DIR [--filter SUBSTRING] [--jobs N] [--timeout S]
                 [--suite NAME] [--databases LIST]

Runs (1) each unit self-test of DIR/groupchat-selftest (`--list` names
them; each runs as `groupchat-selftest NAME`) and (2) each `async def
test_*` of tests/integration/test_*.py, once on each database of LIST
(sqlite,postgresql): the clusters of the postgresql pass keep their
broker on PostgreSQL (GROUPCHAT_TEST_DB), on a server the runner starts
for the whole run, and its tests are named with ` [postgresql]` after
them. A module that declares `DATABASES = ("sqlite",)` runs in that pass
only: it tests SQLite's file, its brokers' database is its own choice, or
the database plays no part in what it checks (the gateway's own HTTP,
TLS, pings, addresses).
`--suite compose` runs tests/compose/ instead, once, and no self-test
(`make test-compose`). Every integration module runs in
its own Python process, so a crash or a hang stays inside it, with a fresh
cluster (tests/harness/) shared by those of its tests that take a
`cluster` argument; N modules run at once. Prints one line per test, the
reason and the server logs under each failure, then `N passed, N failed`;
exits 1 when anything failed. See docs/testing.md.

The same file is the per-module worker: `--module PATH --tests A,B`
(internal) runs those tests and writes one JSON result per line to the
file descriptor given by --results-fd.
"""

import argparse
import ast
import asyncio
import concurrent.futures
import contextlib
import importlib.util
import inspect
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "integration")   # the folder of the suite run (--suite)


# --------------------------------------------------------------------------
#  Discovery

DATABASES = ("sqlite", "postgresql")


def declared_databases(tree):
    """The module's `DATABASES = (...)`, else every database."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] \
                == ["DATABASES"]:
            return tuple(ast.literal_eval(node.value))
    return DATABASES


def discover_modules():
    """{module file name: ([test function names], (databases))} from
    tests/integration.

    Reads the source with ast instead of importing, so a module that fails
    to import is reported by its worker as a failure, not by the runner."""
    found = {}
    for name in sorted(os.listdir(SUITE)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        path = os.path.join(SUITE, name)
        with open(path, encoding="utf-8") as source:
            try:
                tree = ast.parse(source.read(), path)
            except SyntaxError as error:
                found[name] = (["(import: %s)" % error], DATABASES[:1])
                continue
        found[name] = ([node.name for node in tree.body
                        if isinstance(node, ast.AsyncFunctionDef)
                        and node.name.startswith("test_")], declared_databases(tree))
    return found


def module_weight(name):
    """Modules that declare `SLOW = True` are started first."""
    with open(os.path.join(SUITE, name), encoding="utf-8") as source:
        return 0 if "\nSLOW = True" in source.read() else 1


# --------------------------------------------------------------------------
#  Reporting (the parent side)

class Report:
    """Prints results as they come, from several threads, one line each."""

    def __init__(self):
        self.lock = threading.Lock()
        self.passed = 0
        self.failed = 0

    def result(self, name, ok, seconds, detail=""):
        with self.lock:
            if ok:
                self.passed += 1
                print("ok   %-62s %6.2f s" % (name, seconds), flush=True)
            else:
                self.failed += 1
                print("FAIL %-62s %6.2f s" % (name, seconds), flush=True)
                for line in detail.rstrip().splitlines():
                    print("     " + line, flush=True)


def tail(text, lines=30):
    return "\n".join(text.rstrip().splitlines()[-lines:])


# --------------------------------------------------------------------------
#  Unit self-tests

def selftest_names(bin_dir, report, wanted):
    program = os.path.join(bin_dir, "groupchat-selftest")
    if not os.access(program, os.X_OK):
        if wanted in "selftest":
            report.result("selftest", False, 0, "%s is missing (run make)" % program)
        return []
    try:
        listing = subprocess.run([program, "--list"], capture_output=True,
                                 text=True, timeout=30)
    except subprocess.TimeoutExpired:
        report.result("selftest --list", False, 30, "timed out")
        return []
    if listing.returncode != 0:
        report.result("selftest --list", False, 0, "exit %d\n%s" % (
            listing.returncode, tail(listing.stdout + listing.stderr)))
        return []
    return [line.strip() for line in listing.stdout.splitlines() if line.strip()]


def run_selftest(bin_dir, name, timeout, report):
    wrap = shlex.split(os.environ.get("GROUPCHAT_TEST_WRAP", ""))
    argv = wrap + [os.path.join(bin_dir, "groupchat-selftest"), name]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True,
                              errors="replace", timeout=timeout)
        ok = done.returncode == 0
        detail = "" if ok else "exit %d\n%s" % (done.returncode,
                                                tail(done.stdout + done.stderr, 40))
    except subprocess.TimeoutExpired as expired:
        ok = False
        output = (expired.stdout or b"") + (expired.stderr or b"")
        if isinstance(output, bytes):
            output = output.decode("utf-8", "replace")
        detail = "timed out after %.0f s\n%s" % (timeout, tail(output))
    report.result("selftest " + name, ok, time.monotonic() - started, detail)


# --------------------------------------------------------------------------
#  Integration modules, each in a worker process

def run_module(args, module, tests, database, report):
    """Runs one module's tests in a worker process, on `database`, and
    reports each."""
    read_fd, write_fd = os.pipe()
    argv = [sys.executable, os.path.abspath(__file__), "--bin", args.bin,
            "--suite", args.suite, "--timeout", str(args.timeout), "--module", module,
            "--database", database,
            "--tests", ",".join(tests), "--results-fd", str(write_fd)]
    log = tempfile.TemporaryFile()
    started = time.monotonic()
    worker = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                              stderr=subprocess.STDOUT, pass_fds=(write_fd,))
    os.close(write_fd)
    #  The worker bounds each test itself; this bounds the worker, in case
    #  it hangs where no test timeout reaches (setup, teardown, a deadlock).
    limit = (len(tests) + 1) * (args.timeout + 30)
    timer = threading.Timer(limit, worker.kill)
    timer.daemon = True
    timer.start()
    reported = set()
    try:
        with os.fdopen(read_fd, encoding="utf-8") as results:
            for line in results:
                try:
                    result = json.loads(line)
                except ValueError:
                    continue
                reported.add(result["test"])
                report.result(test_name(module, result["test"], database), result["ok"],
                              result["seconds"], result.get("detail", ""))
        code = worker.wait()
    finally:
        timer.cancel()
    log.seek(0)
    output = log.read().decode("utf-8", "replace")
    missing = [t for t in tests if t not in reported]
    if missing or code != 0:
        why = "worker for %s ended with %s%s\n%s" % (
            module, "exit code %d" % code if code >= 0 else
            "signal %s" % signal.Signals(-code).name,
            " (killed after %d s)" % limit if code == -signal.SIGKILL else "",
            tail(output, 40))
        for index, test in enumerate(missing):
            report.result(test_name(module, test, database), False,
                          time.monotonic() - started,
                          why if index == 0 else "not run: the worker had ended")
        if not missing:
            report.result(test_name(module, "(worker)", database), False,
                          time.monotonic() - started, why)


# --------------------------------------------------------------------------
#  The worker: one module, its tests in order, one event loop

def worker_main(args):
    #  Read by every Cluster the module makes (harness/cluster.py)
    os.environ["GROUPCHAT_TEST_DB"] = args.database
    sys.path.insert(0, HERE)
    import harness
    results = os.fdopen(args.results_fd, "w", encoding="utf-8")
    tmp_root = tempfile.mkdtemp(prefix="groupchat-%s-" % args.module[:-3])
    harness.configure(args.bin, tmp_root)
    failed = asyncio.run(worker_run(args, harness, results))
    results.close()
    if failed:
        print("kept logs and databases in %s" % tmp_root, flush=True)
    else:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return 0


def emit(results, test, ok, seconds, detail=""):
    results.write(json.dumps({"test": test, "ok": ok, "seconds": seconds,
                              "detail": detail}) + "\n")
    results.flush()


class TestTimeout(Exception):
    """The test as a whole ran out of time (not a timeout inside it)."""


async def run_with_timeout(coroutine, timeout):
    """Runs a test; past `timeout` cancels it and says where it was stuck."""
    task = asyncio.ensure_future(coroutine)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if task in done:
        return task.result()
    where = [frame for frame in task.get_stack(limit=20)
             if os.path.dirname(frame.f_code.co_filename) == SUITE]
    task.cancel()
    try:
        await task
    except BaseException:
        pass
    text = "timed out after %.0f s" % timeout
    if where:
        text += ", waiting at %s:%d in %s" % (
            os.path.basename(where[-1].f_code.co_filename), where[-1].f_lineno,
            where[-1].f_code.co_name)
    raise TestTimeout(text)


def describe_failure(error, harness, timeout):
    if isinstance(error, TestTimeout):
        text = "%s\n" % error
    elif isinstance(error, AssertionError) and str(error):
        text = "%s\n" % error
        frames = traceback.extract_tb(error.__traceback__)
        here = [f for f in frames if os.path.dirname(f.filename) == SUITE]
        if here:
            text += "at %s:%d in %s\n" % (os.path.basename(here[-1].filename),
                                          here[-1].lineno, here[-1].name)
    else:
        text = "".join(traceback.format_exception(error))
    for note in getattr(error, "__notes__", []) if isinstance(error, AssertionError) else []:
        text += "%s\n" % note
    return text + harness.log_tails()


async def worker_run(args, harness, results):
    path = os.path.join(SUITE, args.module)
    timeout = args.timeout
    started = time.monotonic()
    try:
        spec = importlib.util.spec_from_file_location(args.module[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as error:
        detail = "".join(traceback.format_exception(error))
        for test in args.tests.split(","):
            emit(results, test, False, time.monotonic() - started,
                 "cannot import %s:\n%s" % (args.module, detail))
        return True

    shared = None
    failed = False
    for name in args.tests.split(","):
        function = getattr(module, name, None)
        harness.begin_test(shared)
        started = time.monotonic()
        ok, detail = True, ""
        try:
            if function is None or not inspect.iscoroutinefunction(function):
                raise AssertionError("%s is not an async function" % name)
            kwargs = {}
            if "cluster" in inspect.signature(function).parameters:
                if shared is None:
                    #  A module may make its own kind of shared cluster
                    make = getattr(module, "shared_cluster", None)
                    shared = await make() if make else harness.Cluster()
                    shared.owned_by_test = False
                    await asyncio.wait_for(shared.start(), timeout)
                kwargs["cluster"] = shared
            await run_with_timeout(function(**kwargs), timeout)
            if shared is not None:
                shared.check_alive()
        except Exception as error:
            ok, detail = False, describe_failure(error, harness, timeout)
        try:
            await asyncio.wait_for(harness.end_test(), 60)
        except Exception as error:
            if ok:
                ok, detail = False, describe_failure(error, harness, timeout)
        failed = failed or not ok
        emit(results, name, ok, time.monotonic() - started, detail)
        if shared is not None and not shared.stopped and \
                not all(p.running() for p in shared.gateways + [shared.broker]):
            #  A test broke the shared cluster (a crash): give the next
            #  test a fresh one rather than a cascade of failures.
            try:
                await shared.stop()
            except AssertionError:
                pass
            shared = None

    if shared is not None:
        started = time.monotonic()
        harness.begin_test(shared)
        try:
            await shared.stop()
        except AssertionError as error:
            failed = True
            emit(results, "(cluster teardown)", False,
                 time.monotonic() - started, "%s\n%s" % (error, shared.log_tails()))
    return failed


def test_name(module, test, database):
    return "%s::%s%s" % (module, test, "" if database == "sqlite" else " [%s]" % database)


@contextlib.contextmanager
def postgres_for(needed):
    """The PostgreSQL server of the postgresql pass, for the whole run:
    one initdb, not one per module. Its port reaches the workers through
    GROUPCHAT_TEST_POSTGRES (harness/postgres.py shared())."""
    if not needed:
        yield
        return
    sys.path.insert(0, HERE)
    from harness.postgres import SHARED_PORT, Postgres
    server = Postgres().start()
    os.environ[SHARED_PORT] = str(server.port)
    try:
        yield
    finally:
        del os.environ[SHARED_PORT]
        server.close()


# --------------------------------------------------------------------------
#  Main

def parse_args():
    parser = argparse.ArgumentParser(description="Runs groupchat's tests.")
    parser.add_argument("--bin", required=True,
                        help="folder with groupchat-broker, -gateway, -selftest")
    parser.add_argument("--filter", default="",
                        help="run only tests whose name contains this")
    parser.add_argument("--jobs", type=int, default=2,
                        help="modules run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per test (default 60, 600 when wrapped)")
    parser.add_argument("--suite", default="integration", choices=("integration", "compose"),
                        help="the folder of tests/ to run (default integration)")
    parser.add_argument("--databases", default=os.environ.get("GROUPCHAT_TEST_DATABASES",
                                                              ",".join(DATABASES)),
                        help="the integration suite's passes, each on one database "
                             "(default sqlite,postgresql; GROUPCHAT_TEST_DATABASES)")
    parser.add_argument("--database", default="sqlite", help=argparse.SUPPRESS)
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--tests", help=argparse.SUPPRESS)
    parser.add_argument("--results-fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.timeout is None:
        args.timeout = 600.0 if os.environ.get("GROUPCHAT_TEST_WRAP") else 60.0
    args.bin = os.path.abspath(args.bin)
    args.databases = [name for name in args.databases.split(",") if name]
    unknown = set(args.databases) - set(DATABASES)
    if unknown:
        parser.error("--databases: no such database %s" % ", ".join(sorted(unknown)))
    if args.suite == "compose":
        #  One pass: each compose file names its broker's database itself
        args.databases = DATABASES[:1]
    global SUITE
    SUITE = os.path.join(HERE, args.suite)
    return args


def main():
    args = parse_args()
    if args.module:
        return worker_main(args)

    report = Report()
    started = time.monotonic()
    jobs = []
    modules = discover_modules()
    on_postgres = False
    for module in sorted(modules, key=lambda m: (module_weight(m), m)):
        names, databases = modules[module]
        for database in [d for d in args.databases if d in databases]:
            tests = [t for t in names if args.filter in test_name(module, t, database)]
            if tests:
                jobs.append(lambda m=module, t=tests, d=database:
                            run_module(args, m, t, d, report))
                on_postgres = on_postgres or database == "postgresql"
    selftests = selftest_names(args.bin, report, args.filter) if args.suite == "integration" else []
    for name in selftests:
        if args.filter in "selftest " + name:
            jobs.append(lambda n=name: run_selftest(args.bin, n, args.timeout, report))

    if not jobs:
        print("no test matches --filter %r" % args.filter, flush=True)
    with postgres_for(on_postgres), \
            concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()

    print("(%.1f s)" % (time.monotonic() - started), flush=True)
    print("%d passed, %d failed" % (report.passed, report.failed), flush=True)
    return 1 if report.failed or report.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
