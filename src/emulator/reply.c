/*
 * lua-autopilot emulator host: building replies (plain, gzip, error envelopes) and the faults that break
 * them on purpose (reset, truncate, trickle).
 */
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <zlib.h>

#include <linux/sockios.h>

#include "clock.h"
#include "host.h"

/* ---- gzip ---- */

/* Compresses src into a malloc'd gzip member; NULL when out of memory. */
static char *gzip(const char *src, size_t len, size_t *out_len)
{
    z_stream z;
    uLong bound;
    char *out;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    bound = deflateBound(&z, (uLong)len);
    out = malloc(bound);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(out);
        return NULL;
    }
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

/* True when an Accept-Encoding value admits gzip (gzip, x-gzip or *, with a non-zero q). */
int reply_accepts_gzip(const char *ae)
{
    int star = 0, named = -1; /* named: -1 unseen, 0 refused, 1 accepted */
    const char *p = ae;
    if (!ae)
        return 0;
    while (*p) {
        const char *tok, *end, *q;
        size_t n;
        int ok = 1;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        n = (size_t)(p - tok);
        end = p;
        while (*end && *end != ',')
            end++;
        q = p;
        while (q < end) { /* look for q=0 among the parameters */
            if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                double v = strtod(q + 2, NULL);
                ok = v > 0;
                break;
            }
            q++;
        }
        if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) || (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            named = ok;
        else if (n == 1 && tok[0] == '*')
            star = ok;
        p = end;
    }
    return named >= 0 ? named : star;
}

struct MHD_Response *reply_plain(const char *body, size_t len, int want_gzip)
{
    if (want_gzip && len > 0) {
        size_t zlen = 0;
        char *z = gzip(body, len, &zlen);
        struct MHD_Response *r;
        if (!z)
            return NULL;
        r = MHD_create_response_from_buffer(zlen, z, MHD_RESPMEM_MUST_FREE);
        if (!r) {
            free(z);
            return NULL;
        }
        if (MHD_add_response_header(r, "Content-Encoding", "gzip") != MHD_YES) {
            MHD_destroy_response(r);
            return NULL;
        }
        return r;
    }
    return MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
}

/* Adds one header; MHD refuses a few it manages itself (Content-Length, ...), which we then leave to it. */
int reply_header(struct MHD_Response *r, const char *name, const char *value)
{
    if (strcasecmp(name, "Content-Length") == 0)
        return 1;
    return MHD_add_response_header(r, name, value) == MHD_YES;
}

/* ---- error envelopes ---- */

struct MHD_Response *reply_error(const char *code, const char *message)
{
    char body[512], date[32];
    time_t now = time(NULL);
    struct tm tm;
    struct MHD_Response *r;
    int n;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(body, sizeof body,
                 "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"innerError\":{\"date\":\"%s\"}}}", code,
                 message, date);
    if (n < 0 || (size_t)n >= sizeof body)
        return NULL;
    r = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return NULL;
    MHD_add_response_header(r, "Content-Type", "application/json");
    return r;
}

/* ---- faults ---- */

/* Resets the TCP connection now (RST, not FIN): connect(AF_UNSPEC) disconnects a Linux TCP socket abortively.
 */
void reply_abort_socket(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr sa;
    struct linger lg;
    if (!ci)
        return;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNSPEC;
    connect(ci->connect_fd, &sa, sizeof sa);
}

struct broken_body {
    struct server *srv;
    struct MHD_Connection *conn;
    enum host_fault fault;
    int fd;
    int turns;
    double next; /* trickle: when the next byte may go */
    size_t len, cut;
    char data[];
};

/* Sends the first half of the body, then fails the way the fault says. */
#define TRICKLE_GAP 0.1 /* seconds between the bytes of a trickled body: 10 B/s */

/* The whole body, one byte every TRICKLE_GAP: a server too slow to be a stall by a 1 B/s rule. */
static ssize_t trickle_read(struct broken_body *b, uint64_t pos, char *buf)
{
    if (pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    double now = ap_now();
    if (now < b->next) {
        b->srv->poll_soon = 1;
        return 0; /* MHD calls again on a later turn of the loop */
    }
    b->next = now + TRICKLE_GAP;
    buf[0] = b->data[pos];
    return 1;
}

static ssize_t broken_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct broken_body *b = cls;
    if (b->fault == FAULT_TRICKLE)
        return trickle_read(b, pos, buf);
    if (pos < b->cut) {
        size_t n = b->cut - (size_t)pos;
        if (n > max)
            n = max;
        memcpy(buf, b->data + pos, n);
        return (ssize_t)n;
    }
    if (b->fault == FAULT_RESET && b->fd >= 0) {
        int one = 1, zero = 0, unsent = 0;
        /* let what was written reach the peer first, so it sees headers and half a body, then the reset */
        setsockopt(b->fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
        setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (ioctl(b->fd, SIOCOUTQ, &unsent) == 0 && unsent > 0 && b->turns++ < 200) {
            b->srv->poll_soon = 1;
            return 0; /* MHD calls again on a later turn of the loop */
        }
        reply_abort_socket(b->conn);
    }
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

struct MHD_Response *reply_fault(struct server *s, struct MHD_Connection *conn, enum host_fault fault,
                                 const char *body, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct broken_body *b = malloc(sizeof *b + len);
    struct MHD_Response *r;
    if (!b)
        return NULL;
    b->srv = s;
    b->conn = conn;
    b->fault = fault;
    b->fd = ci ? ci->connect_fd : -1;
    b->turns = 0;
    b->next = 0;
    b->len = len;
    b->cut = len / 2;
    memcpy(b->data, body, len);
    r = MHD_create_response_from_callback(len, 4096, broken_read, b, free);
    if (!r)
        free(b);
    return r;
}
