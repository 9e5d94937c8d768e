"""`tini-py --show-routes`: what every signal becomes with the options given.

It asks policy.route_of, as the supervisor does at each signal's first
arrival, so what it prints is what tini-py would do.
"""
from tini_py.policy import GROUP, route_of
from tini_py.signals import FORWARDED, SIGTERM, signal_name


def describe_routes(config):
    lines = ["%-13s %-13s %-24s %s" % ("received", "forwarded as", "to", "starts the stop (-t)")]
    for received in sorted(FORWARDED):
        route = route_of(config, received)
        if not route.signal:
            lines.append("%-13s %s" % (signal_name(received), "dropped"))
            continue
        held = " (held --delay first)" if route.held else ""
        lines.append("%-13s %-13s %-24s %s" % (
            signal_name(received), signal_name(route.signal),
            "the process group" if route.recipient == GROUP else "the main child alone",
            ("yes" if route.stops else "no") + held))
    graceful = config.graceful
    lines += [
        "",
        "graceful signal (what SIGTERM becomes): %s"
        % (signal_name(graceful) if graceful else "none (SIGTERM is dropped)"),
        "-t: %s" % ("SIGKILL to every process %gs after a stop" % config.grace
                    if config.grace is not None else "none (no SIGKILL after a stop)"),
        "--orphan-grace: %gs after the main child, leftovers get %s, then SIGKILL"
        % (config.orphan_grace, signal_name(graceful or SIGTERM)),
        "--delay: %s" % ("SIGTERM held %gs" % config.delay if config.delay else "none"),
    ]
    return "\n".join(lines) + "\n"
