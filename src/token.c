/*
 * lua-autopilot: the access token (token.h) and reading token endpoint replies.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "token.h"

#define DEFAULT_LIFETIME 3599.0 /* what Entra grants when a reply does not say */
#define MIN_LIFETIME 1.0 /* a floor: a reply granting less must not make us post the secret in a loop */

static void wipe_free(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

/* A string member into a buffer; absent, not a string, or out of memory leaves it empty. */
static void string_member(ap_json obj, const char *key, ap_buf *out)
{
    ap_json v;
    if (ap_json_member(obj, key, &v) && ap_json_string(v, out) != 0)
        ap_buf_reset(out);
}

static double number_member(ap_json obj, const char *key)
{
    ap_json v;
    double d;
    return ap_json_member(obj, key, &v) && ap_json_number(v, &d) == 0 ? d : -1;
}

int ap_token_reply_parse(ap_token_reply *r, const char *body, size_t n)
{
    memset(r, 0, sizeof *r);
    r->access_token.secret = r->refresh_token.secret = 1;
    r->expires_in = r->expires_on = -1;
    ap_json root;
    if (ap_json_parse(body, n, &root) != 0 || ap_json_type(root) != AP_JSON_OBJECT)
        return -1;
    string_member(root, "access_token", &r->access_token);
    string_member(root, "refresh_token", &r->refresh_token);
    string_member(root, "scope", &r->scope);
    r->expires_in = number_member(root, "expires_in");
    r->expires_on = number_member(root, "expires_on");
    ap_json e;
    ap_buf err = {0};
    if (ap_json_member(root, "error", &e) && ap_json_string(e, &err) == 0 && err.len < sizeof r->error)
        memcpy(r->error, err.data, err.len + 1);
    ap_buf_free(&err);
    return 0;
}

void ap_token_reply_free(ap_token_reply *r)
{
    ap_buf_free(&r->access_token);
    ap_buf_free(&r->refresh_token);
    ap_buf_free(&r->scope);
}

int ap_token_usable(const ap_token *t, double now)
{
    return t->value && (t->lasting || now < t->expires_mono);
}

int ap_token_fresh(const ap_token *t, double now)
{
    return t->value && (t->lasting || now < t->refresh_mono);
}

/* Safe to put in a header line: printable, no NUL inside. */
static int header_safe(const ap_buf *b)
{
    if (!b->data || b->len == 0 || strlen(b->data) != b->len)
        return 0;
    for (size_t i = 0; i < b->len; i++)
        if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
            return 0;
    return 1;
}

int ap_token_take(ap_token *t, ap_token_reply *r, double now)
{
    if (!header_safe(&r->access_token))
        return 0;
    double life = r->expires_in;
    if (!(life > 0)) /* managed identity: expires_on, epoch seconds */
        life = r->expires_on - ap_epoch() > 0 ? r->expires_on - ap_epoch() : DEFAULT_LIFETIME;
    if (life < MIN_LIFETIME)
        life = MIN_LIFETIME; /* at most one token request a second; a token already dead gets a 401, retried
                                once */
    wipe_free(&t->value);
    t->value = ap_buf_take(&r->access_token);
    t->gen++;
    t->lasting = 0;
    double ahead = life * 0.1 > 300 ? 300 : life * 0.1;
    double margin = life * 0.02 > 30 ? 30 : life * 0.02;
    t->expires_mono = now + life - margin;
    t->refresh_mono = now + life - ahead;
    t->expires_epoch = ap_epoch() + life;
    t->fetched++;
    if (header_safe(&r->scope)) {
        free(t->granted_scope);
        t->granted_scope = ap_buf_take(&r->scope);
    }
    return 1;
}

int ap_token_set_lasting(ap_token *t, const char *value, size_t n)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, value, n);
    copy[n] = '\0';
    wipe_free(&t->value);
    t->value = copy;
    t->lasting = 1;
    t->gen++;
    return 0;
}

void ap_token_drop(ap_token *t, unsigned gen)
{
    if (t->lasting || t->gen != gen)
        return; /* the caller's own token stays; or it was replaced already */
    wipe_free(&t->value);
    t->gen++;
    t->expires_mono = t->refresh_mono = t->expires_epoch = 0;
}

void ap_token_free(ap_token *t)
{
    wipe_free(&t->value);
    free(t->granted_scope);
    t->granted_scope = NULL;
}
