-- The overload benchmark's shopper (scripts/bench-overload): every connection sends the same
-- member query with a publishable key and member token, and counts what came back. From the
-- environment, set by bench_support/overload.py:
--   OVERLOAD_BODY, OVERLOAD_KEY, OVERLOAD_TOKEN  the request
--   OVERLOAD_RESULT  file done() writes `name value` lines to
--   OVERLOAD_BACKOFF_MS  how long a refused connection waits before its next request (what
--                        `Retry-After: 1` asks; 0 is a retry storm)

wrk.method = "POST"
wrk.body = os.getenv("OVERLOAD_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("OVERLOAD_KEY")
wrk.headers["X-Member-Token"] = os.getenv("OVERLOAD_TOKEN")

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local backoff_ms = tonumber(os.getenv("OVERLOAD_BACKOFF_MS") or "0")
-- Refusals not yet waited for: each makes one connection's next request wait (wrk asks delay()
-- before a connection's next request, soon after that connection's response()).
backoffs_owed = 0

answered = 0
refused = 0
other = 0
longest_wait_ms = 0

function response(status, headers, body)
   if status == 200 then
      answered = answered + 1
      local timing = headers["Server-Timing"] or headers["server-timing"]
      if timing ~= nil then
         local wait = tonumber(string.match(timing, "dur=([%d%.]+)"))
         if wait ~= nil and wait > longest_wait_ms then
            longest_wait_ms = wait
         end
      end
   elseif status == 503 then
      refused = refused + 1
      backoffs_owed = backoffs_owed + 1
   else
      other = other + 1
   end
end

function delay()
   if backoffs_owed > 0 then
      backoffs_owed = backoffs_owed - 1
      return backoff_ms
   end
   return 0
end

function done(summary, latency, requests)
   local totals = { answered = 0, refused = 0, other = 0, longest_wait_ms = 0 }
   for _, thread in ipairs(threads) do
      totals.answered = totals.answered + thread:get("answered")
      totals.refused = totals.refused + thread:get("refused")
      totals.other = totals.other + thread:get("other")
      totals.longest_wait_ms = math.max(totals.longest_wait_ms, thread:get("longest_wait_ms"))
   end
   local out = io.open(os.getenv("OVERLOAD_RESULT"), "w")
   out:write(string.format("answered %d\n", totals.answered))
   out:write(string.format("refused %d\n", totals.refused))
   out:write(string.format("other %d\n", totals.other))
   out:write(string.format("errors %d\n", summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
   out:write(string.format("longest_wait_ms %.1f\n", totals.longest_wait_ms))
   out:write(string.format("seconds %.3f\n", summary.duration / 1e6))
   out:write(string.format("p50_ms %.2f\n", latency:percentile(50) / 1000))
   out:write(string.format("p99_ms %.2f\n", latency:percentile(99) / 1000))
   out:write(string.format("max_ms %.2f\n", latency.max / 1000))
   out:close()
end
