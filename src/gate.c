/*
 * lua-autopilot: the gate (gate.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "engine.h"
#include "gate.h"

int ap_gate_pending(const ap_session *s)
{
    return s->auth.rotated != NULL || s->auth.question != AP_ASK_NONE || s->retry_events.count > 0;
}

/* Pushes the named callback of the session's auth table, or nil. */
static int push_callback(lua_State *L, int session_idx, const char *name)
{
    if (lua_getiuservalue(L, session_idx, AP_UV_AUTH) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return 0;
    }
    int t = lua_getfield(L, -1, name);
    lua_remove(L, -2);
    return t == LUA_TFUNCTION;
}

static void push_seconds(lua_State *L, double v)
{
    if (v == floor(v) && v < 1e15)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
}

/* on_device_code(info): 1, or 0 with the error message on the stack. */
static int show_device_code(lua_State *L, int session_idx, const ap_device_code_info *d)
{
    push_callback(L, session_idx, "on_device_code");
    lua_createtable(L, 0, 5);
    lua_pushstring(L, d->user_code);
    lua_setfield(L, -2, "user_code");
    lua_pushstring(L, d->verification_uri);
    lua_setfield(L, -2, "verification_uri");
    if (d->message)
        lua_pushstring(L, d->message);
    else
        lua_pushfstring(
            L, "To sign in, use a web browser to open the page %s and enter the code %s to authenticate.",
            d->verification_uri, d->user_code);
    lua_setfield(L, -2, "message");
    push_seconds(L, d->expires_in);
    lua_setfield(L, -2, "expires_in");
    push_seconds(L, d->interval);
    lua_setfield(L, -2, "interval");
    if (lua_pcall(L, 1, 0, 0) == LUA_OK)
        return 1;
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushliteral(L, "the device_code function raised an error");
    }
    return 0;
}

/* on_refresh_token(rt) persists a rotated token; its errors are the cache's to record. */
static void persist(lua_State *L, int session_idx, const char *rt)
{
    if (!push_callback(L, session_idx, "on_refresh_token")) {
        lua_pop(L, 1);
        return;
    }
    lua_pushstring(L, rt);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}

/* on_refresh_token(false) -> a newer refresh token another process stored, or nothing (pushed: string|nil).
 */
static void ask_newer(lua_State *L, int session_idx)
{
    if (!push_callback(L, session_idx, "on_refresh_token"))
        return; /* the nil pushed stands for "none" */
    lua_pushboolean(L, 0);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

/* on_retry(event) for each retry scheduled since the last step; its errors are ignored (it only reports). */
static void report_retries(lua_State *L, int session_idx, ap_session *s)
{
    ap_retry_event e;
    while (ap_retry_event_take(&s->retry_events, &e)) {
        if (lua_getiuservalue(L, session_idx, AP_UV_ON_RETRY) != LUA_TFUNCTION) {
            lua_pop(L, 1);
            continue;
        }
        ap_retry_event_push(L, &e);
        lua_getiuservalue(L, session_idx, AP_UV_TAGS);
        lua_rawgeti(L, -1, e.id);
        lua_setfield(L, -3, "tag");
        lua_pop(L, 1);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK)
            lua_pop(L, 1);
    }
}

void ap_gate_run(lua_State *L, int session_idx, ap_session *s)
{
    ap_auth *a = &s->auth;
    session_idx = lua_absindex(L, session_idx);
    report_retries(L, session_idx, s);
    if (a->rotated) {
        persist(L, session_idx, a->rotated);
        ap_auth_wipe(&a->rotated);
    }
    if (a->question == AP_ASK_NONE)
        return;
    ap_flow_outcome o;
    if (a->question == AP_ASK_SHOW_DEVICE_CODE) {
        int ok = show_device_code(L, session_idx, &a->shown);
        o = ap_auth_answer(a, ok, ok ? NULL : lua_tostring(L, -1), ap_now());
        if (!ok)
            lua_pop(L, 1);
    } else {
        ask_newer(L, session_idx);
        o = ap_auth_answer(a, lua_isstring(L, -1), lua_tostring(L, -1), ap_now());
        lua_pop(L, 1); /* the answer was copied */
    }
    ap_engine_auth_outcome(s, o, ap_now());
}
