"""scope.py: what the running test opened, so that the runner can close
its clients, stop the clusters it left running, and show the logs of the
clusters a failing test used.

tests/run.py calls begin_test() and end_test() around each test; Client,
Cluster and the raw broker sockets (broker.py) register themselves in
SCOPE when they are made.
"""


class _TestScope:
    def __init__(self):
        self.clients = []           # every Client connected during the test
        self.clusters = []          # every Cluster made or used by the test
        self.closers = []           # close() of every raw ZeroMQ socket opened


SCOPE = _TestScope()


def begin_test(shared=None):
    """Starts a fresh scope; `shared` is the module's cluster, if any."""
    SCOPE.clients = []
    SCOPE.clusters = [shared] if shared else []
    SCOPE.closers = []


async def end_test():
    """Closes the test's clients and stops the clusters it left running.

    Raises AssertionError when a left-over cluster did not stop cleanly."""
    for client in SCOPE.clients:
        await client.close()
    for close in SCOPE.closers:
        close()
    problems = []
    for cluster in SCOPE.clusters:
        if cluster.owned_by_test and cluster.started and not cluster.stopped:
            try:
                await cluster.stop()
            except AssertionError as error:
                problems.append(str(error))
    if problems:
        raise AssertionError("\n".join(problems))


def log_tails(lines=30):
    """The tail of every server log of the clusters the current test used."""
    text = [cluster.log_tails(lines) for cluster in SCOPE.clusters]
    return "\n".join(t for t in text if t)
