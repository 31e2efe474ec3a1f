/*
 * lua-autopilot: result tables (result.h).
 */
#include "curl_names.h"
#include "headers.h"
#include "result.h"

static void push_transport(lua_State *L, CURLcode code, const char *msg)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, ap_curl_name(code));
    lua_setfield(L, -2, "code");
    const char *text = msg && *msg ? msg : curl_easy_strerror(code), *hint = ap_curl_hint(code, text);
    if (hint)
        lua_pushfstring(L, "%s (%s)", text, hint);
    else
        lua_pushstring(L, text);
    lua_setfield(L, -2, "message");
}

/* auth = { status, body, transport = { code, message }, error, error_description } */
static void push_auth_failure(lua_State *L, const ap_auth_failure *f)
{
    lua_createtable(L, 0, 4);
    if (f->status > 0) {
        lua_pushinteger(L, f->status);
        lua_setfield(L, -2, "status");
    }
    if (f->body.len > 0) {
        lua_pushlstring(L, f->body.data, f->body.len);
        lua_setfield(L, -2, "body");
    }
    if (f->code != CURLE_OK) {
        push_transport(L, f->code, f->errmsg);
        lua_setfield(L, -2, "transport");
    }
    if (f->error[0]) {
        lua_pushstring(L, f->error);
        lua_setfield(L, -2, "error");
        lua_pushstring(L, f->description);
        lua_setfield(L, -2, "error_description");
    }
}

void ap_push_result(lua_State *L, const ap_xfer *x, int tags_idx)
{
    lua_createtable(L, 0, 12);
    lua_pushinteger(L, x->id);
    lua_setfield(L, -2, "id");
    lua_rawgeti(L, tags_idx, x->id);
    lua_setfield(L, -2, "tag");
    lua_pushstring(L, x->request_guid);
    lua_setfield(L, -2, "client_request_id");
    lua_pushinteger(L, x->attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushnumber(L, x->waited);
    lua_setfield(L, -2, "waited");
    if (x->retry_after >= 0) {
        lua_pushnumber(L, x->retry_after);
        lua_setfield(L, -2, "retry_after");
    }
    ap_push_headers(L, &x->resp_headers);
    lua_setfield(L, -2, "headers");
    if (x->cancelled) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "cancelled");
    }
    if (x->auth_failed) {
        push_auth_failure(L, &x->auth_failure);
        lua_setfield(L, -2, "auth");
    } else if (x->code != CURLE_OK) {
        push_transport(L, x->code, x->errbuf);
        lua_setfield(L, -2, "transport");
    } else {
        lua_pushinteger(L, x->status);
        lua_setfield(L, -2, "status");
        lua_pushlstring(L, x->resp_body.data ? x->resp_body.data : "", x->resp_body.len);
        lua_setfield(L, -2, "body");
    }
}
