# A Sidekiq job that works SECONDS: `sidekiq -r sidekiq_app.rb` runs it, and
# `ruby -r sidekiq_app.rb -e 'SlowJob.perform_async(4)'` queues one (Redis
# on 127.0.0.1:6379).  Writes "start PID" and "done PID" to /out/events.
require "sidekiq"

# Debian's ruby-redis 4.8 warns about sidekiq 6.4's calls on every fetch.
Redis.silence_deprecations = true

class SlowJob
  include Sidekiq::Job

  def perform(seconds)
    event("start #{Process.pid}")
    sleep(seconds)
    event("done #{Process.pid}")
  end

  def event(text)
    File.open("/out/events", "a") { |events| events.puts(text) }
  end
end
