-- wrk -t2 -c32 -d10s -s bench/intake_wrk.lua http://127.0.0.1:PORT  (shipwise serve with
-- webhooks.secret: "0123456789abcdef0123"); distinct generic alarms over 50 entities.
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"entity": "svc-%d", "metric": "error_rate", "time": %d, "id": "wrk-%d-%d"}', counter % 50, 1790000000 + counter, counter, math.random(1, 1000000000))
  return wrk.format("POST", "/webhooks/generic", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer 0123456789abcdef0123"}, body)
end
