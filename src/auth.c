/*
 * lua-autopilot: the session's access token. Either brought by the caller (kind "token") or acquired
 * with client credentials and a secret (kind "client_secret"): fetched lazily by the engine as a
 * transfer of its own, cached, fetched again ahead of expiry, and invalidated by a 401 that says the
 * token is no good. The token endpoint's reply is parsed by the session's `decode` function, called
 * between multi iterations and never from a curl callback. The token and the secret live only in
 * session-owned memory that is wiped when freed; they are never pushed to Lua.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_SCOPE "https://graph.microsoft.com/.default"
#define DEFAULT_LIFETIME 3599.0

static void wipe_free(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void ap_auth_free(ap_auth *a)
{
    wipe_free(&a->access_token);
    wipe_free(&a->client_secret);
    free(a->token_url), a->token_url = NULL;
    free(a->client_id), a->client_id = NULL;
    free(a->scope), a->scope = NULL;
    ap_xfer_free(a->fetch);
    a->fetch = NULL;
}

/* ---- options ------------------------------------------------------------------------------------ */

static int header_safe(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return 0;
    return 1;
}

/* Copies auth.<key> (a non-empty string without control characters) into *dst. Error messages
 * name the key, never the value. */
static void take_string(lua_State *L, int idx, const char *key, char **dst, int required)
{
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL && !required) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TSTRING)
        luaL_error(L, "auth.%s must be a string (got %s)", key, lua_typename(L, t));
    size_t n;
    const char *v = lua_tolstring(L, -1, &n);
    if (n == 0)
        luaL_error(L, "auth.%s must not be empty", key);
    if (!header_safe(v, n))
        luaL_error(L, "auth.%s must not contain control characters", key);
    *dst = malloc(n + 1);
    if (!*dst)
        luaL_error(L, "not enough memory");
    memcpy(*dst, v, n + 1);
    lua_pop(L, 1);
}

int ap_auth_parse(lua_State *L, ap_session *s, int idx)
{
    ap_auth *a = &s->auth;
    if (lua_isnoneornil(L, idx)) {
        a->kind = AP_AUTH_NONE;
        return 0;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "option 'auth' must be a table (got %s)", luaL_typename(L, idx));
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "kind");
    const char *kind = lua_tostring(L, -1);
    if (!kind || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "auth.kind must be a string");
    if (strcmp(kind, "token") == 0) {
        static const char *const keys[] = {"kind", "access_token", NULL};
        lua_pop(L, 1);
        ap_check_keys(L, idx, "auth", keys);
        a->kind = AP_AUTH_TOKEN;
        take_string(L, idx, "access_token", &a->access_token, 1);
        a->gen++;
    } else if (strcmp(kind, "client_secret") == 0) {
        static const char *const keys[] = {"kind", "token_url", "client_id", "client_secret", "scope", NULL};
        lua_pop(L, 1);
        ap_check_keys(L, idx, "auth", keys);
        a->kind = AP_AUTH_CLIENT_SECRET;
        take_string(L, idx, "token_url", &a->token_url, 1);
        if (strncmp(a->token_url, "http://", 7) != 0 && strncmp(a->token_url, "https://", 8) != 0)
            luaL_error(L, "auth.token_url must be an http or https URL");
        take_string(L, idx, "client_id", &a->client_id, 1);
        take_string(L, idx, "client_secret", &a->client_secret, 1);
        take_string(L, idx, "scope", &a->scope, 0);
        if (!a->scope) {
            a->scope = malloc(sizeof DEFAULT_SCOPE);
            if (!a->scope)
                luaL_error(L, "not enough memory");
            memcpy(a->scope, DEFAULT_SCOPE, sizeof DEFAULT_SCOPE);
        }
    } else {
        luaL_error(L, "auth.kind must be \"token\" or \"client_secret\" (got \"%s\")", kind);
    }
    return 0;
}

/* ---- token state -------------------------------------------------------------------------------- */

int ap_auth_needs_token(const ap_session *s)
{
    return s->auth.kind != AP_AUTH_NONE;
}

int ap_auth_usable(const ap_session *s, double now)
{
    const ap_auth *a = &s->auth;
    if (!a->access_token)
        return 0;
    return a->kind == AP_AUTH_TOKEN || now < a->expires_mono;
}

int ap_auth_fresh(const ap_session *s, double now)
{
    const ap_auth *a = &s->auth;
    if (!a->access_token)
        return 0;
    return a->kind == AP_AUTH_TOKEN || now < a->refresh_mono;
}

void ap_auth_invalidate(ap_session *s, unsigned gen)
{
    ap_auth *a = &s->auth;
    if (a->kind != AP_AUTH_CLIENT_SECRET || a->gen != gen)
        return; /* already replaced */
    wipe_free(&a->access_token);
    a->gen++;
    a->expires_mono = a->refresh_mono = a->expires_epoch = 0;
}

static int form_append(ap_buf *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    if (b->len && ap_buf_append(b, "&", 1))
        return -1;
    if (ap_buf_append(b, name, strlen(name)) || ap_buf_append(b, "=", 1))
        return -1;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        char enc[3];
        size_t n = 1;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~') {
            enc[0] = (char)*p;
        } else {
            enc[0] = '%', enc[1] = hex[*p >> 4], enc[2] = hex[*p & 15], n = 3;
        }
        if (ap_buf_append(b, enc, n))
            return -1;
    }
    return 0;
}

ap_xfer *ap_auth_request(ap_session *s)
{
    ap_auth *a = &s->auth;
    ap_xfer *t = ap_xfer_new();
    if (!t)
        return NULL;
    ap_buf form = {0};
    t->kind = AP_XK_TOKEN;
    t->idempotent = 1; /* asking again for a token is harmless */
    strcpy(t->method, "POST");
    t->url = strdup(a->token_url);
    if (!t->url || form_append(&form, "grant_type", "client_credentials") ||
        form_append(&form, "client_id", a->client_id) ||
        form_append(&form, "client_secret", a->client_secret) || form_append(&form, "scope", a->scope)) {
        ap_buf_free(&form, 1);
        ap_xfer_free(t);
        return NULL;
    }
    t->body = form.data; /* ownership moves to the transfer, which wipes it when freed */
    t->body_len = form.len;
    t->has_body = 1;
    ap_guid(t->request_guid);
    return t;
}

/* decode(body) -> access_token, expires_in; run under lua_pcall. */
static int decode_token_reply(lua_State *L)
{
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return 0;
    lua_getfield(L, -1, "access_token");
    lua_getfield(L, -2, "expires_in");
    return 2;
}

/* Takes the token from a 200 reply; 0 when the reply holds none. */
static int take_token(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    ap_auth *a = &s->auth;
    int ok = 0;
    lua_pushcfunction(L, decode_token_reply);
    lua_getiuservalue(L, 1, AP_UV_DECODE);
    lua_pushlstring(L, t->resp_body.data ? t->resp_body.data : "", t->resp_body.len);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
        lua_pop(L, 1);
        return 0;
    }
    size_t n = 0;
    const char *tok = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
    int isnum = 0;
    double life = lua_tonumberx(L, -1, &isnum);
    if (!isnum || !(life > 0))
        life = DEFAULT_LIFETIME;
    if (tok && n > 0 && header_safe(tok, n) && strlen(tok) == n) {
        char *copy = malloc(n + 1);
        if (copy) {
            memcpy(copy, tok, n + 1);
            wipe_free(&a->access_token);
            a->access_token = copy;
            a->gen++;
            /* use it until shortly before it expires; fetch the next one ahead: 10% of the lifetime, at
             * most 5 minutes */
            double ahead = life * 0.1 > 300 ? 300 : life * 0.1;
            double margin = life * 0.02 > 30 ? 30 : life * 0.02;
            a->expires_mono = now + life - margin;
            a->refresh_mono = now + life - ahead;
            a->expires_epoch = ap_epoch() + life;
            s->stats.tokens_fetched++;
            ok = 1;
        }
    }
    lua_pop(L, 2); /* the decoded values still referenced the token: only Lua's GC holds them now */
    return ok;
}

/* A token request ended (its retries are done). On failure every transfer waiting for the token ends
 * with the token endpoint's answer, and nothing of theirs is sent to Graph. */
void ap_auth_on_done(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    s->auth.fetch = NULL;
    if (t->code == CURLE_OK && t->status == 200 && take_token(L, s, t, now)) {
        for (ap_xfer *x = s->queued.head; x; x = x->next)
            x->awaiting_token = 0;
        ap_xfer_free(t);
        return;
    }
    ap_xfer *next;
    for (ap_xfer *x = s->queued.head; x; x = next) {
        next = x->next;
        if (!x->awaiting_token)
            continue;
        x->auth_failed = 1;
        x->auth_status = t->code == CURLE_OK ? t->status : 0;
        x->auth_code = t->code;
        memcpy(x->auth_errmsg, t->errbuf, sizeof x->auth_errmsg);
        ap_buf_reset(&x->auth_body);
        /* a 2xx reply without a usable token may still hold one: never pass it on */
        if (t->code == CURLE_OK && (t->status < 200 || t->status > 299))
            ap_buf_append(&x->auth_body, t->resp_body.data ? t->resp_body.data : "", t->resp_body.len);
        x->awaiting_token = 0;
        ap_list_remove(&s->queued, x);
        x->state = AP_XS_DONE;
        ap_list_push(&s->done, x);
    }
    ap_xfer_free(t);
}

/* decode(body).error.code; run under lua_pcall. */
static int decode_error_code(lua_State *L)
{
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return 0;
    if (lua_getfield(L, -1, "error") != LUA_TTABLE)
        return 0;
    lua_getfield(L, -1, "code");
    return 1;
}

int ap_auth_is_token_error(lua_State *L, const ap_xfer *x)
{
    if (x->code != CURLE_OK || x->status != 401 || !x->resp_body.data)
        return 0;
    int yes = 0;
    lua_pushcfunction(L, decode_error_code);
    lua_getiuservalue(L, 1, AP_UV_DECODE);
    lua_pushlstring(L, x->resp_body.data, x->resp_body.len);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK) {
        const char *code = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        yes = code && strcmp(code, "InvalidAuthenticationToken") == 0;
    }
    lua_pop(L, 1);
    return yes;
}

void ap_push_token_info(lua_State *L, const ap_session *s)
{
    const ap_auth *a = &s->auth;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, a->kind == AP_AUTH_TOKEN           ? "token"
                      : a->kind == AP_AUTH_CLIENT_SECRET ? "client_secret"
                                                         : "none");
    lua_setfield(L, -2, "flow");
    if (a->scope) {
        lua_pushstring(L, a->scope);
        lua_setfield(L, -2, "scope");
    }
    if (a->kind == AP_AUTH_CLIENT_SECRET && a->access_token) {
        lua_pushnumber(L, a->expires_epoch);
        lua_setfield(L, -2, "expires_at");
    }
    lua_pushboolean(L, a->access_token != NULL);
    lua_setfield(L, -2, "has_token");
}
