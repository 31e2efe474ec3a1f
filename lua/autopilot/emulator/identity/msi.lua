--- Managed identity endpoints of the emulated platform: the App Service / Functions / Automation style
-- (`IDENTITY_ENDPOINT` = `{base}/msi/token`, header `X-IDENTITY-HEADER`, api-version 2019-08-01) and the
-- VM style (IMDS path `/metadata/identity/oauth2/token`, header `Metadata: true`, api-version 2018-02-01).
-- Both issue app-only Graph tokens for the system-assigned identity, or a user-assigned one by `client_id`.
-- @module autopilot.emulator.identity.msi
local core = require("autopilot.emulator.identity.core")
local tokens = require("autopilot.emulator.identity.tokens")
local jwt = require("autopilot.emulator.jwt")

local M = {}

M.IMDS_VERSIONS = { ["2018-02-01"] = true, ["2018-04-02"] = true, ["2018-10-01"] = true, ["2019-02-01"] = true,
  ["2019-03-11"] = true, ["2019-04-30"] = true, ["2019-06-01"] = true, ["2019-06-04"] = true,
  ["2019-08-01"] = true, ["2019-08-15"] = true, ["2019-11-01"] = true, ["2020-06-01"] = true,
  ["2020-09-01"] = true, ["2020-10-01"] = true, ["2020-12-01"] = true, ["2021-01-01"] = true,
  ["2021-02-01"] = true, ["2021-03-01"] = true, ["2021-05-01"] = true, ["2021-10-01"] = true }

local function count(idp, kind)
  local by = idp.stats.by_grant
  by[kind] = (by[kind] or 0) + 1
end

local function record(idp, now, kind, status)
  local list = idp.stats.errors
  list[#list + 1] = { time = now, endpoint = kind, status = status }
  if #list > core.ERRORS_KEPT then table.remove(list, 1) end
end

-- App Service's error shape.
local function app_service_error(idp, now, status, message)
  record(idp, now, "managed_identity", status)
  return core.json(status, { statusCode = status, message = message, correlationId = core.guid(idp) })
end

-- IMDS's error shape.
local function imds_error(idp, now, status, err, description)
  record(idp, now, "imds", status)
  return core.json(status, { error = err, error_description = description })
end

local function identity_for(idp, q)
  local id = q.client_id or q.object_id or q.principal_id
  if not id then return idp.msi.system end
  id = id:lower()
  for _, mi in ipairs(idp.msi.identities) do
    if mi.client_id == id or mi.oid == id then return mi end
  end
  return nil
end

local function issue(idp, now, mi, resource)
  local token, life = tokens.access(idp, now, { app = mi, roles = mi.roles, aud = resource, appidacr = "2" })
  local epoch = core.epoch(idp, now)
  return token, life, epoch
end

--- GET /msi/token (IDENTITY_ENDPOINT style).
-- @tparam table idp
-- @tparam table req
-- @tparam number now
-- @tparam table q the decoded query
-- @treturn table host reply
function M.app_service(idp, req, now, q)
  if req.method ~= "GET" then return app_service_error(idp, now, 405, "Only GET is supported.") end
  local header = req.headers and req.headers["x-identity-header"]
  if not header then
    return app_service_error(idp, now, 400, "The X-IDENTITY-HEADER request header is missing.")
  end
  if not jwt.equal(header, idp.msi.header) then
    return app_service_error(idp, now, 401, "The X-IDENTITY-HEADER request header is not valid.")
  end
  if q["api-version"] ~= "2019-08-01" then
    return app_service_error(idp, now, 400, "api-version '" .. tostring(q["api-version"])
      .. "' is not supported: use 2019-08-01.")
  end
  if not q.resource then return app_service_error(idp, now, 400, "Required query variable 'resource' is missing.") end
  if not core.is_graph(idp, q.resource) then
    return app_service_error(idp, now, 400, "The resource '" .. q.resource .. "' is not known here: "
      .. "request the Graph resource " .. idp.graph_resource .. ".")
  end
  local mi = identity_for(idp, q)
  if not mi then return app_service_error(idp, now, 400, "Unable to load the proper Managed Identity.") end
  local token, life, epoch = issue(idp, now, mi, q.resource)
  count(idp, "managed_identity")
  return core.json(200, { access_token = token, expires_on = tostring(epoch + life), resource = q.resource,
    token_type = "Bearer", client_id = mi.client_id })
end

--- GET /metadata/identity/oauth2/token (IMDS style).
-- @tparam table idp
-- @tparam table req
-- @tparam number now
-- @tparam table q the decoded query
-- @treturn table host reply
function M.imds(idp, req, now, q)
  if req.method ~= "GET" then return imds_error(idp, now, 405, "invalid_request", "Only GET is supported.") end
  local md = req.headers and req.headers.metadata
  if not md or md:lower() ~= "true" then
    return imds_error(idp, now, 400, "invalid_request", "Required metadata header not specified")
  end
  if not q["api-version"] then
    return imds_error(idp, now, 400, "invalid_request", "Required api-version parameter not specified")
  end
  if not M.IMDS_VERSIONS[q["api-version"]] then
    return imds_error(idp, now, 400, "invalid_request", "Invalid api-version")
  end
  if not q.resource then
    return imds_error(idp, now, 400, "invalid_request", "Required audience parameter not specified")
  end
  if not core.is_graph(idp, q.resource) then
    return imds_error(idp, now, 400, "invalid_resource", "AADSTS500011: The resource principal named "
      .. q.resource .. " was not found in the tenant named " .. idp.tenant_domain .. ".")
  end
  local mi = identity_for(idp, q)
  if not mi then return imds_error(idp, now, 400, "invalid_request", "Identity not found") end
  local token, life, epoch = issue(idp, now, mi, q.resource)
  count(idp, "imds")
  return core.json(200, { access_token = token, client_id = mi.client_id, expires_in = tostring(life),
    expires_on = tostring(epoch + life), ext_expires_in = tostring(life), not_before = tostring(epoch),
    resource = q.resource, token_type = "Bearer", refresh_token = "" })
end

return M
