-- The official SDKs against the emulator, unchanged apart from their base URLs and a test CA:
-- @azure/msal-node acquires a token by client credentials, @microsoft/microsoft-graph-client pages
-- through every device with its PageIterator, unassigns one device and sends a $batch.
-- The npm packages: spec/support/npm_sdk.lua.
local cjson = require "cjson"
local emulator = require "autopilot.emulator"
local files = require "files"
local npm_sdk = require "npm_sdk"
local shell = require "shell"
local tls = require "tls"

local q, sh = shell.quote, shell.run

local SCRIPT = [[
const msal = require('@azure/msal-node');
const { Client, PageIterator, BatchResponseContent } = require('@microsoft/microsoft-graph-client');
const [base, tenant, clientId, secret, host] = process.argv.slice(2);
(async () => {
  const out = {};
  const cca = new msal.ConfidentialClientApplication({
    auth: { clientId, clientSecret: secret, authority: `${base}/${tenant}`, knownAuthorities: [host] } });
  const tok = await cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
  out.token_type = tok.tokenType;
  const client = Client.init({ baseUrl: base, defaultVersion: 'v1.0', customHosts: new Set(['127.0.0.1']),
    authProvider: (done) => done(null, tok.accessToken) });
  const path = '/deviceManagement/windowsAutopilotDeviceIdentities';
  const first = await client.api(path).top(100).get();
  const ids = new Set();
  let items = 0;
  const it = new PageIterator(client, first, (d) => { items++; ids.add(d.id); return true; });
  await it.iterate();
  out.items = items;
  out.unique = ids.size;
  const target = first.value.find((d) => d.userPrincipalName !== '');
  await client.api(`${path}/${target.id}/unassignUserFromDevice`).post({});
  const after = await client.api(`${path}/${target.id}`).get();
  out.unassigned = target.id;
  out.after_upn = after.userPrincipalName;
  const requests = first.value.slice(0, 3)
    .map((d, i) => ({ id: String(i + 1), method: 'GET', url: `${path}/${d.id}` }));
  requests.push({ id: '4', method: 'POST', url: `${path}/${first.value[3].id}/unassignUserFromDevice`,
    headers: { 'Content-Type': 'application/json' }, body: {} });
  const resp = await client.api('/$batch').post({ requests });
  const br = new BatchResponseContent(resp);
  out.batch = {};
  for (const [id, r] of br.getResponses()) out.batch[id] = r.status;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e && (e.stack || JSON.stringify(e))); process.exit(1); });
]]

local dir, sdk_missing = npm_sdk.install("", "@microsoft/microsoft-graph-client@3 @azure/msal-node@2",
  "@microsoft/microsoft-graph-client/package.json")
local sdk_ready = dir ~= nil

describe("official SDKs against the emulator", function()
  if not sdk_ready then
    pending(sdk_missing)
    return
  end

  local tls_dir, emu
  setup(function()
    files.write(dir .. "/run.js", SCRIPT)
    tls_dir = files.tempdir()
    assert.truthy(tls.self_signed(tls_dir, "c", { cn = "127.0.0.1", loopback = true }))
    emu = assert(emulator.start({ devices = 250, seed = 31, tls_cert = tls_dir .. "/c.crt",
      tls_key = tls_dir .. "/c.key" }))
  end)
  teardown(function()
    if emu then emu:stop() end
    files.remove(tls_dir)
  end)

  it("gets a token with msal-node, pages, unassigns and batches with the Graph client", function()
    local hostport = emu.url:match("^https://(.*)$")
    local out, code = sh("cd " .. q(dir) .. " && NODE_EXTRA_CA_CERTS=" .. q(tls_dir .. "/c.crt") .. " node run.js "
      .. q(emu.url) .. " " .. q(emu.tenant) .. " " .. q(emu.client_id) .. " " .. q(emu.client_secret) .. " "
      .. q(hostport) .. " 2>&1")
    assert(code == 0, "node failed: " .. out)
    local r = cjson.decode(out:match("(%b{})%s*$"))
    assert.equal("Bearer", r.token_type)
    assert.equal(250, r.unique)
    assert.is_true(r.items > r.unique) -- the inclusive cursor repeats each boundary device
    assert.equal("", r.after_upn)
    assert.equal("", emu:state({ device = r.unassigned }).device.userPrincipalName)
    assert.same({ ["1"] = 200, ["2"] = 200, ["3"] = 200, ["4"] = 204 }, r.batch)
    local st = emu:state({ devices = false })
    assert.is_true(st.counters.list["200"] >= 3)
    assert.equal(1, st.counters.batch["200"])
  end)
end)
