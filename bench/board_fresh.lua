-- wrk script: GET the page named on the command line with one more query parameter, which
-- the page ignores, different on every request: no request can be answered from a kept copy
-- of the page, so each one is rendered. Headers given with -H are kept (wrk.format).
local n = 0
request = function()
  n = n + 1
  local sep = string.find(wrk.path, "?", 1, true) and "&" or "?"
  return wrk.format("GET", wrk.path .. sep .. "fresh=" .. n)
end
