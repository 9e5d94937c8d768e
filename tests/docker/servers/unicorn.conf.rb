# unicorn with 2 workers on 127.0.0.1:8000, logging to stderr; a request may
# take far longer than the tests' 4 s before unicorn's timeout kills its worker.
worker_processes 2
listen "127.0.0.1:8000"
timeout 60
logger Logger.new($stderr)
