/*
 * lua-autopilot: $batch envelopes (batch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch.h"
#include "headers.h"
#include "json.h"

ap_xfer *ap_batch_new(const char *batch_url)
{
    ap_xfer *e = ap_xfer_new(AP_XK_BATCH, "POST", batch_url);
    if (!e)
        return NULL;
    e->items = calloc(AP_BATCH_MAX, sizeof *e->items);
    if (!e->items) {
        ap_xfer_free(e);
        return NULL;
    }
    e->idempotent = 1;
    e->user_has |= AP_H_REQID; /* the envelope's own id stays ours; items carry theirs */
    return e;
}

int ap_batch_add(ap_xfer *envelope, ap_xfer *item)
{
    if (envelope->nitems >= AP_BATCH_MAX)
        return -1;
    envelope->items[envelope->nitems++] = item;
    envelope->idempotent = envelope->idempotent && item->idempotent;
    return 0;
}

const char *ap_batch_relative(const char *batch_url, const char *url)
{
    const char *slash = strrchr(batch_url, '/');
    size_t n = slash ? (size_t)(slash - batch_url) : 0;
    if (n == 0 || strncmp(batch_url, url, n) != 0 || url[n] != '/')
        return NULL;
    return url + n;
}

/* "name":"value" pairs of an item's headers: its client-request-id, its caller's headers but Authorization
 * (the envelope carries the token) and Accept. */
static int put_headers(ap_buf *b, const ap_xfer *x)
{
    int bad = ap_buf_append_str(b, "{\"client-request-id\":") ||
              ap_json_put_string(b, x->request_guid, strlen(x->request_guid));
    if (!(x->user_has & AP_H_CTYPE) && x->has_body && x->body_len > 0)
        bad = bad || ap_buf_append_str(b, ",\"Content-Type\":\"application/json\"");
    if (x->attempts > 0) {
        char n[48];
        snprintf(n, sizeof n, ",\"Retry-Attempt\":\"%d\"", x->attempts);
        bad = bad || ap_buf_append_str(b, n);
    }
    for (const struct curl_slist *u = x->user_headers; u && !bad; u = u->next) {
        const char *colon = strchr(u->data, ':');
        if (!colon || strncasecmp(u->data, "authorization:", 14) == 0 ||
            strncasecmp(u->data, "accept:", 7) == 0 || strncasecmp(u->data, "client-request-id:", 18) == 0)
            continue;
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        bad = ap_buf_append(b, ",", 1) || ap_json_put_string(b, u->data, (size_t)(colon - u->data)) ||
              ap_buf_append(b, ":", 1) || ap_json_put_string(b, v, strlen(v));
    }
    return bad || ap_buf_append(b, "}", 1);
}

int ap_batch_seal(ap_xfer *e)
{
    ap_buf b = {0};
    int bad = ap_buf_append_str(&b, "{\"requests\":[");
    for (int i = 0; i < e->nitems && !bad; i++) {
        const ap_xfer *x = e->items[i];
        const char *rel = ap_batch_relative(x->batch_url, x->url);
        char id[16];
        snprintf(id, sizeof id, "%d", i + 1);
        bad = (i > 0 && ap_buf_append(&b, ",", 1)) || ap_buf_append_str(&b, "{\"id\":") ||
              ap_json_put_string(&b, id, strlen(id)) || ap_buf_append_str(&b, ",\"method\":") ||
              ap_json_put_string(&b, x->method, strlen(x->method)) || ap_buf_append_str(&b, ",\"url\":") ||
              ap_json_put_string(&b, rel, strlen(rel)) || ap_buf_append_str(&b, ",\"headers\":") ||
              put_headers(&b, x);
        ap_json body;
        if (!bad && x->has_body && x->body_len > 0) {
            /* a JSON body goes in as JSON, anything else as a string */
            if (ap_json_parse(x->body, x->body_len, &body) == 0)
                bad = ap_buf_append_str(&b, ",\"body\":") || ap_buf_append(&b, body.p, body.n);
            else
                bad = ap_buf_append_str(&b, ",\"body\":") || ap_json_put_string(&b, x->body, x->body_len);
        }
        bad = bad || ap_buf_append(&b, "}", 1);
    }
    bad = bad || ap_buf_append_str(&b, "]}");
    if (bad) {
        ap_buf_free(&b);
        return -1;
    }
    free(e->body);
    e->body_len = b.len;
    e->body = ap_buf_take(&b);
    e->has_body = 1;
    e->user_has |= AP_H_CTYPE;
    return ap_xfer_add_header(e, "Content-Type: application/json");
}

/* The item's headers object as a "Name: value\r\n" block, plus the envelope's Date (an HTTP-date
 * Retry-After is measured against the reply's own Date) and request-id (what support asks for) when the
 * item has none. */
static void take_headers(ap_xfer *x, ap_json headers, const ap_buf *envelope_headers)
{
    size_t pos = 0;
    ap_json k, v;
    int has_date = 0, has_id = 0;
    while (ap_json_next(headers, &pos, &k, &v)) {
        ap_buf name = {0}, value = {0};
        if (ap_json_string(k, &name) == 0 && ap_json_type(v) == AP_JSON_STRING &&
            ap_json_string(v, &value) == 0 && !memchr(name.data ? name.data : "", '\n', name.len) &&
            !memchr(value.data ? value.data : "", '\n', value.len)) {
            has_date |= name.len == 4 && strncasecmp(name.data, "date", 4) == 0;
            has_id |= name.len == 10 && strncasecmp(name.data, "request-id", 10) == 0;
            ap_buf_append(&x->resp_headers, name.data, name.len);
            ap_buf_append(&x->resp_headers, ": ", 2);
            ap_buf_append(&x->resp_headers, value.data ? value.data : "", value.len);
            ap_buf_append(&x->resp_headers, "\r\n", 2);
        }
        ap_buf_free(&name);
        ap_buf_free(&value);
    }
    static const char *const inherited[] = {"date", "request-id"};
    int has[] = {has_date, has_id};
    for (int i = 0; i < 2; i++) {
        const char *d;
        size_t dn;
        if (!has[i] && ap_header_find(envelope_headers, inherited[i], &d, &dn)) {
            ap_buf_append_str(&x->resp_headers, inherited[i]);
            ap_buf_append(&x->resp_headers, ": ", 2);
            ap_buf_append(&x->resp_headers, d, dn);
            ap_buf_append(&x->resp_headers, "\r\n", 2);
        }
    }
}

static void left_out(ap_xfer *x, const char *why)
{
    x->code = CURLE_GOT_NOTHING; /* transient: an idempotent item is sent again */
    snprintf(x->errbuf, sizeof x->errbuf, "%s", why);
}

static int id_of(ap_json v)
{
    double d;
    ap_buf b = {0};
    int id = -1;
    if (ap_json_type(v) == AP_JSON_NUMBER && ap_json_number(v, &d) == 0)
        id = (int)d;
    else if (ap_json_string(v, &b) == 0 && b.len > 0 && b.len < 4)
        id = atoi(b.data);
    ap_buf_free(&b);
    return id;
}

void ap_batch_split(ap_xfer *e)
{
    ap_json root, responses, r, v;
    for (int i = 0; i < e->nitems; i++) {
        ap_xfer *x = e->items[i];
        ap_buf_reset(&x->resp_body);
        ap_buf_reset(&x->resp_headers);
        x->status = 0;
        left_out(x, "the $batch reply left this request out");
    }
    if (ap_json_parse(e->resp_body.data, e->resp_body.len, &root) != 0 ||
        !ap_json_member(root, "responses", &responses) || ap_json_type(responses) != AP_JSON_ARRAY) {
        for (int i = 0; i < e->nitems; i++)
            left_out(e->items[i], "the $batch reply holds no responses");
        return;
    }
    size_t pos = 0;
    while (ap_json_next(responses, &pos, NULL, &r)) {
        double status;
        if (!ap_json_member(r, "id", &v))
            continue;
        int id = id_of(v);
        if (id < 1 || id > e->nitems || !ap_json_member(r, "status", &v) || ap_json_number(v, &status) != 0 ||
            !(status >= 100 && status < 600))
            continue;
        ap_xfer *x = e->items[id - 1];
        x->code = CURLE_OK;
        x->errbuf[0] = '\0';
        x->status = (long)status;
        ap_buf_reset(&x->resp_headers);
        if (ap_json_member(r, "headers", &v) && ap_json_type(v) == AP_JSON_OBJECT)
            take_headers(x, v, &e->resp_headers);
        else
            take_headers(x, (ap_json){"{}", 2}, &e->resp_headers);
        ap_buf_reset(&x->resp_body);
        if (ap_json_member(r, "body", &v) && ap_json_type(v) != AP_JSON_NULL)
            ap_buf_append(&x->resp_body, v.p, v.n); /* JSON text, as a reply's body would be */
    }
}
