/*
 * lua-autopilot: one transfer. Sets up the easy handle for an attempt (timeouts, TLS, protocols,
 * headers), captures the response headers and body in session-owned buffers (the callbacks never
 * touch Lua), and turns a finished transfer into the result table of doc/INTERNALS.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

ap_xfer *ap_xfer_new(void)
{
    ap_xfer *x = calloc(1, sizeof *x);
    if (x)
        x->retry_after = -1;
    return x;
}

static void wipe_slist(struct curl_slist *l)
{
    for (; l; l = l->next)
        if (l->data)
            explicit_bzero(l->data, strlen(l->data));
}

void ap_xfer_end_attempt(ap_xfer *x)
{
    if (x->easy) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    if (x->req_headers) {
        wipe_slist(x->req_headers); /* the Authorization line */
        curl_slist_free_all(x->req_headers);
        x->req_headers = NULL;
    }
}

void ap_xfer_free(ap_xfer *x)
{
    if (!x)
        return;
    ap_xfer_end_attempt(x);
    free(x->url);
    if (x->body)
        explicit_bzero(x->body, x->body_len); /* a token request carries the secret */
    free(x->body);
    wipe_slist(x->user_headers); /* a managed identity request's header is a secret */
    curl_slist_free_all(x->user_headers);
    ap_buf_free(&x->resp_body, x->kind == AP_XK_TOKEN); /* a token reply carries the token */
    ap_buf_free(&x->resp_headers, 0);
    ap_buf_free(&x->auth_body, 0);
    free(x);
}

/* ---- callbacks: plain memory work only, never Lua --------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ap_xfer *x = ud;
    return ap_buf_append(&x->resp_body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    ap_xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        ap_buf_reset(&x->resp_headers); /* a new response */
    return ap_buf_append(&x->resp_headers, p, len) == 0 ? len : 0;
}

/* ---- attempt setup ---------------------------------------------------------------------------- */

static int add_header(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n)
        return -1;
    *l = n;
    return 0;
}

static int build_headers(ap_session *s, ap_xfer *x)
{
    struct curl_slist **l = &x->req_headers;
    char line[96];
    if (x->kind == AP_XK_GRAPH && s->auth.access_token && !(x->user_has & AP_H_AUTH)) {
        size_t tl = strlen(s->auth.access_token), n = tl + sizeof "Authorization: Bearer ";
        char *h = malloc(n);
        if (!h)
            return -1;
        memcpy(h, "Authorization: Bearer ", sizeof "Authorization: Bearer " - 1);
        memcpy(h + sizeof "Authorization: Bearer " - 1, s->auth.access_token, tl + 1);
        int r = add_header(l, h);
        explicit_bzero(h, n);
        free(h);
        if (r)
            return -1;
        x->token_gen = s->auth.gen;
    }
    if (!(x->user_has & AP_H_ACCEPT) && add_header(l, "Accept: application/json"))
        return -1;
    if (!(x->user_has & AP_H_REQID)) {
        snprintf(line, sizeof line, "client-request-id: %s", x->request_guid);
        if (add_header(l, line))
            return -1;
    }
    if (x->attempts > 0) {
        snprintf(line, sizeof line, "Retry-Attempt: %d", x->attempts);
        if (add_header(l, line))
            return -1;
    }
    if (!(x->user_has & AP_H_CTYPE)) {
        const char *ct = x->kind == AP_XK_TOKEN           ? "Content-Type: application/x-www-form-urlencoded"
                         : x->has_body && x->body_len > 0 ? "Content-Type: application/json"
                                                          : "Content-Type:"; /* no form type on empty POSTs */
        if (add_header(l, ct))
            return -1;
    }
    if (add_header(l, "Expect:"))
        return -1; /* no 100-continue round trip for large bodies */
    for (struct curl_slist *u = x->user_headers; u; u = u->next)
        if (add_header(l, u->data))
            return -1;
    return 0;
}

#define SET(opt, val)                                                                                        \
    do {                                                                                                     \
        CURLcode rc_ = curl_easy_setopt(e, opt, val);                                                        \
        if (rc_ != CURLE_OK)                                                                                 \
            return rc_;                                                                                      \
    } while (0)

int ap_xfer_setup(ap_session *s, ap_xfer *x)
{
    ap_buf_reset(&x->resp_body);
    ap_buf_reset(&x->resp_headers);
    x->errbuf[0] = '\0';
    x->status = 0;
    x->code = CURLE_OK;
    CURL *e = x->easy = curl_easy_init();
    if (!e)
        return CURLE_OUT_OF_MEMORY;
    if (build_headers(s, x))
        return CURLE_OUT_OF_MEMORY;
    SET(CURLOPT_PRIVATE, (void *)x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_URL, x->url);
    SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_FOLLOWLOCATION, 0L); /* never carry Authorization to another host */
    SET(CURLOPT_ACCEPT_ENCODING, "");
    if (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2)
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    SET(CURLOPT_PIPEWAIT, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TIMEOUT_MS, s->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, s->stall_seconds);
    if (s->user_agent)
        SET(CURLOPT_USERAGENT, s->user_agent);
    if (s->ca_file)
        SET(CURLOPT_CAINFO, s->ca_file);
    if (s->ca_path)
        SET(CURLOPT_CAPATH, s->ca_path);
    if (s->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (s->share)
        SET(CURLOPT_SHARE, s->share);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)x);
    SET(CURLOPT_HTTPHEADER, x->req_headers);
    if (strcmp(x->method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(x->method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(x->method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, x->method);
        if (x->has_body || strcmp(x->method, "POST") == 0 || strcmp(x->method, "PATCH") == 0 ||
            strcmp(x->method, "PUT") == 0) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
            SET(CURLOPT_POSTFIELDS, x->body ? x->body : "");
        }
    }
    return CURLE_OK;
}

/* ---- reading the captured response -------------------------------------------------------------- */

/* Walks "Name: value\r\n" lines; calls fn for each, stops when it returns nonzero. */
typedef int (*header_fn)(const char *name, size_t nn, const char *val, size_t vn, void *ud);

static void each_header(const ap_buf *h, header_fn fn, void *ud)
{
    const char *p = h->data, *end = h->data ? h->data + h->len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (!eol)
            eol = end;
        const char *le = eol;
        if (le > p && le[-1] == '\r')
            le--;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon && colon > p && *p != ' ' && *p != '\t') {
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (fn(p, (size_t)(colon - p), v, (size_t)(ve - v), ud))
                return;
        }
        p = next;
    }
}

struct find_ctx {
    const char *name;
    const char *val;
    size_t vlen;
    int found;
};

static int find_cb(const char *name, size_t nn, const char *val, size_t vn, void *ud)
{
    struct find_ctx *c = ud;
    if (strlen(c->name) == nn && strncasecmp(name, c->name, nn) == 0) {
        c->val = val, c->vlen = vn, c->found = 1; /* keep going: the last one wins */
    }
    return 0;
}

int ap_header_find(const ap_buf *h, const char *name, const char **val, size_t *vlen)
{
    struct find_ctx c = {name, NULL, 0, 0};
    each_header(h, find_cb, &c);
    if (c.found)
        *val = c.val, *vlen = c.vlen;
    return c.found;
}

static int push_cb(const char *name, size_t nn, const char *val, size_t vn, void *ud)
{
    lua_State *L = ud;
    char lower[128];
    if (nn >= sizeof lower)
        return 0;
    for (size_t i = 0; i < nn; i++) {
        char c = name[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    lua_pushlstring(L, lower, nn);
    lua_pushlstring(L, val, vn);
    lua_rawset(L, -3);
    return 0;
}

void ap_push_headers(lua_State *L, const ap_buf *h)
{
    lua_newtable(L);
    each_header(h, push_cb, L);
}

static void push_transport(lua_State *L, CURLcode code, const char *msg)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, ap_curl_name(code));
    lua_setfield(L, -2, "code");
    lua_pushstring(L, msg && *msg ? msg : curl_easy_strerror(code));
    lua_setfield(L, -2, "message");
}

void ap_push_result(lua_State *L, ap_session *s, ap_xfer *x, int tags_idx)
{
    (void)s;
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
    if (x->auth_failed) {
        lua_createtable(L, 0, 3);
        if (x->auth_status > 0) {
            lua_pushinteger(L, x->auth_status);
            lua_setfield(L, -2, "status");
        }
        if (x->auth_body.len > 0) {
            lua_pushlstring(L, x->auth_body.data, x->auth_body.len);
            lua_setfield(L, -2, "body");
        }
        if (x->auth_code != CURLE_OK) {
            push_transport(L, x->auth_code, x->auth_errmsg);
            lua_setfield(L, -2, "transport");
        }
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
