#!/bin/sh
# A main child that leaves an orphan behind, then ends:
#
#     sh /t/leaves_an_orphan.sh 'exit 3' KIND
#
# KIND is what the orphan (a background process the shell does not wait
# for) does with SIGTERM:
#   plain   TERM's default action ends it (sleep 300)
#   ignore  ignores it (sleep 300 started with TERM ignored)
#   report  catches it and writes the pid of its parent -- whoever adopted
#           it when this shell ended -- to /out/reaper, then exits
# Writes its parent's pid (the init that started it) to /out/init and the
# orphan's pid to /out/orphan, then, the orphan ready, ends as its first
# argument says ('exit 3', 'kill -KILL $$').  The orphan's stderr is
# /dev/null: the shells' "Terminated" is not the init's to answer for.
echo $PPID > /out/init
case "$2" in
    plain) sleep 300 2> /dev/null & ;;
    ignore) sh -c "trap '' TERM; touch /out/orphan-ready; exec sleep 300" 2> /dev/null & ;;
    report) sh -c 'trap "ps -o ppid= -p \$\$ | tr -d \" \" > /out/reaper; exit 0" TERM
                   touch /out/orphan-ready
                   while :; do sleep 0.05; done' 2> /dev/null & ;;
    *) echo "usage: $0 ENDING plain|ignore|report" >&2; exit 64 ;;
esac
echo $! > /out/orphan
[ "$2" = plain ] || while [ ! -e /out/orphan-ready ]; do sleep 0.01; done
eval "$1"
