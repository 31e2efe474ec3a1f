/*
 * lua-autopilot: one transfer (transfer.h). Sets up the easy handle for an attempt (timeouts, TLS,
 * protocols, headers) and captures the response headers and body in transfer-owned buffers: the
 * callbacks do plain memory work only, never Lua.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "random.h"
#include "transfer.h"

ap_xfer *ap_xfer_new(int kind, const char *method, const char *url)
{
    ap_xfer *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->kind = kind;
    x->retry_after = -1;
    snprintf(x->method, sizeof x->method, "%s", method);
    x->url = strdup(url);
    if (!x->url) {
        free(x);
        return NULL;
    }
    if (kind == AP_XK_TOKEN)
        x->resp_body.secret = 1; /* the reply carries the token */
    ap_guid(x->request_guid);
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
    free(x->batch_url);
    free(x->items); /* an envelope's items are freed by their owner, the engine */
    if (x->body)
        explicit_bzero(x->body, x->body_len); /* a token request carries the secret */
    free(x->body);
    wipe_slist(x->user_headers); /* a managed identity request's header is a secret */
    curl_slist_free_all(x->user_headers);
    ap_buf_free(&x->resp_body);
    ap_buf_free(&x->resp_headers);
    ap_auth_failure_clear(&x->auth_failure);
    free(x);
}

int ap_xfer_add_header(ap_xfer *x, const char *line)
{
    struct curl_slist *l = curl_slist_append(x->user_headers, line);
    if (!l)
        return -1;
    x->user_headers = l;
    return 0;
}

void ap_auth_failure_clear(ap_auth_failure *f)
{
    ap_buf_free(&f->body);
    memset(f, 0, sizeof *f);
}

void ap_auth_failure_copy(ap_auth_failure *dst, const ap_auth_failure *src)
{
    ap_auth_failure_clear(dst);
    *dst = *src;
    memset(&dst->body, 0, sizeof dst->body);
    if (src->body.len && ap_buf_append(&dst->body, src->body.data, src->body.len) != 0) {
        dst->status = 0; /* no memory for the body: report that instead */
        dst->code = CURLE_OUT_OF_MEMORY;
        dst->errmsg[0] = '\0';
    }
}

/* ---- callbacks: plain memory work only, never Lua --------------------------------------------- */

/* Whether n more bytes would take a buffer past its cap (0: none). */
static int over(const ap_buf *b, size_t n, size_t cap)
{
    return cap > 0 && (n > cap || b->len > cap - n);
}

/* Bytes arrive decoded (gzip), so the cap bounds memory whatever the wire carried: a bomb stops here. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ap_xfer *x = ud;
    if (over(&x->resp_body, size * n, x->max_body)) {
        x->too_large = AP_TOO_LARGE_BODY;
        return 0; /* curl ends the attempt */
    }
    return ap_buf_append(&x->resp_body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    ap_xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        ap_buf_reset(&x->resp_headers); /* a new response */
    if (over(&x->resp_headers, len, x->max_headers)) {
        x->too_large = AP_TOO_LARGE_HEADERS;
        return 0;
    }
    return ap_buf_append(&x->resp_headers, p, len) == 0 ? len : 0;
}

CURLcode ap_xfer_verdict(ap_xfer *x, CURLcode rc)
{
    const char *what = NULL, *option = NULL;
    size_t cap = 0;
    if (x->too_large == AP_TOO_LARGE_BODY) {
        what = "body", option = "max_response_bytes", cap = x->max_body;
    } else if (x->too_large == AP_TOO_LARGE_HEADERS ||
               (rc == CURLE_OUT_OF_MEMORY && x->resp_headers.len > 0 && x->resp_body.len == 0)) {
        /* curl's own cap on one header line (100 KB) reads as out of memory, with no message: say what it
         * is (our own appends failing end the attempt as WRITE_ERROR, not this) */
        what = "headers", option = "max_header_bytes", cap = x->max_headers;
    }
    if (!what)
        return rc;
    if (x->too_large)
        snprintf(x->errbuf, sizeof x->errbuf, "the response %s exceed %s (%zu bytes): not read further", what,
                 option, cap);
    else
        snprintf(x->errbuf, sizeof x->errbuf,
                 "a response header line exceeds curl's limit (100 KB): not read further");
    return CURLE_FILESIZE_EXCEEDED;
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

#define BEARER "Authorization: Bearer "

static int add_bearer(struct curl_slist **l, const char *token)
{
    size_t tl = strlen(token), n = tl + sizeof BEARER;
    char *h = malloc(n);
    if (!h)
        return -1;
    memcpy(h, BEARER, sizeof BEARER - 1);
    memcpy(h + sizeof BEARER - 1, token, tl + 1);
    int r = add_header(l, h);
    explicit_bzero(h, n);
    free(h);
    return r;
}

static int build_headers(ap_xfer *x, const char *bearer)
{
    struct curl_slist **l = &x->req_headers;
    char line[96];
    if (bearer && add_bearer(l, bearer))
        return -1;
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

int ap_xfer_setup(const ap_transport *tp, ap_xfer *x, const char *bearer)
{
    ap_buf_reset(&x->resp_body);
    ap_buf_reset(&x->resp_headers);
    x->errbuf[0] = '\0';
    x->status = 0;
    x->code = CURLE_OK;
    x->too_large = AP_TOO_LARGE_NONE;
    x->max_body = tp->max_body;
    x->max_headers = tp->max_headers;
    CURL *e = x->easy = curl_easy_init();
    if (!e)
        return CURLE_OUT_OF_MEMORY;
    if (build_headers(x, bearer))
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
    SET(CURLOPT_TIMEOUT_MS, tp->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, tp->connect_timeout_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, AP_STALL_RATE);
    SET(CURLOPT_LOW_SPEED_TIME, tp->stall_seconds);
    if (tp->user_agent)
        SET(CURLOPT_USERAGENT, tp->user_agent);
    if (tp->ca_file)
        SET(CURLOPT_CAINFO, tp->ca_file);
    if (tp->ca_path)
        SET(CURLOPT_CAPATH, tp->ca_path);
    if (tp->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (tp->share)
        SET(CURLOPT_SHARE, tp->share);
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
