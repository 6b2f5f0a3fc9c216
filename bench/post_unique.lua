-- wrk script: POST the body in the file named by OPTIHUB_BENCH_BODY to the URL on the command
-- line, every "{{u}}" in it replaced by a token of lowercase letters that no other request
-- of any run has: new external ids, new patient names, new emails. The token is the run's
-- OPTIHUB_BENCH_RUN (random letters, one value per wrk invocation), the thread's letter and
-- the request's count in letters. Headers given with -H (Authorization, Content-Type, ...)
-- are kept (wrk.format with no headers of its own).
local body_file = assert(os.getenv("OPTIHUB_BENCH_BODY"), "OPTIHUB_BENCH_BODY is not set")
local run = assert(os.getenv("OPTIHUB_BENCH_RUN"), "OPTIHUB_BENCH_RUN is not set")
local handle = assert(io.open(body_file, "rb"))
local template = handle:read("*a")
handle:close()
assert(string.find(template, "{{u}}", 1, true), "no {{u}} in " .. body_file)

local function letters(value)
  local out = ""
  repeat
    local digit = value % 26
    out = string.char(97 + digit) .. out
    value = (value - digit) / 26
  until value == 0
  return out
end

local threads = 0
function setup(thread)
  assert(threads < 26, "at most 26 wrk threads (one letter each)")
  thread:set("thread_letter", string.char(97 + threads))
  threads = threads + 1
end

local count = 0
request = function()
  count = count + 1
  local unique = run .. (thread_letter or "a") .. letters(count)
  local body = string.gsub(template, "{{u}}", unique)
  return wrk.format("POST", nil, nil, body)
end
