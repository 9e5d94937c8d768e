// A tiny node http server on 127.0.0.1:8000, as `npm start` runs it:
// /slow?s=SECONDS answers after SECONDS.  On SIGTERM or SIGINT it stops
// accepting and exits 0 once the requests in flight are answered (the
// usual graceful stop of a node server).  Writes "start PID", "done PID"
// and "signal NAME PID" to /out/events.
const fs = require("fs");
const http = require("http");

const event = (text) => fs.appendFileSync("/out/events", text + "\n");

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname !== "/slow") {
    res.end("pid " + process.pid + "\n");
    return;
  }
  const seconds = Number(url.searchParams.get("s") || 3);
  event("start " + process.pid);
  setTimeout(() => {
    event("done " + process.pid);
    res.end("done after " + seconds + " s by " + process.pid + "\n");
  }, seconds * 1000);
});

let stopping = false;
for (const name of ["SIGTERM", "SIGINT"]) {
  process.on(name, () => {
    event("signal " + name + " " + process.pid);
    if (stopping) return;
    stopping = true;
    console.log("server.js: " + name + ", closing");
    server.close(() => {
      console.log("server.js: closed, exit 0");
      process.exit(0);
    });
  });
}

server.listen(8000, "127.0.0.1", () => console.log("server.js listening on 127.0.0.1:8000"));
