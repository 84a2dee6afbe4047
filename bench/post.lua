-- wrk script: POST a form body (BODY) with optional Basic auth (AUTH) and
-- optional Bearer token (BEARER), all from the environment.
wrk.method = "POST"
wrk.body = os.getenv("BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = "Basic " .. auth end
local bearer = os.getenv("BEARER")
if bearer and bearer ~= "" then
  wrk.method = "GET"
  wrk.body = nil
  wrk.headers["Content-Type"] = nil
  wrk.headers["Authorization"] = "Bearer " .. bearer
end
