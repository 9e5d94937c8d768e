# A Rack app for unicorn and puma: /slow?s=SECONDS sleeps, /pid says which worker.
# Writes "start PID" and "done PID" to /out/events, as gunicorn_app.py does.
def event(text)
  File.open("/out/events", "a") { |events| events.puts(text) }
end

run lambda { |env|
  if env["PATH_INFO"] == "/slow"
    seconds = Rack::Utils.parse_query(env["QUERY_STRING"]).fetch("s", "3").to_f
    event("start #{Process.pid}")
    sleep(seconds)
    event("done #{Process.pid}")
    body = format("done after %g s by %d\n", seconds, Process.pid)
  else
    body = "pid #{Process.pid}\n"
  end
  [200, { "Content-Type" => "text/plain" }, [body]]
}
