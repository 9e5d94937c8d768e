<?php
// A slow request: GET slow.php?s=SECONDS works for SECONDS of wall time.
// Writes "start PID" and "done PID" to /out/events so the test sees where it
// got to even when the client is cut.  One long usleep() would not do: a
// signal the worker handles (php-fpm's soft-quit QUIT) ends it early.
$seconds = (float)($_GET['s'] ?? 3);
$pid = getmypid();
file_put_contents('/out/events', "start $pid\n", FILE_APPEND);
$deadline = microtime(true) + $seconds;
while (microtime(true) < $deadline) {
    usleep(20000);
}
file_put_contents('/out/events', "done $pid\n", FILE_APPEND);
echo "done after $seconds s by $pid\n";
