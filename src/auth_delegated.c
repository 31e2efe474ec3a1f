/*
 * lua-autopilot: delegated sign-in (an administrator's own account). A refresh token, when there is
 * one, is redeemed first and rotated (each new one goes to the token cache's Lua callback). Without
 * one, or when it is refused and signing in interactively is allowed, the device code flow runs:
 * the devicecode endpoint's reply goes to the caller's Lua function (called between multi iterations
 * under lua_pcall, never from a curl callback), then the token endpoint is polled every `interval`
 * seconds as a transfer whose earliest start is set, so the engine sleeps in curl_multi_poll:
 * authorization_pending polls again, slow_down adds 5 seconds, anything else ends the sign-in with
 * the service's answer.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define DEFAULT_INTERVAL 5.0
#define MAX_CODE_LIFETIME 86400.0 /* seconds */
#define SLOW_DOWN_STEP 5.0

ap_xfer *ap_auth_delegated_request(ap_session *s)
{
    ap_auth *a = &s->auth;
    ap_buf form = {0};
    form.secret = 1;
    const char *url = a->token_url;
    int bad;
    if (a->device_code) {
        a->step = AP_STEP_DEVICE_POLL;
        bad = ap_auth_form_append(&form, "grant_type", DEVICE_GRANT) ||
              ap_auth_form_append(&form, "client_id", a->client_id) ||
              ap_auth_form_append(&form, "device_code", a->device_code);
    } else if (a->refresh_token || !a->devicecode_url) {
        a->step = AP_STEP_REFRESH;
        bad = ap_auth_form_append(&form, "grant_type", "refresh_token") ||
              ap_auth_form_append(&form, "client_id", a->client_id) ||
              ap_auth_form_append(&form, "refresh_token", a->refresh_token ? a->refresh_token : "") ||
              ap_auth_form_append(&form, "scope", a->scope);
    } else {
        a->step = AP_STEP_DEVICECODE;
        url = a->devicecode_url;
        bad = ap_auth_form_append(&form, "client_id", a->client_id) ||
              ap_auth_form_append(&form, "scope", a->scope);
    }
    if (bad) {
        ap_buf_free(&form, 1);
        return NULL;
    }
    return ap_auth_post(s, url, &form);
}

/* ---- Lua side, always under lua_pcall ---------------------------------------------------------- */

/* (callback, rt | nil) -> replacement | nil: hands a new refresh token to the token cache, or (nil) says
 * the one we hold was refused; the cache then answers with a newer one another process stored, if any. */
static int call_persist(lua_State *L)
{
    const char *rt = lua_touserdata(L, 2);
    lua_pushvalue(L, 1);
    if (rt)
        lua_pushstring(L, rt);
    else
        lua_pushboolean(L, 0);
    lua_call(L, 1, 1);
    return 1;
}

char *ap_auth_persist_refresh(lua_State *L, ap_session *s, const char *rt)
{
    (void)s;
    char *newer = NULL;
    if (lua_getiuservalue(L, 1, AP_UV_AUTH) != LUA_TTABLE) {
        lua_pop(L, 1);
        return NULL;
    }
    lua_pushcfunction(L, call_persist);
    if (lua_getfield(L, -2, "on_refresh_token") == LUA_TFUNCTION) {
        lua_pushlightuserdata(L, (void *)rt);
        if (lua_pcall(L, 2, 1, 0) == LUA_OK && !rt && lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *v = lua_tolstring(L, -1, &n);
            if (n > 0 && strlen(v) == n)
                newer = strdup(v);
        }
        lua_pop(L, 2); /* the result or the error (the cache records its own errors), the table */
    } else {
        lua_pop(L, 3);
    }
    return newer;
}

static const char *string_field(lua_State *L, int t, const char *k, int required)
{
    lua_getfield(L, t, k);
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1); /* the table keeps it */
    if (!v && required)
        luaL_error(L, "the devicecode reply has no %s", k);
    return v;
}

static double number_field(lua_State *L, int t, const char *k, double dflt)
{
    lua_getfield(L, t, k);
    int isnum = 0;
    double v = lua_tonumberx(L, -1, &isnum);
    lua_pop(L, 1);
    return isnum && v > 0 ? v : dflt;
}

static void push_seconds(lua_State *L, double v)
{
    if (v == floor(v) && v < 1e15)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
}

/* (decode, body, callback) -> device_code, interval, expires_in. Calls callback(info). */
static int device_code_reply(lua_State *L)
{
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return luaL_error(L, "the devicecode reply is not JSON");
    int t = lua_gettop(L);
    const char *device_code = string_field(L, t, "device_code", 1);
    const char *user_code = string_field(L, t, "user_code", 1);
    const char *uri = string_field(L, t, "verification_uri", 0);
    if (!uri)
        uri = string_field(L, t, "verification_url", 1);
    const char *message = string_field(L, t, "message", 0);
    double interval = number_field(L, t, "interval", DEFAULT_INTERVAL);
    double expires_in = number_field(L, t, "expires_in", 900);
    /* a reply with absurd times must not park the session forever: a code lives a day at most, and is
     * polled at least once before it expires */
    if (expires_in > MAX_CODE_LIFETIME)
        expires_in = MAX_CODE_LIFETIME;
    if (interval > expires_in)
        interval = expires_in;
    lua_pushvalue(L, 3);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, user_code);
    lua_setfield(L, -2, "user_code");
    lua_pushstring(L, uri);
    lua_setfield(L, -2, "verification_uri");
    if (message)
        lua_pushstring(L, message);
    else
        lua_pushfstring(L,
                        "To sign in, use a web browser to open the page %s and enter the code %s to "
                        "authenticate.",
                        uri, user_code);
    lua_setfield(L, -2, "message");
    push_seconds(L, expires_in);
    lua_setfield(L, -2, "expires_in");
    push_seconds(L, interval);
    lua_setfield(L, -2, "interval");
    lua_call(L, 1, 0);
    lua_pushstring(L, device_code);
    lua_pushnumber(L, interval);
    lua_pushnumber(L, expires_in);
    return 3;
}

/* decode(body).error, a string or nothing. */
static int oauth_error(lua_State *L)
{
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return 0;
    lua_getfield(L, -1, "error");
    return lua_type(L, -1) == LUA_TSTRING ? 1 : 0;
}

/* Copies the reply's OAuth `error` into out ("" when none). */
static void error_of(lua_State *L, const ap_xfer *t, char *out, size_t size)
{
    out[0] = '\0';
    if (t->code != CURLE_OK || !t->resp_body.data)
        return;
    lua_pushcfunction(L, oauth_error);
    lua_getiuservalue(L, 1, AP_UV_DECODE);
    lua_pushlstring(L, t->resp_body.data, t->resp_body.len);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
        snprintf(out, size, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* ---- the steps ----------------------------------------------------------------------------------- */

/* Ends the sign-in with a reply of our own making: `{"error": code, "error_description": text}`. */
static void fail_with(ap_session *s, const char *code, const char *text)
{
    ap_buf b = {0};
    int bad = ap_buf_append(&b, "{\"error\":\"", 10) || ap_buf_append(&b, code, strlen(code)) ||
              ap_buf_append(&b, "\",\"error_description\":\"", 23);
    for (const unsigned char *p = (const unsigned char *)text; *p && !bad; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\')
            snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", *p);
        else
            esc[0] = (char)*p, esc[1] = '\0';
        bad = ap_buf_append(&b, esc, strlen(esc));
    }
    if (!bad)
        bad = ap_buf_append(&b, "\"}", 2);
    ap_auth_fail_waiters(s, 0, CURLE_OK, "", bad ? "" : b.data, bad ? 0 : b.len);
    ap_buf_free(&b, 0);
}

/* Queues the next step's request (at `at`, monotonic); 0 when out of memory. */
static int next_step(ap_session *s, double at)
{
    ap_xfer *n = ap_auth_request(s);
    if (!n)
        return 0;
    n->state = AP_XS_QUEUED;
    n->not_before = at;
    s->auth.fetch = n;
    return 1;
}

static void fail_reply(ap_session *s, const ap_xfer *t)
{
    ap_auth_fail_waiters(s, t->status, t->code, t->errbuf, t->resp_body.data ? t->resp_body.data : "",
                         t->resp_body.len);
}

static void succeeded(ap_session *s)
{
    for (ap_xfer *x = s->queued.head; x; x = x->next)
        x->awaiting_token = 0;
}

static void devicecode_done(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    ap_auth *a = &s->auth;
    if (t->code != CURLE_OK || t->status != 200) {
        fail_reply(s, t);
        return;
    }
    lua_pushcfunction(L, device_code_reply);
    lua_getiuservalue(L, 1, AP_UV_DECODE);
    lua_pushlstring(L, t->resp_body.data ? t->resp_body.data : "", t->resp_body.len);
    lua_getiuservalue(L, 1, AP_UV_AUTH);
    lua_getfield(L, -1, "on_device_code");
    lua_remove(L, -2);
    if (lua_pcall(L, 3, 3, 0) != LUA_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "device code sign-in stopped: %s",
                 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                : "the device_code function raised an error");
        lua_pop(L, 1);
        fail_with(s, "device_code_callback_failed", msg);
        return;
    }
    size_t n = 0;
    const char *dc = lua_tolstring(L, -3, &n);
    double interval = lua_tonumber(L, -2), expires_in = lua_tonumber(L, -1);
    ap_auth_wipe_free(&a->device_code);
    a->device_code = dc && n == strlen(dc) ? strdup(dc) : NULL;
    lua_pop(L, 3);
    if (!a->device_code) {
        fail_with(s, "invalid_response", "the devicecode reply holds an unusable device_code");
        return;
    }
    a->dc_interval = interval;
    a->dc_expires = now + expires_in;
    if (!next_step(s, now + interval))
        fail_with(s, "out_of_memory", "not enough memory to poll for the device code sign-in");
}

static void poll_done(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    ap_auth *a = &s->auth;
    if (t->code == CURLE_OK && t->status == 200 && ap_auth_take_token(L, s, t, now)) {
        ap_auth_wipe_free(&a->device_code);
        succeeded(s);
        return;
    }
    char err[64];
    error_of(L, t, err, sizeof err);
    int pending = strcmp(err, "authorization_pending") == 0, slow = strcmp(err, "slow_down") == 0;
    if (pending || slow) {
        if (slow)
            a->dc_interval += SLOW_DOWN_STEP;
        if (now > a->dc_expires + 2 * a->dc_interval + 30) { /* the service should have said expired_token */
            ap_auth_wipe_free(&a->device_code);
            fail_with(s, "expired_token", "the device code expired before the sign-in was completed");
            return;
        }
        if (next_step(s, now + a->dc_interval))
            return;
    }
    /* declined, expired, bad code, or anything else: this sign-in is over; the next call starts anew */
    ap_auth_wipe_free(&a->device_code);
    fail_reply(s, t);
}

static void refresh_done(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    ap_auth *a = &s->auth;
    if (t->code == CURLE_OK && t->status == 200 && ap_auth_take_token(L, s, t, now)) {
        a->newer_tried = 0;
        succeeded(s);
        return;
    }
    char err[64];
    error_of(L, t, err, sizeof err);
    if (strcmp(err, "invalid_grant") == 0) {
        /* refused (expired, revoked, or already used because another process rotated it): the cache may
         * hold that process's newer token; else forget it and sign in again with a device code */
        char *newer = ap_auth_persist_refresh(L, s, NULL);
        if (newer && (a->newer_tried || (a->refresh_token && strcmp(newer, a->refresh_token) == 0)))
            ap_auth_wipe_free(&newer); /* once per sign-in, and never the same one again */
        if (newer) {
            ap_auth_wipe_free(&a->refresh_token);
            a->refresh_token = newer;
            a->newer_tried = 1;
            if (next_step(s, now))
                return;
        } else if (a->devicecode_url) {
            ap_auth_wipe_free(&a->refresh_token);
            if (next_step(s, now))
                return;
        }
    }
    a->newer_tried = 0;
    fail_reply(s, t);
}

int ap_auth_delegated_done(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    switch (s->auth.step) {
    case AP_STEP_DEVICECODE:
        devicecode_done(L, s, t, now);
        break;
    case AP_STEP_DEVICE_POLL:
        poll_done(L, s, t, now);
        break;
    default:
        refresh_done(L, s, t, now);
        break;
    }
    ap_xfer_free(t);
    return 1;
}
