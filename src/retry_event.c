/*
 * lua-autopilot: the retry events of retry_event.h.
 */
#include <stdio.h>

#include "curl_names.h"
#include "retry_event.h"

void ap_retry_event_record(ap_retry_events *q, const ap_retry_event *e)
{
    if (!q->enabled)
        return;
    if (q->count == AP_RETRY_EVENTS) { /* the oldest goes: the newest says what is being waited for */
        q->head = (q->head + 1) % AP_RETRY_EVENTS;
        q->count--;
        q->dropped++;
    }
    q->ring[(q->head + q->count) % AP_RETRY_EVENTS] = *e;
    q->count++;
}

int ap_retry_event_take(ap_retry_events *q, ap_retry_event *e)
{
    if (q->count == 0)
        return 0;
    *e = q->ring[q->head];
    q->head = (q->head + 1) % AP_RETRY_EVENTS;
    q->count--;
    return 1;
}

static const char *transport_reason(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
        return "connection refused";
    case CURLE_OPERATION_TIMEDOUT:
        return "timed out";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return "connection broken";
    case CURLE_GOT_NOTHING:
        return "empty reply";
    case CURLE_SSL_CONNECT_ERROR:
        return "TLS handshake failed";
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
        return "reply cut short";
    default:
        return NULL;
    }
}

const char *ap_retry_event_reason(const ap_retry_event *e, char *buf, size_t size)
{
    if (e->code != CURLE_OK) {
        const char *r = transport_reason(e->code);
        if (r)
            return r;
        snprintf(buf, size, "transport failure %s", ap_curl_name(e->code));
        return buf;
    }
    const char *what = e->status == 429   ? " (throttled)"
                       : e->status == 503 ? " (service unavailable)"
                       : e->status == 504 ? " (gateway timeout)"
                                          : "";
    snprintf(buf, size, "HTTP %ld%s", e->status, what);
    return buf;
}

void ap_retry_event_push(lua_State *L, const ap_retry_event *e)
{
    char buf[64];
    lua_createtable(L, 0, 9);
    lua_pushinteger(L, e->id);
    lua_setfield(L, -2, "id");
    lua_pushboolean(L, e->id == 0);
    lua_setfield(L, -2, "token");
    lua_pushstring(L, ap_retry_event_reason(e, buf, sizeof buf));
    lua_setfield(L, -2, "reason");
    if (e->code != CURLE_OK) {
        lua_pushstring(L, ap_curl_name(e->code));
        lua_setfield(L, -2, "code");
    }
    if (e->status > 0) {
        lua_pushinteger(L, e->status);
        lua_setfield(L, -2, "status");
    }
    lua_pushinteger(L, e->retry);
    lua_setfield(L, -2, "retry");
    lua_pushinteger(L, e->of);
    lua_setfield(L, -2, "of");
    lua_pushnumber(L, e->wait);
    lua_setfield(L, -2, "wait");
}
