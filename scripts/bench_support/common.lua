-- Shared by record_order.lua and member_status.lua (wrk runs each script in every thread's own
-- Lua state and once more in the main thread). Everything comes from BENCH_* environment
-- variables set by bench_support/main.py:
--   BENCH_KEY     the secret API key (sent as `Authorization: Bearer ...`)
--   BENCH_RESULT  file that done() writes its `name value` lines to
--   BENCH_IDS     optional file that done() writes the acknowledged order ids to, one a line
--   BENCH_SEED    extra random seed, so two runs draw different members

bench = {}

function bench.env(name)
   local value = os.getenv(name)
   if value == nil or value == "" then
      error("scripts/bench: " .. name .. " is not set")
   end
   return value
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. bench.env("BENCH_KEY")

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("thread_id", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   ok = 0
   bad = 0
   replayed = 0
   first_bad = ""
   acked_ids = {}
   math.randomseed(os.time() + 7919 * thread_id + tonumber(os.getenv("BENCH_SEED") or "0"))
   if bench.init then
      bench.init()
   end
end

-- bench.accept(body) returns false for a refused answer, true for an acknowledged one, or the
-- acknowledged order id (a string) when the scenario tracks them.
function response(status, headers, body)
   local accepted = false
   if status == 200 and body then
      accepted = bench.accept(body)
   end
   if accepted then
      ok = ok + 1
      if type(accepted) == "string" then
         acked_ids[#acked_ids + 1] = accepted
      end
   else
      bad = bad + 1
      if first_bad == "" then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 600)
      end
   end
end

function done(summary, latency, requests)
   local ok_total, bad_total, replayed_total, sample = 0, 0, 0, ""
   local ids_path = os.getenv("BENCH_IDS")
   local ids = ids_path and ids_path ~= "" and io.open(ids_path, "w") or nil
   for _, thread in ipairs(threads) do
      ok_total = ok_total + thread:get("ok")
      bad_total = bad_total + thread:get("bad")
      replayed_total = replayed_total + thread:get("replayed")
      if sample == "" then
         sample = thread:get("first_bad")
      end
      if ids then
         for _, id in ipairs(thread:get("acked_ids")) do
            ids:write(id, "\n")
         end
      end
   end
   if ids then
      ids:close()
   end
   local out = io.open(bench.env("BENCH_RESULT"), "w")
   local errors = summary.errors
   out:write(string.format("requests %d\n", summary.requests))
   out:write(string.format("duration_us %d\n", summary.duration))
   out:write(string.format("p50_us %d\n", latency:percentile(50)))
   out:write(string.format("p99_us %d\n", latency:percentile(99)))
   out:write(string.format("max_us %d\n", latency.max))
   out:write(string.format("ok %d\n", ok_total))
   out:write(string.format("bad %d\n", bad_total))
   out:write(string.format("replayed %d\n", replayed_total))
   out:write(string.format("connect_errors %d\n", errors.connect))
   out:write(string.format("read_errors %d\n", errors.read))
   out:write(string.format("write_errors %d\n", errors.write))
   out:write(string.format("status_errors %d\n", errors.status))
   out:write(string.format("timeouts %d\n", errors.timeout))
   out:close()
   if sample ~= "" then
      local bad_out = io.open(bench.env("BENCH_RESULT") .. ".bad", "w")
      bad_out:write(sample)
      bad_out:close()
   end
end
