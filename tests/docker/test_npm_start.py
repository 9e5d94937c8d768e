"""`npm start` as the command of a container: Debian bookworm's npm 9.2
and nodejs 18, a tiny node http server (tests/docker/servers/npm-app) that
closes gracefully on TERM.

npm runs the script through `sh -c 'node server.js'`, and Debian's dash
does not exec that last command: the tree is npm -> sh -> node.  On TERM,
npm passes the signal to its child, the shell, which dies of it (a shell
without a trap); npm then ends itself with the same signal (exit 143; as
PID 1, where that signal has no effect, it exits 1) without waiting for the
node server, which is now an orphan.  Whatever the init, what keeps the
request in flight is whether someone waits for that orphan: tini-py's drain
does (up to --orphan-grace, 5 s by default), tini and a bare npm as PID 1
do not -- the container ends and the kernel kills node mid-request.
"""
import pytest

from .servers_util import (NPM_APP, assert_stop_outcome, events_starting, said, slow_request,
                           slow_request_completed, stop_mid_request)

NPM_START = ["npm", "start"]
# The script as "exec node server.js": the shell becomes node.
NPM_START_EXEC = ["npm", "run", "start-exec"]


def npm_ready(containers, image, ctr):
    ctr.wait_for_log("listening on 127.0.0.1:8000", timeout=60)
    return ctr


def npm_request(containers, image, init, command):
    """`command` (npm start) in the package's folder under init (none: npm
    is PID 1), with a request to the node server in flight."""
    return slow_request(containers, image, init, command, npm_ready, options=["-w", NPM_APP])


def tree(ctr):
    """The command lines of the container's processes, PID 1's first."""
    return [args for pid, ppid, stat, args in sorted(ctr.processes()) if not args.startswith("ps ")]


@pytest.mark.parametrize("init, command, finishes, exit_status", [
    # tini-py's group TERM reaches node itself; npm dies of TERM (143) and
    # tini-py's drain waits for node, which finishes its request.
    pytest.param(["tini-py", "-v"], NPM_START, True, 143, id="tini-py-drain-waits-for-node"),
    pytest.param(["tini-py", "-v", "-e", "143"], NPM_START, True, 0,
                 id="tini-py-e-143-finishes-exit-0"),
    # The drain has its bound: a request longer than --orphan-grace is cut.
    pytest.param(["tini-py", "-v", "--orphan-grace", "1"], NPM_START, False, 143,
                 id="control-orphan-grace-1-cuts"),
    pytest.param([], NPM_START, False, 1, id="control-npm-as-PID-1-cuts"),
    pytest.param(["tini"], NPM_START, False, 143, id="control-tini-cuts"),
    # "exec node server.js": npm passes TERM to node itself and waits for it.
    pytest.param([], NPM_START_EXEC, True, 0, id="exec-in-the-script-npm-as-PID-1-finishes"),
    pytest.param(["tini-py", "-v"], NPM_START_EXEC, True, 0,
                 id="exec-in-the-script-tini-py-finishes-exit-0"),
])
def test_npm_start_docker_stop_mid_request(servers_image, containers, init, command, finishes,
                                           exit_status):
    ctr, client = npm_request(containers, servers_image, init, command)
    processes = tree(ctr)
    elapsed, code, completed = stop_mid_request("npm start docker stop", ctr, client,
                                                slow_request_completed, init=init,
                                                command=command, processes=processes,
                                                events=ctr.events())
    logs = ctr.logs()
    shell = [args for args in processes if args.startswith("sh -c ")]
    assert bool(shell) == (command == NPM_START), processes
    assert code == exit_status, logs
    assert_stop_outcome(finishes, completed, elapsed, (client.describe(), logs))
    # node got TERM (from tini-py's group TERM, or from npm when the shell
    # is gone) wherever the request finished.
    if finishes:
        assert events_starting(ctr, "signal SIGTERM"), ctr.events()
    if init and init[0] == "tini-py" and command == NPM_START:
        # node, in npm's group, was reached by the stop: the drain waits for it.
        assert said(ctr, "main child is gone; waiting up to"), logs
