-- POST /auth/login as JSON, rotating over the logins in $BENCH_ACCOUNTS (one a line),
-- all with the password $BENCH_PASSWORD. Every account is seeded and active, so any
-- answer outside 2xx (a wrong password, a lockout, a rate limit) makes the run invalid.
local threads = {}
local requests = {}
local index = 1
non2xx = 0

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local password = json_string(os.getenv("BENCH_PASSWORD"))
  local headers = { ["Content-Type"] = "application/json" }
  for login in io.lines(os.getenv("BENCH_ACCOUNTS")) do
    if login ~= "" then
      local body = '{"login":' .. json_string(login) .. ',"password":' .. password .. '}'
      requests[#requests + 1] = wrk.format("POST", "/auth/login", headers, body)
    end
  end
  index = (thread_number * 7919) % #requests + 1
end

function request()
  local r = requests[index]
  index = index % #requests + 1
  return r
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, _)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
