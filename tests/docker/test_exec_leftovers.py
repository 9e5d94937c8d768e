"""`docker exec`'d processes: in the container's PID namespace, but not
tini-py's children -- when they end, no SIGCHLD reaches PID 1.  A container
whose main child has exited must stop as soon as the last of them is gone,
not after --orphan-grace."""
import time

WAIT_FOR_GO = "while [ ! -e /out/go ]; do sleep 0.05; done; echo main child done"
# Ignores the TERM tini-py's drain sends it, then ends by itself.
VISITOR = "trap '' TERM; touch /out/visiting; sleep 2; touch /out/visited"


def test_container_stops_when_the_exec_process_has_ended(tini_image, containers):
    ctr = containers(tini_image, "-v", "--orphan-grace", "20", "--", "sh", "-c", WAIT_FOR_GO,
                     entrypoint="tini-py")
    ctr.engine("exec", "-d", ctr.id, "sh", "-c", VISITOR)
    ctr.wait_for(lambda: (ctr.out / "visiting").exists(), what="the exec'd process")
    (ctr.out / "go").write_text("")
    ctr.wait_for_log("main child done")
    ctr.wait_for(lambda: (ctr.out / "visited").exists(), timeout=15, what="the visitor's end")
    ended = time.monotonic()
    ctr.wait_for(lambda: not ctr.running, timeout=25, interval=0.02, what="the container's exit")
    late = time.monotonic() - ended
    assert ctr.exit_code == 0, ctr.logs()
    assert "sending SIGKILL" not in ctr.logs()
    # docker inspect itself takes tens of milliseconds per poll.
    assert late < 1.5, "the container ran on %.2fs after the exec'd process ended" % late
