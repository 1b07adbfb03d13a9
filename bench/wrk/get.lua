-- GET one path, rotating over the tokens in $BENCH_TOKENS (one a line) if given.
-- Any answer outside 2xx is counted and reported: it makes the run invalid.
local threads = {}
local requests = {}
local index = 1
non2xx = 0

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_PATH") or "/"
  local tokens = os.getenv("BENCH_TOKENS")
  if tokens and tokens ~= "" then
    for line in io.lines(tokens) do
      if line ~= "" then
        requests[#requests + 1] = wrk.format("GET", path, { ["X-Session-Token"] = line })
      end
    end
  else
    requests[1] = wrk.format("GET", path)
  end
  -- Each thread starts elsewhere in the list, so threads do not ask in step.
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
  -- The tail at every tenth of a percent from p90: runs' tails merge into one p99.
  local tail = {}
  for tenth = 900, 999 do
    tail[#tail + 1] = string.format("%d", latency:percentile(tenth / 10))
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"tail_us":[%s]}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(tail, ",")))
end
