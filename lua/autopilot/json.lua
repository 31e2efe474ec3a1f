--- The one JSON instance of the client's Lua modules: a private `cjson.safe` (decode returns `nil, msg`
-- instead of raising) with cjson's default settings, so no setting of ours changes another module's `cjson`
-- and no module of ours can change another's.
-- @module autopilot.json
return require("cjson.safe").new()
