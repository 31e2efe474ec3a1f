/*
 * lua-autopilot: curl's error names without the CURLE_ prefix ("OPERATION_TIMEDOUT"), and which
 * transport failures are transient enough to retry for an idempotent request. One table, so the
 * version guards live in one place.
 */
#include <string.h>

#include "curl_names.h"

#define E(name, transient)                                                                                   \
    {                                                                                                        \
        CURLE_##name, #name, transient                                                                       \
    }

static const struct {
    CURLcode code;
    const char *name;
    int transient;
} names[] = {
    E(OK, 0),
    E(UNSUPPORTED_PROTOCOL, 0),
    E(FAILED_INIT, 0),
    E(URL_MALFORMAT, 0),
    E(NOT_BUILT_IN, 0),
    E(COULDNT_RESOLVE_PROXY, 0), /* a misspelt host: retrying cannot heal it */
    E(COULDNT_RESOLVE_HOST, 0),
    E(COULDNT_CONNECT, 1),
    E(WEIRD_SERVER_REPLY, 1),
    E(REMOTE_ACCESS_DENIED, 0),
    E(HTTP2, 1),
    E(PARTIAL_FILE, 1),
    E(HTTP_RETURNED_ERROR, 0),
    E(WRITE_ERROR, 0),
    E(UPLOAD_FAILED, 1),
    E(READ_ERROR, 0),
    E(OUT_OF_MEMORY, 0),
    E(OPERATION_TIMEDOUT, 1),
    E(RANGE_ERROR, 0),
    E(HTTP_POST_ERROR, 0),
    E(SSL_CONNECT_ERROR, 1), /* a handshake cut short; but see ap_curl_transient_msg */
    E(BAD_DOWNLOAD_RESUME, 0),
    E(FILE_COULDNT_READ_FILE, 0),
    E(FUNCTION_NOT_FOUND, 0),
    E(ABORTED_BY_CALLBACK, 0),
    E(BAD_FUNCTION_ARGUMENT, 0),
    E(INTERFACE_FAILED, 0),
    E(TOO_MANY_REDIRECTS, 0),
    E(UNKNOWN_OPTION, 0),
    E(GOT_NOTHING, 1),
    E(SSL_ENGINE_NOTFOUND, 0),
    E(SSL_ENGINE_SETFAILED, 0),
    E(SEND_ERROR, 1),
    E(RECV_ERROR, 1),
    E(SSL_CERTPROBLEM, 0),
    E(SSL_CIPHER, 0),
    E(PEER_FAILED_VERIFICATION, 0),
    E(BAD_CONTENT_ENCODING, 1), /* a body cut short inside the gzip stream */
    E(FILESIZE_EXCEEDED, 0),
    E(USE_SSL_FAILED, 0),
    E(SEND_FAIL_REWIND, 0),
    E(SSL_ENGINE_INITFAILED, 0),
    E(LOGIN_DENIED, 0),
    E(SSL_CACERT_BADFILE, 0),
    E(SSL_SHUTDOWN_FAILED, 0),
    E(AGAIN, 1),
    E(SSL_CRL_BADFILE, 0),
    E(SSL_ISSUER_ERROR, 0),
    E(CHUNK_FAILED, 0),
    E(NO_CONNECTION_AVAILABLE, 1),
    E(SSL_PINNEDPUBKEYNOTMATCH, 0),
    E(SSL_INVALIDCERTSTATUS, 0),
    E(HTTP2_STREAM, 1),
    E(RECURSIVE_API_CALL, 0),
#if LIBCURL_VERSION_NUM >= 0x073d00 /* 7.61.0 */
    E(AUTH_ERROR, 0),
#endif
#if LIBCURL_VERSION_NUM >= 0x074200 /* 7.66.0 */
    E(HTTP3, 1),
#endif
#if LIBCURL_VERSION_NUM >= 0x074500 /* 7.69.0 */
    E(QUIC_CONNECT_ERROR, 1),
#endif
#if LIBCURL_VERSION_NUM >= 0x074900 /* 7.73.0 */
    E(PROXY, 1),
#endif
#if LIBCURL_VERSION_NUM >= 0x074d00 /* 7.77.0 */
    E(SSL_CLIENTCERT, 0),
#endif
#if LIBCURL_VERSION_NUM >= 0x075400 /* 7.84.0 */
    E(UNRECOVERABLE_POLL, 0),
#endif
};

const char *ap_curl_name(CURLcode c)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == c)
            return names[i].name;
    return "UNKNOWN_ERROR";
}

int ap_curl_transient(CURLcode c)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == c)
            return names[i].transient;
    return 0;
}

/* OpenSSL's words when the server's first bytes are not TLS: plain HTTP on an https URL. */
static int protocol_mismatch(CURLcode c, const char *msg)
{
    return c == CURLE_SSL_CONNECT_ERROR && msg && strstr(msg, "wrong version number");
}

int ap_curl_transient_msg(CURLcode c, const char *msg)
{
    return ap_curl_transient(c) && !protocol_mismatch(c, msg);
}

const char *ap_curl_hint(CURLcode c, const char *msg)
{
    if (protocol_mismatch(c, msg))
        return "is this URL https on a plain-http server?";
    if (c == CURLE_COULDNT_RESOLVE_HOST)
        return "is the host name in the URL right?";
    if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE)
        return "the server's certificate is not trusted: see ca_file / ca_path";
    if (c == CURLE_URL_MALFORMAT)
        return "the URL is malformed";
    return NULL;
}
