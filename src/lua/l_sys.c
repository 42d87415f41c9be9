/* Bindings: the few operating-system services the training toolkit needs and
 * Lua's standard library lacks. They live in one table, lt.sys:
 *
 *   lt.sys.isatty(fd)                -> true when fd (0, 1, 2) is a terminal
 *   lt.sys.terminal_width([fd = 1])  -> columns of the terminal on fd, or nil
 *   lt.sys.mkdir(path)               -> true, or nil, message, "exists" | "error"
 *   lt.sys.write_file(path, string)  -- atomic: temporary file, fsync, rename
 *
 * mkdir creates one directory and fails when it exists (O_EXCL-like), which
 * is what makes run folder names unique between processes started in the
 * same second (lua/latent/run.lua). Expected failures of mkdir return
 * nil, message as io.open does; write_file raises, as lt.save_tensors does. */
#define _XOPEN_SOURCE 700
#include "lua/lt_lua.h"
#include "io/atomic.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Argument checks that name the function: these live in lt.sys, a table
 * luaL_argerror cannot find names in ("bad argument #1 to '?'"). */
static int check_fd(lua_State *L, int arg, const char *fn) {
  int ok;
  lua_Integer fd = lua_tointegerx(L, arg, &ok);
  if (!ok) return luaL_error(L, "%s: the file descriptor must be an integer, got %s", fn, lua_isnumber(L, arg) ?
                             lua_tostring(L, arg) : luaL_typename(L, arg));
  if (fd < 0 || fd > 1024) return luaL_error(L, "%s: file descriptor %I out of range", fn, fd);
  return (int)fd;
}

static const char *check_string(lua_State *L, int arg, const char *fn, const char *what, size_t *len) {
  if (lua_type(L, arg) != LUA_TSTRING)
    luaL_error(L, "%s: %s must be a string, got %s", fn, what, luaL_typename(L, arg));
  return lua_tolstring(L, arg, len);
}

/* isatty(fd) -> boolean */
static int sys_isatty(lua_State *L) {
  lua_pushboolean(L, isatty(check_fd(L, 1, "isatty")));
  return 1;
}

/* terminal_width([fd = 1]) -> columns, or nil when fd is not a terminal or
 * the terminal does not say (some report 0 columns). */
static int sys_terminal_width(lua_State *L) {
  int fd = lua_isnoneornil(L, 1) ? 1 : check_fd(L, 1, "terminal_width");
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, ws.ws_col);
  return 1;
}

/* mkdir(path) -> true | nil, "path: reason", "exists" | "error" */
static int sys_mkdir(lua_State *L) {
  const char *path = check_string(L, 1, "mkdir", "the path", NULL);
  if (mkdir(path, 0777) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  int e = errno;
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(e));
  lua_pushstring(L, e == EEXIST ? "exists" : "error");
  return 3;
}

/* write_file(path, contents): the file appears complete or not at all. The
 * arguments are checked first; nothing between open and commit can raise, so
 * the temporary file and its memory are always released. */
static int sys_write_file(lua_State *L) {
  const char *path = check_string(L, 1, "write_file", "the path", NULL);
  size_t n;
  const char *s = check_string(L, 2, "write_file", "the contents", &n);
  lt_atomic_file af;
  lt_status st = lt_atomic_open(&af, path);
  if (st == LT_OK) {
    st = lt_atomic_write(&af, s, n);
    if (st == LT_OK) st = lt_atomic_commit(&af);
    else lt_atomic_abort(&af);
  }
  if (st != LT_OK) return luaL_error(L, "write_file: %s", lt_errmsg());
  return 0;
}

void lt_open_sys(lua_State *L, int module) {
  static const luaL_Reg fns[] = {{"isatty", sys_isatty}, {"terminal_width", sys_terminal_width},
                                 {"mkdir", sys_mkdir}, {"write_file", sys_write_file}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_setfield(L, module, "sys");
}
