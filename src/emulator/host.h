/*
 * lua-autopilot emulator host: shared declarations.
 * One server = one libmicrohttpd daemon + one lua_State, driven by one server thread of ours.
 * Licence: MIT (see the repository).
 */
#ifndef AUTOPILOT_EMULATOR_HOST_H
#define AUTOPILOT_EMULATOR_HOST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>
#include <microhttpd.h>

#define HOST_BODY_MAX (8u * 1024u * 1024u) /* request bodies past this get a 413 */
#define HOST_CONN_LIMIT 4096u
#define HOST_LOG_MAX 512

/* What the app asked for besides a plain reply. */
enum host_fault { FAULT_NONE = 0, FAULT_RESET, FAULT_TRUNCATE, FAULT_STALL, FAULT_DROP, FAULT_TRICKLE };

/* Where one exchange (request + reply) is in its life. */
enum exchange_phase {
    PHASE_RECEIVING = 0, /* headers seen, body arriving */
    PHASE_SUSPENDED,     /* reply prepared, waiting for its timer */
    PHASE_RESUMED,       /* timer fired: queue the reply (or close, for stall) */
    PHASE_ABORT,         /* server stopping: close without a reply */
    PHASE_DONE           /* reply queued or connection refused */
};

struct server;

/* One request on one connection; allocated by the URI log callback, freed by the completion callback. */
struct exchange {
    struct server *srv;
    struct MHD_Connection *conn;
    char *target; /* raw request target, still percent-encoded */
    char *body;
    size_t body_len, body_cap;
    int too_large;
    int started; /* the handler saw the headers */
    enum exchange_phase phase;
    /* request headers, pointers into MHD's connection memory (valid during the request) */
    const char **hdr;
    size_t *hdr_len; /* lengths: name, value, name, value, ... */
    size_t hdr_count, hdr_cap;
    /* the prepared reply while suspended */
    struct MHD_Response *reply;
    unsigned status;
    enum host_fault fault;
    double due;       /* ap_now() time the timer fires */
    size_t heap_slot; /* index in the timer heap + 1; 0 = not queued */
    int held;         /* counted in server->held: suspended, the handler not yet called back */
};

/* The server: owned by the userdata of host.start. */
struct server {
    struct MHD_Daemon *daemon;
    lua_State *L; /* the server state; guarded by lock */
    int app_ref;  /* registry reference to the app object in L */
    pthread_mutex_t lock;
    int lock_ready;
    pthread_t thread;
    int thread_started;
    int wake_fd; /* eventfd: wakes the loop to stop */
    atomic_int stopping;
    /* timer heap of suspended exchanges (server thread only) */
    struct exchange **heap;
    size_t heap_len, heap_cap;
    int poll_soon; /* a fault reply wants another turn shortly (server thread only) */
    size_t held;   /* connections suspended and not yet back in the handler (server thread only) */
    unsigned short port;
    int tls;
    int ipv6;
    char bind[64];
    char *tls_cert, *tls_key;
    /* start-up diagnostics from MHD's logger (caller thread, before the server thread exists) */
    int log_capture;
    char log[HOST_LOG_MAX];
    /* srv:call result, kept here so nothing malloc'd is held across a raising call */
    char *callbuf;
    size_t callbuf_cap;
};

/* timers.c: the heap of suspended exchanges */
int timers_push(struct server *s, struct exchange *ex);
void timers_remove(struct server *s, struct exchange *ex);
struct exchange *timers_first(const struct server *s);

/* state.c: the server lua_State */
int state_open(struct server *s, const char *app, const char *config, size_t config_len, const char *path,
               const char *cpath, const char **err);
double state_handle(struct server *s, struct exchange *ex, struct MHD_Connection *conn, const char *method);
int state_call(struct server *s, const char *name, const char *arg, size_t arg_len, const char **out,
               size_t *out_len);
void state_close(struct server *s);

/* reply.c: building MHD responses */
struct MHD_Response *reply_plain(const char *body, size_t len, int gzip);
struct MHD_Response *reply_fault(struct server *s, struct MHD_Connection *conn, enum host_fault fault,
                                 const char *body, size_t len);
int reply_header(struct MHD_Response *r, const char *name, const char *value);
int reply_accepts_gzip(const char *accept_encoding);
struct MHD_Response *reply_error(const char *code, const char *message);
void reply_abort_socket(struct MHD_Connection *conn);

/* server.c: the daemon and its loop */
int server_listen(struct server *s, const char **err);
int server_run(struct server *s, const char **err);
void server_stop(struct server *s);
void server_suspend(struct server *s, struct exchange *ex, double delay);

/* crypto.c */
__attribute__((visibility("default"))) int luaopen_autopilot_emulator_crypto(lua_State *L);

#endif
