/*
 * lua-autopilot: the session's access token. Brought by the caller (kind "token"), or acquired by the
 * session: client credentials with a secret or a certificate (a fresh client assertion signed here for
 * every request), a managed identity, or a delegated sign-in (refresh token, device code: see
 * auth_delegated.c). Tokens are fetched lazily by the engine as transfers of their own, cached, fetched
 * again ahead of expiry, and invalidated by a 401 that says the token is no good. Replies are parsed by
 * the session's `decode` function, called between multi iterations and never from a curl callback.
 * Tokens, secrets, refresh tokens and keys live only in session-owned memory that is wiped when freed;
 * only a new refresh token is handed to Lua (to the token cache's callback).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_SCOPE "https://graph.microsoft.com/.default"
#define DEFAULT_LIFETIME 3599.0
#define ASSERTION_LIFETIME 600
#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

void ap_auth_wipe_free(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void ap_auth_free(ap_auth *a)
{
    ap_auth_wipe_free(&a->access_token);
    ap_auth_wipe_free(&a->client_secret);
    ap_auth_wipe_free(&a->refresh_token);
    ap_auth_wipe_free(&a->device_code);
    ap_auth_wipe_free(&a->header);
    ap_signer_free(a->signer);
    a->signer = NULL;
    free(a->token_url), a->token_url = NULL;
    free(a->client_id), a->client_id = NULL;
    free(a->scope), a->scope = NULL;
    free(a->devicecode_url), a->devicecode_url = NULL;
    free(a->granted_scope), a->granted_scope = NULL;
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

static void take_url(lua_State *L, int idx, const char *key, char **dst, int required)
{
    take_string(L, idx, key, dst, required);
    if (*dst && strncmp(*dst, "http://", 7) != 0 && strncmp(*dst, "https://", 8) != 0)
        luaL_error(L, "auth.%s must be an http or https URL", key);
}

static void default_scope(lua_State *L, ap_auth *a)
{
    if (a->scope)
        return;
    a->scope = malloc(sizeof DEFAULT_SCOPE);
    if (!a->scope)
        luaL_error(L, "not enough memory");
    memcpy(a->scope, DEFAULT_SCOPE, sizeof DEFAULT_SCOPE);
}

/* A PEM text option, borrowed from the table (it stays referenced there while we read it). */
static const char *pem_field(lua_State *L, int idx, const char *key, size_t *n, int required)
{
    int t = lua_getfield(L, idx, key);
    const char *v = NULL;
    *n = 0;
    if (t == LUA_TSTRING)
        v = lua_tolstring(L, -1, n);
    else if (t != LUA_TNIL || required)
        luaL_error(L, "auth.%s must be a string (got %s)", key, lua_typename(L, t));
    lua_pop(L, 1);
    return v;
}

static void parse_certificate(lua_State *L, ap_auth *a, int idx)
{
    size_t cn, kn, pn;
    const char *cert = pem_field(L, idx, "cert", &cn, 1);
    const char *key = pem_field(L, idx, "key", &kn, 1);
    const char *pass = pem_field(L, idx, "passphrase", &pn, 0);
    int t = lua_getfield(L, idx, "alg");
    const char *alg = t == LUA_TNIL ? "PS256" : lua_tostring(L, -1);
    if (t != LUA_TNIL && t != LUA_TSTRING)
        luaL_error(L, "auth.alg must be a string");
    if (strcmp(alg, "PS256") != 0 && strcmp(alg, "RS256") != 0)
        luaL_error(L, "auth.alg must be \"PS256\" or \"RS256\"");
    a->alg_pss = strcmp(alg, "PS256") == 0;
    lua_pop(L, 1);
    char err[AP_SIGNER_ERRLEN];
    const char *msg = NULL;
    a->signer = ap_signer_new(cert, cn, key, kn, pass, pn, a->alg_pss, err, &msg);
    if (!a->signer)
        luaL_error(L, "auth: %s", msg); /* the facade checks the certificate first: this is a bug */
}

/* The callbacks table (auth.on_device_code, auth.on_refresh_token) becomes a session user value. */
static void keep_callbacks(lua_State *L, int idx, int ud)
{
    lua_createtable(L, 0, 2);
    for (int i = 0; i < 2; i++) {
        const char *k = i ? "on_refresh_token" : "on_device_code";
        int t = lua_getfield(L, idx, k);
        if (t != LUA_TNIL && t != LUA_TFUNCTION)
            luaL_error(L, "auth.%s must be a function (got %s)", k, lua_typename(L, t));
        lua_setfield(L, -2, k);
    }
    lua_setiuservalue(L, ud, AP_UV_AUTH);
}

static void set_flow(ap_auth *a, const char *name)
{
    strncpy(a->flow, name, sizeof a->flow - 1);
}

int ap_auth_parse(lua_State *L, ap_session *s, int idx, int ud)
{
    ap_auth *a = &s->auth;
    if (lua_isnoneornil(L, idx)) {
        a->kind = AP_AUTH_NONE;
        set_flow(a, "none");
        return 0;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "option 'auth' must be a table (got %s)", luaL_typename(L, idx));
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "kind");
    const char *kind = lua_tostring(L, -1);
    if (!kind || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "auth.kind must be a string");
    lua_pop(L, 1); /* the table keeps the string alive */
    if (strcmp(kind, "token") == 0) {
        static const char *const keys[] = {"kind", "access_token", NULL};
        ap_check_keys(L, idx, "auth", keys);
        a->kind = AP_AUTH_TOKEN;
        take_string(L, idx, "access_token", &a->access_token, 1);
        a->gen++;
    } else if (strcmp(kind, "client_secret") == 0) {
        static const char *const keys[] = {"kind", "token_url", "client_id", "client_secret", "scope", NULL};
        ap_check_keys(L, idx, "auth", keys);
        a->kind = AP_AUTH_CLIENT_SECRET;
        take_url(L, idx, "token_url", &a->token_url, 1);
        take_string(L, idx, "client_id", &a->client_id, 1);
        take_string(L, idx, "client_secret", &a->client_secret, 1);
        take_string(L, idx, "scope", &a->scope, 0);
        default_scope(L, a);
    } else if (strcmp(kind, "certificate") == 0) {
        static const char *const keys[] = {"kind",       "token_url", "client_id", "cert", "key",
                                           "passphrase", "alg",       "scope",     NULL};
        ap_check_keys(L, idx, "auth", keys);
        a->kind = AP_AUTH_CERTIFICATE;
        take_url(L, idx, "token_url", &a->token_url, 1);
        take_string(L, idx, "client_id", &a->client_id, 1);
        take_string(L, idx, "scope", &a->scope, 0);
        default_scope(L, a);
        parse_certificate(L, a, idx);
    } else if (strcmp(kind, "device_code") == 0 || strcmp(kind, "refresh_token") == 0) {
        static const char *const keys[] = {"kind",  "token_url",     "devicecode_url", "client_id",
                                           "scope", "refresh_token", "on_device_code", "on_refresh_token",
                                           NULL};
        int interactive = kind[0] == 'd';
        ap_check_keys(L, idx, "auth", keys);
        a->kind = AP_AUTH_DELEGATED;
        take_url(L, idx, "token_url", &a->token_url, 1);
        take_url(L, idx, "devicecode_url", &a->devicecode_url, interactive);
        take_string(L, idx, "client_id", &a->client_id, 1);
        take_string(L, idx, "scope", &a->scope, 1);
        take_string(L, idx, "refresh_token", &a->refresh_token, !interactive);
        keep_callbacks(L, idx, ud);
        if (interactive) {
            lua_getiuservalue(L, ud, AP_UV_AUTH);
            int has = lua_getfield(L, -1, "on_device_code") == LUA_TFUNCTION;
            lua_pop(L, 2);
            if (!has)
                luaL_error(L, "auth.on_device_code must be a function for kind \"device_code\"");
        }
        set_flow(a, kind);
        return 0;
    } else if (strcmp(kind, "managed_identity") == 0) {
        static const char *const keys[] = {"kind", "token_url", "header", "scope", NULL};
        ap_check_keys(L, idx, "auth", keys);
        a->kind = AP_AUTH_MANAGED_IDENTITY;
        take_url(L, idx, "token_url", &a->token_url, 1);
        take_string(L, idx, "header", &a->header, 1);
        if (!strchr(a->header, ':'))
            luaL_error(L, "auth.header must be a \"Name: value\" line");
        take_string(L, idx, "scope", &a->scope, 0); /* shown by token_info only: the URL names the resource */
    } else {
        luaL_error(L,
                   "auth.kind must be \"token\", \"client_secret\", \"certificate\", \"device_code\", "
                   "\"refresh_token\" or \"managed_identity\" (got \"%s\")",
                   kind);
    }
    set_flow(a, kind);
    return 0;
}

/* ---- token state -------------------------------------------------------------------------------- */

int ap_auth_needs_token(const ap_session *s)
{
    return s->auth.kind != AP_AUTH_NONE;
}

int ap_auth_acquired(const ap_session *s)
{
    return s->auth.kind != AP_AUTH_NONE && s->auth.kind != AP_AUTH_TOKEN;
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
    if (!ap_auth_acquired(s) || a->gen != gen)
        return; /* already replaced */
    ap_auth_wipe_free(&a->access_token);
    a->gen++;
    a->expires_mono = a->refresh_mono = a->expires_epoch = 0;
}

/* ---- token requests ----------------------------------------------------------------------------- */

int ap_auth_form_append(ap_buf *b, const char *name, const char *value)
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

static ap_xfer *token_xfer(const char *method, const char *url)
{
    ap_xfer *t = ap_xfer_new();
    if (!t)
        return NULL;
    t->kind = AP_XK_TOKEN;
    t->resp_body.secret = 1; /* the reply carries the token */
    t->idempotent = 1; /* asking again for a token is harmless */
    strcpy(t->method, method);
    t->url = strdup(url);
    if (!t->url) {
        ap_xfer_free(t);
        return NULL;
    }
    ap_guid(t->request_guid);
    return t;
}

ap_xfer *ap_auth_post(ap_session *s, const char *url, ap_buf *form)
{
    (void)s;
    ap_xfer *t = token_xfer("POST", url);
    if (!t) {
        ap_buf_free(form, 1);
        return NULL;
    }
    t->body = form->data; /* ownership moves to the transfer, which wipes it when freed */
    t->body_len = form->len;
    t->has_body = 1;
    form->data = NULL;
    form->len = form->cap = 0;
    return t;
}

static ap_xfer *managed_identity_request(ap_session *s)
{
    ap_xfer *t = token_xfer("GET", s->auth.token_url);
    if (!t)
        return NULL;
    struct curl_slist *l = curl_slist_append(NULL, s->auth.header);
    if (!l) {
        ap_xfer_free(t);
        return NULL;
    }
    t->user_headers = l; /* wiped when the transfer is freed */
    return t;
}

static ap_xfer *client_credentials_request(ap_session *s)
{
    ap_auth *a = &s->auth;
    ap_buf form = {0};
    form.secret = 1;
    char *assertion = NULL;
    if (a->kind == AP_AUTH_CERTIFICATE) {
        char err[AP_SIGNER_ERRLEN];
        const char *msg;
        /* a fresh assertion (new jti, nbf now) for every request, aud = the token endpoint */
        assertion =
            ap_signer_assertion(a->signer, a->client_id, strlen(a->client_id), a->token_url,
                                strlen(a->token_url), (long long)ap_epoch(), ASSERTION_LIFETIME, err, &msg);
        if (!assertion)
            return NULL;
    }
    int bad = ap_auth_form_append(&form, "grant_type", "client_credentials") ||
              ap_auth_form_append(&form, "client_id", a->client_id) ||
              (assertion ? ap_auth_form_append(&form, "client_assertion_type", JWT_BEARER) ||
                               ap_auth_form_append(&form, "client_assertion", assertion)
                         : ap_auth_form_append(&form, "client_secret", a->client_secret)) ||
              ap_auth_form_append(&form, "scope", a->scope);
    ap_auth_wipe_free(&assertion);
    if (bad) {
        ap_buf_free(&form, 1);
        return NULL;
    }
    return ap_auth_post(s, a->token_url, &form);
}

ap_xfer *ap_auth_request(ap_session *s)
{
    ap_auth *a = &s->auth;
    a->step = AP_STEP_TOKEN;
    switch (a->kind) {
    case AP_AUTH_MANAGED_IDENTITY:
        return managed_identity_request(s);
    case AP_AUTH_DELEGATED:
        return ap_auth_delegated_request(s);
    default:
        return client_credentials_request(s);
    }
}

/* ---- token replies ------------------------------------------------------------------------------ */

/* decode(body) -> access_token, expires_in, expires_on, refresh_token, scope; run under lua_pcall.
 * Managed identity endpoints send the numbers as strings. */
static int decode_token_reply(lua_State *L)
{
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return 0;
    int t = lua_gettop(L);
    lua_getfield(L, t, "access_token");
    static const char *const nums[] = {"expires_in", "expires_on"};
    for (int i = 0; i < 2; i++) {
        lua_getfield(L, t, nums[i]);
        if (lua_type(L, -1) == LUA_TSTRING) {
            if (!lua_stringtonumber(L, lua_tostring(L, -1)))
                lua_pushnil(L);
            lua_remove(L, -2);
        }
    }
    lua_getfield(L, t, "refresh_token");
    lua_getfield(L, t, "scope");
    return 5;
}

static char *copy_checked(const char *v, size_t n)
{
    if (!v || n == 0 || !header_safe(v, n) || strlen(v) != n)
        return NULL;
    char *copy = malloc(n + 1);
    if (copy)
        memcpy(copy, v, n + 1);
    return copy;
}

/* Takes the token (and a rotated refresh token) from a 200 reply; 0 when the reply holds none. */
int ap_auth_take_token(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    ap_auth *a = &s->auth;
    int ok = 0;
    lua_pushcfunction(L, decode_token_reply);
    lua_getiuservalue(L, 1, AP_UV_DECODE);
    lua_pushlstring(L, t->resp_body.data ? t->resp_body.data : "", t->resp_body.len);
    if (lua_pcall(L, 2, 5, 0) != LUA_OK) {
        lua_pop(L, 1);
        return 0;
    }
    size_t n = 0;
    const char *tok = lua_type(L, -5) == LUA_TSTRING ? lua_tolstring(L, -5, &n) : NULL;
    int isnum = 0;
    double life = lua_tonumberx(L, -4, &isnum);
    if (!isnum || !(life > 0)) {
        double on = lua_tonumberx(L, -3, &isnum); /* managed identity: expires_on, epoch seconds */
        life = isnum && on - ap_epoch() > 0 ? on - ap_epoch() : DEFAULT_LIFETIME;
    }
    char *copy = copy_checked(tok, n);
    if (copy) {
        ap_auth_wipe_free(&a->access_token);
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
        size_t sn = 0;
        const char *scope = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &sn) : NULL;
        char *sc = copy_checked(scope, sn);
        if (sc) {
            free(a->granted_scope);
            a->granted_scope = sc;
        }
        size_t rn = 0;
        const char *rt = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &rn) : NULL;
        char *rcopy = a->kind == AP_AUTH_DELEGATED ? copy_checked(rt, rn) : NULL;
        lua_pop(L, 5); /* the decoded values still referenced the tokens: only Lua's GC holds them now */
        if (rcopy) {   /* rotated: the old one is spent */
            ap_auth_wipe_free(&a->refresh_token);
            a->refresh_token = rcopy;
            char *none = ap_auth_persist_refresh(L, s, rcopy); /* NULL: only a refusal gets an answer */
            ap_auth_wipe_free(&none);
        }
        return ok;
    }
    lua_pop(L, 5);
    return ok;
}

/* Every transfer waiting for the token ends with the token endpoint's answer (or a transport error),
 * and nothing of theirs is sent to Graph. `body` is passed on only for a non-2xx status. */
void ap_auth_fail_waiters(ap_session *s, long status, CURLcode code, const char *errmsg, const char *body,
                          size_t body_len)
{
    ap_xfer *next;
    for (ap_xfer *x = s->queued.head; x; x = next) {
        next = x->next;
        if (!x->awaiting_token)
            continue;
        x->auth_failed = 1;
        x->auth_status = code == CURLE_OK ? status : 0;
        x->auth_code = code;
        snprintf(x->auth_errmsg, sizeof x->auth_errmsg, "%s", errmsg ? errmsg : "");
        ap_buf_reset(&x->auth_body);
        /* a 2xx reply without a usable token may still hold one: never pass it on */
        if (code == CURLE_OK && (status < 200 || status > 299) && body)
            ap_buf_append(&x->auth_body, body, body_len);
        x->awaiting_token = 0;
        ap_list_remove(&s->queued, x);
        x->state = AP_XS_DONE;
        ap_list_push(&s->done, x);
    }
}

/* A token request ended (its retries are done). */
void ap_auth_on_done(lua_State *L, ap_session *s, ap_xfer *t, double now)
{
    s->auth.fetch = NULL;
    if (s->auth.kind == AP_AUTH_DELEGATED && ap_auth_delegated_done(L, s, t, now))
        return; /* it took t: another step of the sign-in follows, or it ended it */
    if (t->code == CURLE_OK && t->status == 200 && ap_auth_take_token(L, s, t, now)) {
        for (ap_xfer *x = s->queued.head; x; x = x->next)
            x->awaiting_token = 0;
        ap_xfer_free(t);
        return;
    }
    char errmsg[CURL_ERROR_SIZE];
    memcpy(errmsg, t->errbuf, sizeof errmsg);
    ap_auth_fail_waiters(s, t->status, t->code, errmsg, t->resp_body.data ? t->resp_body.data : "",
                         t->resp_body.len);
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

/* ---- token_info --------------------------------------------------------------------------------- */

/* claims(decode, token) -> the JWT payload's claims, decoded without verifying (it is our own token);
 * run under lua_pcall. Only the payload is decoded: the header and signature never reach Lua. */
static int decode_claims(lua_State *L)
{
    static const signed char val[256] = {
        ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
        ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
        ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
        ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
        ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
        ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
        ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
        ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
        ['+'] = 63, ['/'] = 64};
    const char *tok = lua_touserdata(L, 2);
    const char *p = strchr(tok, '.');
    if (!p)
        return 0;
    const char *end = strchr(++p, '.');
    if (!end)
        return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    unsigned acc = 0;
    int bits = 0;
    for (; p < end; p++) {
        int v = val[(unsigned char)*p];
        if (!v)
            break; /* padding or junk */
        acc = (acc << 6) | (unsigned)(v - 1);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            luaL_addchar(&b, (char)((acc >> bits) & 0xff));
        }
    }
    luaL_pushresult(&b);
    lua_pushvalue(L, 1);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    return lua_istable(L, -1) ? 1 : 0;
}

void ap_push_token_info(lua_State *L, const ap_session *s)
{
    const ap_auth *a = &s->auth;
    lua_createtable(L, 0, 6);
    lua_pushstring(L, a->flow[0] ? a->flow : "none");
    lua_setfield(L, -2, "flow");
    const char *scope = a->granted_scope ? a->granted_scope : a->scope;
    if (scope) {
        lua_pushstring(L, scope);
        lua_setfield(L, -2, "scope");
    }
    if (ap_auth_acquired(s) && a->access_token) {
        lua_Integer at; /* a huge expires_in must not overflow the cast (UB): a float then */
        if (lua_numbertointeger(floor(a->expires_epoch), &at))
            lua_pushinteger(L, at);
        else
            lua_pushnumber(L, floor(a->expires_epoch));
        lua_setfield(L, -2, "expires_at");
    }
    lua_pushboolean(L, a->access_token != NULL);
    lua_setfield(L, -2, "has_token");
    if (a->kind == AP_AUTH_DELEGATED) {
        lua_pushboolean(L, a->refresh_token != NULL);
        lua_setfield(L, -2, "has_refresh_token");
    }
    if (a->access_token) {
        lua_pushcfunction(L, decode_claims);
        lua_getiuservalue(L, 1, AP_UV_DECODE);
        lua_pushlightuserdata(L, (void *)a->access_token);
        if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1))
            lua_setfield(L, -2, "claims");
        else
            lua_pop(L, 1);
    }
}
