-- bench/wrk.lua: the one wrk script of `make bench`.
--
-- BENCH_IDS=N in the environment: every request asks for
-- /get_todos/<uniform random id in 1..N> (requests built once, per thread,
-- in init; each thread seeds its own generator).  Unset: wrk's static
-- request for the URL on the command line, with no Lua per request.
--
-- BENCH_TRACK=1 as well (the cold and waves scenarios): each thread also
-- counts the requests it sends per id, and done() adds them to its line as
-- "asked": {"<id>": <requests>, ...}, summed over the threads, so that
-- bench.py can hold the upstream's request count of each id against the
-- ids that were asked for.  A request counts when it is sent, answered or
-- not (the last one of each connection is cut off when the run ends).
--
-- done() prints one line, "BENCH {json}", that bench.py reads: request and
-- error counts (errors.status is wrk's count of answers with a status
-- above 399, printed as "Non-2xx or 3xx responses"), and the latency
-- percentiles and maximum in microseconds.  No response() hook: it would
-- make wrk parse every answer in Lua and lower the client's own ceiling.

local ids = tonumber(os.getenv("BENCH_IDS") or "") or 0
local track = ids > 0 and os.getenv("BENCH_TRACK") == "1"
local threads = {}     -- setup() and done() run in the same (main) Lua state

if ids > 0 then
   function setup(thread)
      threads[#threads + 1] = thread
      thread:set("thread_no", #threads)
   end

   local requests = {}

   function init(args)
      math.randomseed(os.time() * 1000 + (thread_no or 0))
      for i = 1, ids do
         requests[i] = wrk.format(nil, "/get_todos/" .. i)
      end
   end

   if track then
      asked = {}       -- a global: done() reads it with thread:get()

      function request()
         local i = math.random(ids)
         asked[i] = (asked[i] or 0) + 1
         return requests[i]
      end
   else
      function request()
         return requests[math.random(ids)]
      end
   end
end

local function asked_json()
   local total = {}
   for _, thread in ipairs(threads) do
      for i, n in pairs(thread:get("asked") or {}) do
         total[i] = (total[i] or 0) + n
      end
   end
   local parts = {}
   for i = 1, ids do
      if total[i] then
         parts[#parts + 1] = string.format('"%d": %d', i, total[i])
      end
   end
   return ', "asked": {' .. table.concat(parts, ", ") .. '}'
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH {"duration_us": %.0f, "requests": %.0f, "bytes": %.0f, ' ..
      '"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, ' ..
      '"timeout": %.0f, "p50_us": %.0f, "p90_us": %.0f, "p99_us": %.0f, ' ..
      '"max_us": %.0f, "mean_us": %.1f%s}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean, track and asked_json() or ""))
end
