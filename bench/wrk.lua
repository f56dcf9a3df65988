-- bench/wrk.lua: the one wrk script of `make bench`.
--
-- BENCH_IDS=N in the environment: every request asks for
-- /get_todos/<uniform random id in 1..N> (requests built once, per thread,
-- in init; each thread seeds its own generator).  Unset: wrk's static
-- request for the URL on the command line, with no Lua per request.
--
-- done() prints one line, "BENCH {json}", that bench.py reads: request and
-- error counts (errors.status is wrk's count of answers with a status
-- above 399, printed as "Non-2xx or 3xx responses"), and the latency
-- percentiles in microseconds.  No response() hook: it would make wrk
-- parse every answer in Lua and lower the client's own ceiling.

local ids = tonumber(os.getenv("BENCH_IDS") or "") or 0

if ids > 0 then
   local threads = 0

   function setup(thread)
      threads = threads + 1
      thread:set("thread_no", threads)
   end

   local requests = {}

   function init(args)
      math.randomseed(os.time() * 1000 + (thread_no or 0))
      for i = 1, ids do
         requests[i] = wrk.format(nil, "/get_todos/" .. i)
      end
   end

   function request()
      return requests[math.random(ids)]
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH {"duration_us": %.0f, "requests": %.0f, "bytes": %.0f, ' ..
      '"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, ' ..
      '"timeout": %.0f, "p50_us": %.0f, "p90_us": %.0f, "p99_us": %.0f, ' ..
      '"max_us": %.0f, "mean_us": %.1f}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
