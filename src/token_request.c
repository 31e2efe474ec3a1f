/*
 * lua-autopilot: token endpoint requests (token_request.h).
 */
#include <string.h>

#include "token_request.h"

int ap_form_add(ap_buf *form, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    if ((form->len && ap_buf_append(form, "&", 1)) || ap_buf_append_str(form, name) ||
        ap_buf_append(form, "=", 1))
        return -1;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        char enc[3];
        size_t n = 1;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~')
            enc[0] = (char)*p;
        else
            enc[0] = '%', enc[1] = hex[*p >> 4], enc[2] = hex[*p & 15], n = 3;
        if (ap_buf_append(form, enc, n))
            return -1;
    }
    return 0;
}

static ap_xfer *token_xfer(const char *method, const char *url)
{
    ap_xfer *t = ap_xfer_new(AP_XK_TOKEN, method, url);
    if (t)
        t->idempotent = 1; /* asking again for a token is harmless */
    return t;
}

ap_xfer *ap_token_post(const char *url, ap_buf *form)
{
    ap_xfer *t = token_xfer("POST", url);
    if (!t) {
        ap_buf_free(form);
        return NULL;
    }
    t->body_len = form->len;
    t->body = ap_buf_take(form); /* the transfer wipes it when freed */
    t->has_body = 1;
    return t;
}

ap_xfer *ap_token_get(const char *url, const char *header)
{
    ap_xfer *t = token_xfer("GET", url);
    if (t && ap_xfer_add_header(t, header) != 0) {
        ap_xfer_free(t);
        return NULL;
    }
    return t;
}
