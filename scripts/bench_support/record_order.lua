-- wrk script: recordOrder with a unique order id per request, for a random member of the pool.
--   BENCH_NONCE    run nonce: order ids are <nonce>-<thread>-<counter>
--   BENCH_MEMBERS  pool size; customer ids are <BENCH_PREFIX><index, 5 digits>
--   BENCH_PREFIX, BENCH_PROGRAM, BENCH_CURRENCY
--   BENCH_DOCUMENT the recordOrder document (fixed: Strawberry's caches hit; variables change)
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local DOCUMENT = bench.env("BENCH_DOCUMENT")  -- bench_support/documents.py
local BODY = '{"query":"' .. DOCUMENT .. '","variables":{"input":{'
   .. '"programSlug":"' .. bench.env("BENCH_PROGRAM") .. '",'
   .. '"currency":"' .. bench.env("BENCH_CURRENCY") .. '",'
   .. '"customerId":"' .. bench.env("BENCH_PREFIX") .. '%05d",'
   .. '"orderId":"%s","totalMinor":%d,"shippingMinor":495,"taxMinor":0,"discountMinor":0,'
   .. '"placedAt":"2025-01-15T10:00:00Z","lines":['
   .. '{"sku":"SKU-1","category":"apparel","quantity":%d,"unitPriceMinor":%d},'
   .. '{"sku":"SKU-2","quantity":1,"unitPriceMinor":%d}]}}}'

local nonce = bench.env("BENCH_NONCE")
local members = tonumber(bench.env("BENCH_MEMBERS"))
local counter = 0

function request()
   counter = counter + 1
   local quantity = math.random(1, 3)
   local price = math.random(500, 5000)
   local second = math.random(100, 2000)
   local total = quantity * price + second + 495
   local order_id = string.format("%s-%d-%d", nonce, thread_id, counter)
   local body = string.format(
      BODY, math.random(0, members - 1), order_id, total, quantity, price, second)
   return wrk.format(nil, nil, nil, body)
end

function bench.accept(body)
   if not string.find(body, '"order":{', 1, true)
      or string.find(body, '"userErrors":[{', 1, true)
      or string.find(body, '"errors":', 1, true) then
      return false
   end
   if string.find(body, '"alreadyRecorded":true', 1, true) then
      replayed = replayed + 1
   end
   return string.match(body, '"orderId":"([^"]+)"') or true
end
