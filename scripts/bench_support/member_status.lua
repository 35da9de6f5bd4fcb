-- wrk script: the member-status query (balances and the last 10 activities) for a member drawn
-- at random from BENCH_MEMBER_IDS (a file of global member ids, one a line; a file with one
-- line pins every request to that member, under the same load). BENCH_DOCUMENT is the query.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local DOCUMENT = bench.env("BENCH_DOCUMENT")  -- bench_support/documents.py
local BODY = '{"query":"' .. DOCUMENT .. '","variables":{"id":"%s"}}'

local ids = {}

function bench.init()
   for line in io.lines(bench.env("BENCH_MEMBER_IDS")) do
      if line ~= "" then
         ids[#ids + 1] = line
      end
   end
   if #ids == 0 then
      error("scripts/bench: BENCH_MEMBER_IDS is empty")
   end
end

function request()
   local body = string.format(BODY, ids[math.random(1, #ids)])
   return wrk.format(nil, nil, nil, body)
end

function bench.accept(body)
   return string.find(body, '"member":{"id":', 1, true) ~= nil
      and string.find(body, '"errors":', 1, true) == nil
end
