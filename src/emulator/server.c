/*
 * lua-autopilot emulator host: the libmicrohttpd daemon and the server thread that drives it.
 * The daemon runs in external-loop mode (epoll); our thread polls MHD's epoll fd, the wake eventfd and the
 * timer heap, so one thread owns every MHD call and every Lua call into the server state (under the lock).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "host.h"

/* ---- per-exchange bookkeeping ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct exchange *ex = calloc(1, sizeof *ex);
    if (!ex)
        return NULL;
    ex->srv = cls;
    ex->conn = conn;
    ex->target = strdup(uri ? uri : "");
    if (!ex->target) {
        free(ex);
        return NULL;
    }
    return ex;
}

/* Keep the target exactly as sent: the app decodes what it needs. */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static void exchange_free(struct exchange *ex)
{
    if (ex->reply)
        MHD_destroy_response(ex->reply);
    free(ex->target);
    free(ex->body);
    free(ex->hdr);
    free(ex->hdr_len);
    free(ex);
}

/* The connection is back from suspension (MHD stops only when none is left suspended). */
static void release(struct server *s, struct exchange *ex)
{
    if (ex->held) {
        ex->held = 0;
        s->held--;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct exchange *ex = *con_cls;
    (void)conn;
    (void)toe;
    if (!ex)
        return;
    timers_remove(s, ex);
    release(s, ex);
    exchange_free(ex);
    *con_cls = NULL;
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                 const char *value, size_t value_size)
{
    struct exchange *ex = cls;
    (void)kind;
    if (ex->hdr_count + 2 > ex->hdr_cap) {
        size_t cap = ex->hdr_cap ? 2 * ex->hdr_cap : 32;
        const char **h = realloc(ex->hdr, cap * sizeof *h);
        size_t *l;
        if (!h)
            return MHD_NO;
        ex->hdr = h;
        l = realloc(ex->hdr_len, cap * sizeof *l);
        if (!l)
            return MHD_NO;
        ex->hdr_len = l;
        ex->hdr_cap = cap;
    }
    ex->hdr[ex->hdr_count] = key;
    ex->hdr_len[ex->hdr_count++] = key_size;
    ex->hdr[ex->hdr_count] = value ? value : "";
    ex->hdr_len[ex->hdr_count++] = value ? value_size : 0;
    return MHD_YES;
}

/* ---- the access handler ---- */

static enum MHD_Result queue(struct exchange *ex, struct MHD_Connection *conn, struct MHD_Response *r,
                             unsigned status)
{
    enum MHD_Result ok;
    ex->phase = PHASE_DONE;
    if (!r)
        return MHD_NO;
    ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Sends the prepared reply, or closes the way the fault asks. */
static enum MHD_Result finish(struct exchange *ex, struct MHD_Connection *conn)
{
    struct MHD_Response *r = ex->reply;
    ex->reply = NULL;
    if (r)
        return queue(ex, conn, r, ex->status);
    ex->phase = PHASE_DONE;
    if (ex->fault == FAULT_RESET)
        reply_abort_socket(conn);
    return MHD_NO; /* MHD closes the connection without a reply */
}

void server_suspend(struct server *s, struct exchange *ex, double delay)
{
    ex->due = ap_now() + delay;
    ex->phase = PHASE_SUSPENDED;
    ex->held = 1;
    s->held++;
    MHD_suspend_connection(ex->conn);
    if (!timers_push(s, ex)) {
        /* out of memory: better late than never, reply at once */
        ex->phase = PHASE_RESUMED;
        MHD_resume_connection(ex->conn);
    }
}

static enum MHD_Result dispatch(struct server *s, struct exchange *ex, struct MHD_Connection *conn,
                                const char *method)
{
    double delay;
    if (atomic_load(&s->stopping)) { /* no new replies while stopping: they could be suspended past the end */
        ex->phase = PHASE_DONE;
        return MHD_NO;
    }
    ex->hdr_count = 0;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, on_header, ex);
    delay = state_handle(s, ex, conn, method);
    if (delay > 0) {
        server_suspend(s, ex, delay);
        return MHD_YES;
    }
    return finish(ex, conn);
}

static struct MHD_Response *too_large(void)
{
    return reply_error("RequestEntityTooLarge", "The request body is larger than 8 MiB.");
}

static enum MHD_Result receive(struct server *s, struct exchange *ex, struct MHD_Connection *conn,
                               const char *method, const char *upload, size_t *upload_size)
{
    size_t n = *upload_size;
    if (!ex->started) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        ex->started = 1;
        if (cl && strtoull(cl, NULL, 10) > HOST_BODY_MAX) { /* refuse before the body (no 100 Continue) */
            ex->too_large = 1;
            return queue(ex, conn, too_large(), MHD_HTTP_CONTENT_TOO_LARGE);
        }
        return MHD_YES;
    }
    if (n == 0) {
        if (ex->too_large)
            return queue(ex, conn, too_large(), MHD_HTTP_CONTENT_TOO_LARGE);
        return dispatch(s, ex, conn, method);
    }
    *upload_size = 0;
    if (ex->too_large)
        return MHD_YES; /* a chunked body past the cap: read and drop the rest */
    if (n > HOST_BODY_MAX - ex->body_len) {
        ex->too_large = 1;
        free(ex->body);
        ex->body = NULL;
        ex->body_len = ex->body_cap = 0;
        return MHD_YES;
    }
    if (ex->body_len + n > ex->body_cap) {
        size_t cap = ex->body_cap ? ex->body_cap : 4096;
        char *b;
        while (cap < ex->body_len + n)
            cap *= 2;
        b = realloc(ex->body, cap);
        if (!b)
            return MHD_NO;
        ex->body = b;
        ex->body_cap = cap;
    }
    memcpy(ex->body + ex->body_len, upload, n);
    ex->body_len += n;
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct exchange *ex = *con_cls;
    (void)url;
    (void)version;
    if (!ex)
        return MHD_NO;
    switch (ex->phase) {
    case PHASE_RECEIVING:
        return receive(s, ex, conn, method, upload, upload_size);
    case PHASE_RESUMED:
        release(s, ex);
        return finish(ex, conn);
    case PHASE_ABORT:
        release(s, ex);
        return MHD_NO;
    case PHASE_SUSPENDED:
    case PHASE_DONE:
    default:
        *upload_size = 0; /* discard whatever still arrives after an early reply */
        return MHD_YES;
    }
}

/* ---- the loop ---- */

static int next_timeout(struct server *s)
{
    MHD_UNSIGNED_LONG_LONG mhd_ms;
    long ms = -1;
    struct exchange *first = timers_first(s);
    if (MHD_get_timeout(s->daemon, &mhd_ms) == MHD_YES)
        ms = mhd_ms > 60000 ? 60000 : (long)mhd_ms;
    if (first) {
        double d = (first->due - ap_now()) * 1000.0;
        long t = d <= 0 ? 0 : (long)ceil(d);
        if (ms < 0 || t < ms)
            ms = t;
    }
    if (s->poll_soon && (ms < 0 || ms > 2))
        ms = 2;
    s->poll_soon = 0;
    return (int)ms;
}

static void fire_timers(struct server *s)
{
    double now = ap_now();
    struct exchange *ex;
    while ((ex = timers_first(s)) && ex->due <= now) {
        timers_remove(s, ex);
        ex->phase = PHASE_RESUMED;
        MHD_resume_connection(ex->conn);
    }
}

/* On stop: every suspended connection is resumed and closed, and MHD is run until none is left
 * suspended (MHD_stop_daemon aborts the process otherwise); bounded to about ten seconds. */
static void abort_suspended(struct server *s, int epoll_fd)
{
    struct exchange *ex;
    int i;
    while ((ex = timers_first(s))) {
        timers_remove(s, ex);
        ex->phase = PHASE_ABORT;
        MHD_resume_connection(ex->conn);
    }
    MHD_run(s->daemon);
    for (i = 0; s->held > 0 && i < 1000; i++) {
        struct pollfd p;
        p.fd = epoll_fd;
        p.events = POLLIN;
        poll(&p, 1, 10);
        MHD_run(s->daemon);
    }
}

static void *server_main(void *arg)
{
    struct server *s = arg;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    struct pollfd fds[2];
    fds[0].fd = info ? info->epoll_fd : -1;
    fds[0].events = POLLIN;
    fds[1].fd = s->wake_fd;
    fds[1].events = POLLIN;
    while (!atomic_load(&s->stopping)) {
        int timeout = next_timeout(s);
        if (poll(fds, 2, timeout) < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN) {
            uint64_t v;
            if (read(s->wake_fd, &v, sizeof v) < 0) { /* nothing to do: stopping is checked below */
            }
        }
        if (atomic_load(&s->stopping))
            break;
        fire_timers(s);
        MHD_run(s->daemon);
    }
    abort_suspended(s, fds[0].fd);
    return NULL;
}

/* ---- start and stop ---- */

__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
    struct server *s = cls;
    if (s->log_capture)
        vsnprintf(s->log, sizeof s->log, fmt, ap);
}

/* The logger first: MHD wants it before any option that may log. */
#define COMMON_OPTIONS                                                                                       \
    MHD_OPTION_EXTERNAL_LOGGER, on_log, (void *)s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, (void *)s,           \
        MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, (void *)s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,     \
        (void *)s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HOST_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,    \
        (unsigned)300, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024

int server_listen(struct server *s, const char **err)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (inet_pton(AF_INET, s->bind, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(s->port);
        sa = (const struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, s->bind, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(s->port);
        sa = (const struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        *err = "bind address is not a numeric IPv4 or IPv6 address";
        return 0;
    }
    s->log[0] = '\0';
    s->log_capture = 1;
    if (s->tls)
        s->daemon = MHD_start_daemon(flags | MHD_USE_TLS, s->port, NULL, NULL, on_access, s, COMMON_OPTIONS,
                                     MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert,
                                     MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, MHD_OPTION_END);
    else
        s->daemon = MHD_start_daemon(flags, s->port, NULL, NULL, on_access, s, COMMON_OPTIONS,
                                     MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_END);
    s->log_capture = 0;
    if (!s->daemon) {
        size_t n = strlen(s->log);
        while (n > 0 && (s->log[n - 1] == '\n' || s->log[n - 1] == '.'))
            s->log[--n] = '\0';
        *err = s->log[0] ? s->log : "cannot start the HTTP daemon";
        return 0;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        s->port = info->port;
    return 1;
}

int server_run(struct server *s, const char **err)
{
    sigset_t block, old;
    int rc;
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        *err = "cannot create the wake-up eventfd";
        return 0;
    }
    /* The server thread never takes SIGINT/SIGTERM, so host.wait_signal can sigwait for them. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    rc = pthread_create(&s->thread, NULL, server_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        *err = "cannot create the server thread";
        return 0;
    }
    s->thread_started = 1;
    return 1;
}

void server_stop(struct server *s)
{
    if (s->thread_started) {
        uint64_t one = 1;
        atomic_store(&s->stopping, 1);
        if (write(s->wake_fd, &one, sizeof one) < 0) { /* the loop also checks stopping after each poll */
        }
        pthread_join(s->thread, NULL);
        s->thread_started = 0;
    }
    if (s->daemon) {
        if (s->held == 0)
            MHD_stop_daemon(s->daemon);
        else /* MHD would abort the process: leaking the daemon is the lesser evil */
            fprintf(stderr,
                    "autopilot-emulator: %zu connections stayed suspended; the daemon is left behind\n",
                    s->held);
        s->daemon = NULL;
    }
    if (s->wake_fd >= 0) {
        close(s->wake_fd);
        s->wake_fd = -1;
    }
}
