-- wrk script: replay pre-generated request bodies, one line each, and count answers that carry a success code.
-- Arguments (after --): bodies-file path method token cycle
--   cycle = "1": reuse bodies round-robin (reads); "0": each body once (writes with unique ref_id/sync_code);
--   running out of bodies counts as an error, so a run can never silently repeat a write.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[6])
  req_path, req_method, token, cycle = args[2], args[3], args[4], args[5] == "1"
  bodies = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then bodies[#bodies + 1] = line end
    i = i + 1
  end
  idx, ok, bad, exhausted, sample = 0, 0, 0, 0, ""
end

function request()
  idx = idx + 1
  if idx > #bodies then
    if cycle then idx = 1 else exhausted = exhausted + 1; idx = #bodies end
  end
  local headers = { ["Content-Type"] = "application/json" }
  if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
  local body = bodies[idx]
  if req_method == "GET" then body = nil end
  return wrk.format(req_method, req_path, headers, body)
end

function response(status, headers, body)
  if status == 200 and (string.find(body, '"code":"SUCCESS"', 1, true) or string.find(body, '"code":"000"', 1, true)
      or string.find(body, '"status":"ok"', 1, true)) then
    ok = ok + 1
  else
    bad = bad + 1
    if sample == "" then sample = tostring(status) .. " " .. string.sub(body, 1, 300) end
  end
end

function done(summary, latency, requests)
  local o, b, x, s = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); b = b + t:get("bad"); x = x + t:get("exhausted")
    if s == "" then s = t:get("sample") end
  end
  s = s:gsub('[\\"]', "'"):gsub("[%c]", " ")
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"ok":%d,"bad":%d,"exhausted":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"timeout":%d,"status":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"sample":"%s"}\n',
    summary.requests, summary.duration, o, b, x, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, s))
end
