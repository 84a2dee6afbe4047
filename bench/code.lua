-- wrk script: authorization_code exchanges, one code per request from the
-- file CODES (one per line, minted by `oidcbench codes`), Basic auth AUTH,
-- redirect_uri REDIRECT. A run that outlasts its codes sends "exhausted",
-- which oidcd answers 400, and the benchmark script reports the non-2xx.
local codes, i = {}, 0
for line in io.lines(os.getenv("CODES")) do codes[#codes + 1] = line end
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Basic " .. os.getenv("AUTH"),
}
local prefix = "grant_type=authorization_code&redirect_uri=" .. os.getenv("REDIRECT") .. "&code="
request = function()
  i = i + 1
  return wrk.format("POST", nil, headers, prefix .. (codes[i] or "exhausted"))
end
