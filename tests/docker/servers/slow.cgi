#!/bin/sh
# A slow CGI request for apache2: GET /slow?s=SECONDS works SECONDS.
# Writes "start PID" and "done PID" to /out/events, as slow.php does.
seconds=${QUERY_STRING#s=}
echo "start $$" >> /out/events
sleep "$seconds"
echo "done $$" >> /out/events
printf 'Content-Type: text/plain\r\n\r\ndone after %s s by %s\n' "$seconds" "$$"
