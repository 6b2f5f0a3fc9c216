-- wrk script: GET one order detail per request, its id drawn at random from the file named
-- by OPTIHUB_BENCH_IDS (one order id a line). Headers given with -H are kept (wrk.format).
local ids = {}
for line in io.lines(os.getenv("OPTIHUB_BENCH_IDS")) do
  if #line > 0 then
    ids[#ids + 1] = line
  end
end
assert(#ids > 0, "no order ids in " .. tostring(os.getenv("OPTIHUB_BENCH_IDS")))
math.randomseed(os.time())

request = function()
  return wrk.format("GET", "/api/v1/partner/orders/" .. ids[math.random(#ids)])
end
