--- JSON batching: `POST /{ver}/$batch` with at most 20 requests, unique ids, relative urls.
-- Each item runs through the same permission, throttling, fault and operation steps as a
-- request of its own (with the batch's token); `dependsOn` runs dependencies first and answers
-- 424 when one failed; answers come back in a shuffled (seeded) order.
-- @module autopilot.emulator.batch
local cjson = require("cjson.safe").new()
local envelope = require "autopilot.emulator.envelope"

local M = {}

M.MAX = 20

local function whole(ctx, message)
  return envelope.error(ctx, 400, "BadRequest", message)
end

--- Validates and runs a batch.
-- @tparam table app the tenant
-- @tparam table ctx the outer request's context (authorized: ctx.claims set)
-- @tparam function run_item function(app, ctx, item_ctx) -> resp, the per-item pipeline
-- @tparam function make_ctx function(ctx, method, url, headers, body) -> item_ctx | nil, message
-- @treturn table resp
function M.handle(app, ctx, run_item, make_ctx)
  local payload = cjson.decode(ctx.body or "")
  if type(payload) ~= "table" or type(payload.requests) ~= "table" then
    return whole(ctx, "Invalid batch payload format.")
  end
  local reqs = payload.requests
  if #reqs == 0 then return whole(ctx, "Invalid batch payload format.") end
  if #reqs > M.MAX then
    return whole(ctx, "Number of batch requests exceeds the limit of " .. M.MAX .. ".")
  end
  local by_id = {}
  for i, r in ipairs(reqs) do
    if type(r) ~= "table" then return whole(ctx, "Invalid batch payload format.") end
    local id = r.id
    if type(id) == "number" then id = tostring(math.tointeger(id) or id) end
    if type(id) ~= "string" or id == "" then return whole(ctx, "Batch request " .. i .. " has no id.") end
    if by_id[id] then return whole(ctx, "Batch request id '" .. id .. "' is duplicated.") end
    if type(r.method) ~= "string" or type(r.url) ~= "string" then
      return whole(ctx, "Batch request '" .. id .. "' needs a method and a url.")
    end
    r._id = id
    by_id[id] = r
  end
  for _, r in ipairs(reqs) do
    local deps = r.dependsOn
    if deps ~= nil then
      if type(deps) == "string" then deps = { deps } end
      if type(deps) ~= "table" then return whole(ctx, "Invalid dependsOn in request '" .. r._id .. "'.") end
      for i, d in ipairs(deps) do
        d = tostring(d)
        if not by_id[d] or d == r._id then
          return whole(ctx, "Request '" .. r._id .. "' depends on unknown request '" .. d .. "'.")
        end
        deps[i] = d
      end
      r._deps = deps
    end
  end
  local results, state = {}, {}
  local function exec(r)
    if state[r._id] == "done" then return results[r._id] end
    if state[r._id] == "running" then return nil, "cycle" end
    state[r._id] = "running"
    local resp
    for _, d in ipairs(r._deps or {}) do
      local dr, cyc = exec(by_id[d])
      if cyc then return nil, cyc end
      if dr.status >= 400 then
        resp = envelope.error(ctx, 424, "FailedDependency", "The request depends on request '" .. d
          .. "', which failed.")
        break
      end
    end
    if not resp then
      local hdrs = type(r.headers) == "table" and r.headers or {}
      local body = r.body
      if type(body) == "table" then body = cjson.encode(body)
      elseif type(body) ~= "string" then body = "" end
      local ictx, err = make_ctx(ctx, r.method:upper(), r.url, hdrs, body)
      if not ictx then
        resp = envelope.error(ctx, 400, "BadRequest", err)
      else
        resp = run_item(app, ctx, ictx)
      end
    end
    results[r._id], state[r._id] = resp, "done"
    return resp
  end
  for _, r in ipairs(reqs) do
    local _, cyc = exec(r)
    if cyc then return whole(ctx, "The dependsOn of request '" .. r._id .. "' forms a cycle.") end
  end
  local out = {}
  for _, r in ipairs(reqs) do
    local resp = results[r._id]
    local item = { id = r._id, status = resp.status, headers = {} }
    local h = resp.headers or {}
    if h["Content-Type"] then item.headers["Content-Type"] = h["Content-Type"] end
    if h["Retry-After"] then item.headers["Retry-After"] = h["Retry-After"] end
    if h["OData-Version"] then item.headers["OData-Version"] = h["OData-Version"] end
    if resp.body and resp.body ~= "" then
      local decoded = cjson.decode(resp.body)
      item.body = decoded ~= nil and decoded or resp.body
    end
    out[#out + 1] = item
  end
  app.rng_batch:shuffle(out)
  return { status = 200, headers = envelope.headers(ctx, envelope.ODATA_JSON),
    body = cjson.encode({ responses = out }) }
end

return M
