/* The refresh-token cache file: careful reading, atomic replacement and an inter-process lock.
 * Only the bytes are handled here; the Lua facade owns the format (JSON) and the policy.
 *
 * A cache is refused, never silently used or overwritten, when it is a symbolic link, not a
 * regular file, owned by another user, or open to group or others. Writes go to a 0600 temp
 * file in the same directory, are fsynced, renamed over the target, and the directory is
 * fsynced. File descriptors live in userdata (to-be-closed for the duration of a call), so
 * a Lua error half way leaks nothing and leaves no temp file. Contents never appear in errors. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <lua.h>
#include <lauxlib.h>

#include "clock.h"
#include "core_open.h"

#define FILEBOX_META "autopilot.TokenCacheFile"
#define LOCK_META "autopilot.TokenCacheLock"
#define MAX_CACHE_BYTES (16 * 1024 * 1024)
#define DEFAULT_LOCK_TIMEOUT 30.0

/* The descriptors and temp file of one read or write call. */
typedef struct cache_file {
    int fd;
    int dirfd;
    int have_tmp;    /* tmp names a file this call created and has not renamed yet */
    size_t tmp_base; /* offset of the temp file's name inside tmp */
    char tmp[PATH_MAX];
} cache_file;

typedef struct cache_lock {
    int fd; /* -1 once closed */
} cache_lock;

/* ---------------------------------------------------------------- file box */

static void filebox_close(cache_file *fb)
{
    if (fb->fd >= 0)
        close(fb->fd);
    fb->fd = -1;
    if (fb->have_tmp) {
        if (fb->dirfd >= 0)
            unlinkat(fb->dirfd, fb->tmp + fb->tmp_base, 0);
        else
            unlink(fb->tmp);
    }
    fb->have_tmp = 0;
    if (fb->dirfd >= 0)
        close(fb->dirfd);
    fb->dirfd = -1;
}

static int filebox_gc(lua_State *L)
{
    filebox_close(luaL_checkudata(L, 1, FILEBOX_META));
    return 0;
}

static int filebox_tostring(lua_State *L)
{
    lua_pushliteral(L, "autopilot.TokenCacheFile");
    return 1;
}

/* Pushes an empty box marked to-be-closed. */
static cache_file *filebox_new(lua_State *L)
{
    cache_file *fb = lua_newuserdatauv(L, sizeof *fb, 0);
    fb->fd = fb->dirfd = -1;
    fb->have_tmp = 0;
    fb->tmp_base = 0;
    fb->tmp[0] = '\0';
    luaL_setmetatable(L, FILEBOX_META);
    lua_toclose(L, -1);
    return fb;
}

/* Releases the box, then returns fail and a formatted message. */
static int cache_error(lua_State *L, cache_file *fb, const char *fmt, ...)
{
    va_list ap;
    if (fb)
        filebox_close(fb);
    luaL_pushfail(L);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return 2;
}

/* ---------------------------------------------------------------- checks */

static const char *check_path(lua_State *L, int arg)
{
    size_t len;
    const char *path = luaL_checklstring(L, arg, &len);
    luaL_argcheck(L, len > 0, arg, "token cache path must not be empty");
    luaL_argcheck(L, strlen(path) == len, arg, "token cache path contains a zero byte");
    luaL_argcheck(L, path[len - 1] != '/', arg, "token cache path must name a file, not a directory");
    luaL_argcheck(L, len < PATH_MAX - 32, arg, "token cache path is too long");
    return path;
}

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISLNK(m))
        return "a symbolic link";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device";
    return "not a regular file";
}

/* Pushes an error message and returns 1 if the file must not be used as a cache. */
static int insecure(lua_State *L, const char *what, const char *path, const struct stat *st, int check_mode)
{
    char mode[8];
    if (!S_ISREG(st->st_mode)) {
        lua_pushfstring(L, "%s %s is not a regular file (it is %s): remove it or choose another path", what,
                        path, file_kind(st->st_mode));
        return 1;
    }
    if (st->st_uid != geteuid()) {
        lua_pushfstring(L,
                        "%s %s is owned by another user (uid %I): refusing to use it; delete it or choose "
                        "another path",
                        what, path, (lua_Integer)st->st_uid);
        return 1;
    }
    if (check_mode && (st->st_mode & 077) != 0) {
        snprintf(mode, sizeof mode, "0%03o", (unsigned)(st->st_mode & 0777));
        lua_pushfstring(L, "%s %s is %s by others (mode %s): fix with chmod 600, or delete it", what, path,
                        (st->st_mode & 044) ? "readable" : "writable", mode);
        return 1;
    }
    return 0;
}

static int fail_insecure(lua_State *L, cache_file *fb)
{
    filebox_close(fb);
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
}

/* ---------------------------------------------------------------- read / write */

/***
 * Reads a token cache file.
 * @function token_cache_read
 * @tparam string path
 * @treturn[1] string the contents
 * @treturn[2] boolean false when there is no such file
 * @return[3] nil
 * @treturn[3] string why the file cannot be used (symbolic link, not a regular file, another
 *   user's, readable or writable by others, I/O error); never the contents
 */
static int l_token_cache_read(lua_State *L)
{
    const char *path = check_path(L, 1);
    struct stat st;
    luaL_Buffer b;
    lua_settop(L, 1);
    cache_file *fb = filebox_new(L);
    fb->fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fb->fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            filebox_close(fb);
            lua_pushboolean(L, 0);
            return 1;
        }
        if (e == ELOOP)
            return cache_error(L, fb,
                               "token cache %s is a symbolic link: refusing to follow it; replace it with "
                               "a regular file or choose another path",
                               path);
        return cache_error(L, fb, "cannot open token cache %s: %s", path, strerror(e));
    }
    if (fstat(fb->fd, &st) != 0) {
        int e = errno;
        return cache_error(L, fb, "cannot inspect token cache %s: %s", path, strerror(e));
    }
    if (insecure(L, "token cache", path, &st, 1))
        return fail_insecure(L, fb);
    if (st.st_size > MAX_CACHE_BYTES)
        return cache_error(L, fb, "token cache %s is too large (%I bytes) to be a token cache", path,
                           (lua_Integer)st.st_size);
    luaL_buffinit(L, &b);
    size_t total = 0;
    for (;;) {
        char *p = luaL_prepbuffsize(&b, 16384);
        ssize_t n = read(fb->fd, p, 16384);
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            return cache_error(L, fb, "cannot read token cache %s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        total += (size_t)n;
        if (total > MAX_CACHE_BYTES)
            return cache_error(L, fb, "token cache %s is too large to be a token cache", path);
        luaL_addsize(&b, (size_t)n);
    }
    filebox_close(fb);
    luaL_pushresult(&b);
    return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/***
 * Replaces a token cache file atomically with mode 0600.
 * @function token_cache_write
 * @tparam string path the cache file; its directory must exist
 * @tparam string contents
 * @treturn[1] boolean true
 * @return[2] nil
 * @treturn[2] string why it was not written (the old file, if any, is then unchanged); never the contents
 */
static int l_token_cache_write(lua_State *L)
{
    const char *path = check_path(L, 1);
    size_t len;
    const char *contents = luaL_checklstring(L, 2, &len);
    struct stat st;
    lua_settop(L, 2);
    cache_file *fb = filebox_new(L); /* index 3 */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dir = slash == NULL   ? "."
                      : slash == path ? "/"
                                      : lua_pushlstring(L, path, (size_t)(slash - path));

    fb->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fb->dirfd < 0) {
        int e = errno;
        if (e == ENOENT)
            return cache_error(L, fb,
                               "token cache directory %s does not exist: create it first (mkdir -m 700 %s)",
                               dir, dir);
        if (e == ENOTDIR)
            return cache_error(L, fb, "token cache directory %s is not a directory", dir);
        return cache_error(L, fb, "cannot open token cache directory %s: %s", dir, strerror(e));
    }
    if (fstatat(fb->dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return cache_error(L, fb,
                               "token cache %s is a symbolic link: refusing to replace it; remove it or "
                               "choose another path",
                               path);
        if (insecure(L, "token cache", path, &st, 1))
            return fail_insecure(L, fb);
    } else if (errno != ENOENT) {
        int e = errno;
        return cache_error(L, fb, "cannot inspect token cache %s: %s", path, strerror(e));
    }

    /* "<dir>/.<base>.XXXXXX": same directory, so the rename is atomic */
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    int n = snprintf(fb->tmp, sizeof fb->tmp, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
    if (n < 0 || (size_t)n >= sizeof fb->tmp)
        return cache_error(L, fb, "cannot write token cache %s: path too long", path);
    fb->tmp_base = dirlen;
    fb->fd = mkostemp(fb->tmp, O_CLOEXEC);
    if (fb->fd < 0) {
        int e = errno;
        return cache_error(L, fb, "cannot write token cache %s: cannot create a temporary file in %s: %s",
                           path, dir, strerror(e));
    }
    fb->have_tmp = 1;
    if (fchmod(fb->fd, 0600) != 0 || write_all(fb->fd, contents, len) != 0 || fsync(fb->fd) != 0) {
        int e = errno;
        return cache_error(L, fb, "cannot write token cache %s: %s", path, strerror(e));
    }
    int fd = fb->fd;
    fb->fd = -1;
    if (close(fd) != 0) {
        int e = errno;
        return cache_error(L, fb, "cannot write token cache %s: %s", path, strerror(e));
    }
    if (renameat(fb->dirfd, fb->tmp + fb->tmp_base, fb->dirfd, base) != 0) {
        int e = errno;
        return cache_error(L, fb, "cannot replace token cache %s: %s", path, strerror(e));
    }
    fb->have_tmp = 0;
    if (fsync(fb->dirfd) != 0 && errno != EINVAL) {
        int e = errno;
        return cache_error(L, fb, "token cache %s was replaced but its directory could not be synced: %s",
                           path, strerror(e));
    }
    filebox_close(fb);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---------------------------------------------------------------- lock */

static cache_lock *check_lock(lua_State *L)
{
    return luaL_checkudata(L, 1, LOCK_META);
}

static int lock_close(lua_State *L)
{
    cache_lock *lk = check_lock(L);
    int fd = lk->fd;
    lk->fd = -1;
    if (fd >= 0)
        close(fd); /* closing the only descriptor releases the flock */
    lua_pushboolean(L, 1);
    return 1;
}

static int lock_tostring(lua_State *L)
{
    cache_lock *lk = check_lock(L);
    if (lk->fd < 0) {
        lua_pushliteral(L, "autopilot.TokenCacheLock (closed)");
    } else {
        lua_getiuservalue(L, 1, 1);
        lua_pushfstring(L, "autopilot.TokenCacheLock (%s)", lua_tostring(L, -1));
    }
    return 1;
}

/***
 * Takes the exclusive lock of a token cache (flock on "<path>.lock"), so two processes do not
 * rotate the same refresh token at once.
 * @function token_cache_lock
 * @tparam string path the cache file (the lock file is created next to it, mode 0600)
 * @tparam[opt=30] number timeout seconds to wait for another holder; 0 tries once
 * @treturn[1] TokenCacheLock held until `lock:close()`, garbage collection or the end of a `<close>` scope
 * @return[2] nil
 * @treturn[2] string why the lock was not taken (held by another process, directory missing, ...)
 */
static int l_token_cache_lock(lua_State *L)
{
    const char *path = check_path(L, 1);
    lua_Number timeout = luaL_optnumber(L, 2, DEFAULT_LOCK_TIMEOUT);
    struct stat st;
    luaL_argcheck(L, timeout >= 0 && timeout <= 86400, 2, "timeout must be 0..86400 seconds");
    lua_settop(L, 2);
    const char *lockpath = lua_pushfstring(L, "%s.lock", path); /* index 3 */
    cache_lock *lk = lua_newuserdatauv(L, sizeof *lk, 1);       /* index 4, closed first */
    lk->fd = -1;
    luaL_setmetatable(L, LOCK_META);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 4, 1);

    lk->fd = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
    if (lk->fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return cache_error(L, NULL, "token cache lock %s is a symbolic link: refusing to follow it",
                               lockpath);
        if (e == ENOENT)
            return cache_error(L, NULL, "cannot lock token cache %s: its directory does not exist", path);
        return cache_error(L, NULL, "cannot lock token cache %s: %s", path, strerror(e));
    }
    if (fstat(lk->fd, &st) != 0) {
        int e = errno;
        close(lk->fd);
        lk->fd = -1;
        return cache_error(L, NULL, "cannot inspect token cache lock %s: %s", lockpath, strerror(e));
    }
    if (insecure(L, "token cache lock", lockpath, &st, 0)) {
        close(lk->fd);
        lk->fd = -1;
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    double start = ap_now();
    long sleep_ns = 5 * 1000 * 1000;
    while (flock(lk->fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EINTR)
            continue;
        double waited = ap_now() - start;
        if (e != EWOULDBLOCK || waited >= timeout) {
            close(lk->fd);
            lk->fd = -1;
            if (e != EWOULDBLOCK)
                return cache_error(L, NULL, "cannot lock token cache %s: %s", path, strerror(e));
            char secs[32];
            snprintf(secs, sizeof secs, "%.1f", waited);
            return cache_error(L, NULL, "token cache %s is locked by another process (waited %s s)", path,
                               secs);
        }
        /* wait without spinning: 5 ms doubling to 100 ms, never past the deadline */
        double left = timeout - waited;
        long ns = (double)sleep_ns / 1e9 < left ? sleep_ns : (long)(left * 1e9) + 1;
        struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
        nanosleep(&ts, NULL);
        if (sleep_ns < 100 * 1000 * 1000)
            sleep_ns *= 2;
    }
    return 1;
}

/* ---------------------------------------------------------------- registration */

static const luaL_Reg token_cache_funcs[] = {{"token_cache_read", l_token_cache_read},
                                             {"token_cache_write", l_token_cache_write},
                                             {"token_cache_lock", l_token_cache_lock},
                                             {NULL, NULL}};

static const luaL_Reg filebox_meta[] = {
    {"__close", filebox_gc}, {"__gc", filebox_gc}, {"__tostring", filebox_tostring}, {NULL, NULL}};

static const luaL_Reg lock_methods[] = {{"close", lock_close}, {NULL, NULL}};

static const luaL_Reg lock_meta[] = {
    {"__close", lock_close}, {"__gc", lock_close}, {"__tostring", lock_tostring}, {NULL, NULL}};

void ap_open_token_cache(lua_State *L)
{
    if (luaL_newmetatable(L, FILEBOX_META))
        luaL_setfuncs(L, filebox_meta, 0);
    lua_pop(L, 1);
    if (luaL_newmetatable(L, LOCK_META)) {
        luaL_setfuncs(L, lock_meta, 0);
        luaL_newlib(L, lock_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, token_cache_funcs, 0);
}
