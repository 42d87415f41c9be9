/* latent: the host program. It runs a script (`latent train.lua --epochs 3`),
 * chunks given with -e, a script read from stdin, or an interactive REPL with
 * line editing, history, Tab completion and printed results.
 *
 * Its shape is that of Lua 5.4's own lua.c: all the work happens in one
 * protected call (pmain), so even an out-of-memory error ends in a message
 * rather than a crash; every chunk runs under a message handler that adds a
 * stack traceback; and Ctrl-C during a call sets a hook that raises
 * "interrupted!" at the next Lua step, so the REPL survives a stopped
 * computation. What latent adds: the bindings linked into this binary are
 * offered as package.preload["latent.core"], and the Lua library directory
 * goes first on package.path, so `require "latent"` works from any script in
 * any directory (see docs/host.md). */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include <editline/readline.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#if LUA_VERSION_NUM < 504
#error "latent needs Lua 5.4"
#endif

#ifndef LATENT_VERSION
#define LATENT_VERSION "0.1.0"
#endif

int luaopen_latent_core(lua_State *L); /* src/lua/l_init.c */

/* Prefix of error messages; NULL inside the REPL, where the prompt says who speaks. */
static const char *progname = "latent";

/* The one Lua state, for the SIGINT handler and the completion callback,
 * neither of which can be handed a pointer. */
static lua_State *globalL = NULL;

/* ==================== messages ==================== */

static void print_usage(FILE *f) {
  fprintf(f,
          "usage: %s [options] [script [args]]\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -l g=mod  require library 'mod' into global 'g'\n"
          "  -v        show version information\n"
          "  -E        ignore environment variables\n"
          "  -W        turn warnings on\n"
          "  -h        show this help\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n"
          "With no arguments: the REPL if stdin is a terminal, else stdin runs as a script.\n",
          progname);
  fflush(f);
}

static void message(const char *pname, const char *msg) {
  if (pname) fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* Prints the error on top of the stack (if status says there is one) and pops it. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    message(progname, msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* Message handler of every protected call: turns the error into a string
 * and appends where it happened. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    /* an error object with __tostring describes itself, without a traceback */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* ==================== Ctrl-C ==================== */

static void set_sigint(void (*handler)(int), struct sigaction *old) {
  struct sigaction sa;
  sa.sa_handler = handler;
  sa.sa_flags = 0; /* no SA_RESTART: a blocked read must see EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, old);
}

/* Raising an error from a signal handler is unsafe, so the handler only sets
 * this hook; Lua calls it at its next instruction, where raising is fine. */
static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* SIGINT while Lua runs. The default action comes back at once, so a second
 * Ctrl-C still kills a process stuck in a long C kernel that never returns
 * to Lua. */
static void on_sigint(int sig) {
  int mask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  set_sigint(SIG_DFL, NULL);
  (void)sig;
  lua_sethook(globalL, interrupt_hook, mask, 1);
}

/* Calls the function below `narg` arguments with a traceback on error and
 * Ctrl-C armed; whatever handled SIGINT before is put back afterwards. */
static int docall(lua_State *L, int narg, int nres) {
  struct sigaction old;
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  set_sigint(on_sigint, &old);
  int status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  /* a Ctrl-C that came as the call returned must not stop the next one */
  if (lua_gethook(L) == interrupt_hook) lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

/* ==================== running chunks ==================== */

static int run_chunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int run_file(lua_State *L, const char *name) {
  return run_chunk(L, luaL_loadfile(L, name));
}

static int run_string(lua_State *L, const char *s, const char *chunkname) {
  return run_chunk(L, luaL_loadbuffer(L, s, strlen(s), chunkname));
}

/* -l mod or -l g=mod: the module's value goes into a global, as in lua.c. */
static int run_require(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *mod = eq ? eq + 1 : spec;
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    const char *global = eq ? lua_pushlstring(L, spec, (size_t)(eq - spec)) : lua_pushstring(L, spec);
    lua_insert(L, -2);
    lua_setglobal(L, global); /* pops the value; the name stays until popped */
    lua_pop(L, 1);
  }
  return report(L, status);
}

/* LUA_INIT_5_4, else LUA_INIT: "@file" runs a file, anything else is code. */
static int run_lua_init(lua_State *L) {
  const char *chunkname = "=LUA_INIT_5_4";
  const char *init = getenv(chunkname + 1);
  if (init == NULL) {
    chunkname = "=LUA_INIT";
    init = getenv(chunkname + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return run_file(L, init + 1);
  return run_string(L, init, chunkname);
}

/* The global `arg`: arg[0] is the script, arg[1..] its arguments, and the
 * interpreter and options before it get negative indices. Without a script
 * arg[0] is the interpreter itself. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  int zero = script < argc ? script : 0;
  lua_createtable(L, argc > zero ? argc - zero - 1 : 0, zero + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - zero);
  }
  lua_setglobal(L, "arg");
}

/* Runs argv[script] ("-" is stdin unless it follows "--") with the rest of
 * the command line as its varargs. */
static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *name = argv[script];
  if (strcmp(name, "-") == 0 && strcmp(argv[script - 1], "--") != 0) name = NULL;
  int status = luaL_loadfile(L, name);
  if (status == LUA_OK) {
    int n = argc - script - 1;
    luaL_checkstack(L, n, "too many arguments to script");
    for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    status = docall(L, n, 0);
  }
  return report(L, status);
}

/* ==================== finding the latent library ==================== */

/* Makes `require "latent.core"` open the bindings linked into this binary. */
static void preload_core(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_latent_core);
  lua_setfield(L, -2, "latent.core");
  lua_pop(L, 1);
}

static int has_latent(lua_State *L, const char *dir) {
  const char *init = lua_pushfstring(L, "%s/latent/init.lua", dir);
  int found = access(init, R_OK) == 0;
  lua_pop(L, 1);
  return found;
}

/* Pushes <prefix>/share/lua/5.4 for a binary installed as <prefix>/bin/latent,
 * or nothing (returns 0) if the executable's path cannot be read. */
static int push_installed_dir(lua_State *L) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe);
  if (n <= 0 || (size_t)n >= sizeof exe) return 0;
  exe[n] = '\0';
  for (int up = 0; up < 2; up++) { /* drop "/latent", then "/bin" */
    char *slash = strrchr(exe, '/');
    if (slash == NULL) return 0;
    *slash = '\0';
  }
  lua_pushfstring(L, "%s/share/lua/5.4", exe);
  return 1;
}

/* The directory holding latent/init.lua: beside the installed binary first,
 * so a relocated install finds its own library; then the source tree this
 * binary was built from; then the configured install prefix. */
static void push_lua_dir(lua_State *L) {
  if (push_installed_dir(L)) {
    if (has_latent(L, lua_tostring(L, -1))) return;
    lua_pop(L, 1);
  }
  if (has_latent(L, LATENT_SOURCE_LUA_DIR)) lua_pushstring(L, LATENT_SOURCE_LUA_DIR);
  else lua_pushstring(L, LATENT_INSTALL_LUA_DIR);
}

/* Puts the library directory first on package.path (after LUA_PATH has been
 * applied by luaL_openlibs): the Lua half of latent must match the C half
 * compiled into this binary, so a stray copy elsewhere must not shadow it. */
static void prepend_lua_path(lua_State *L) {
  lua_getglobal(L, "package");
  push_lua_dir(L);
  const char *dir = lua_tostring(L, -1);
  lua_getfield(L, -2, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -4, "path");
  lua_pop(L, 3);
}

/* ==================== the REPL: reading input ==================== */

/* Lines come from libedit when both ends are a terminal; otherwise (a pipe,
 * as in the tests) from getline, still with prompts. */
static int use_editline = 0;

/* Set by Ctrl-C at the prompt: the line being typed is dropped. */
static volatile sig_atomic_t prompt_interrupted = 0;

static void on_prompt_sigint(int sig) {
  (void)sig;
  prompt_interrupted = 1;
}

/* libedit reads its keys through this, one character (not byte) each: the
 * bytes of a multibyte character are decoded here, as libedit's own reader
 * would. Ctrl-C interrupts the read(); returning EOF then makes readline()
 * give up the line (read_line sees the flag and does not take it for
 * Ctrl-D). Other signals (a resized window) just retry. */
static int read_key(FILE *in) {
  mbstate_t state;
  memset(&state, 0, sizeof state);
  for (;;) {
    char c;
    wchar_t wc;
    ssize_t n = read(fileno(in), &c, 1);
    if (n == 1) {
      size_t got = mbrtowc(&wc, &c, 1, &state);
      if (got == (size_t)-2) continue; /* more bytes to come */
      return got == (size_t)-1 ? (unsigned char)c : (int)wc;
    }
    if (n == 0 || errno != EINTR || prompt_interrupted) return EOF;
  }
}

/* One line without its newline, in malloc'd memory; NULL at end of input. */
static char *read_raw_line(const char *prompt) {
  if (use_editline) return readline(prompt);
  fputs(prompt, stdout);
  fflush(stdout);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  return line;
}

/* Reads a line into *line (malloc'd): returns 1, or 0 at end of input, or
 * -1 if Ctrl-C at the prompt dropped it (a fresh prompt follows). */
static int read_line(const char *prompt, char **line) {
  prompt_interrupted = 0;
  *line = read_raw_line(prompt);
  if (prompt_interrupted) {
    free(*line);
    fputc('\n', stdout);
    return -1;
  }
  return *line != NULL;
}

/* Copies the C string into Lua; a protected call, so that the malloc'd
 * line is freed even when Lua runs out of memory. A first line starting with
 * '=' means "return ...", a shorthand lua.c still accepts. */
static int push_cstring(lua_State *L) {
  const char *line = lua_touserdata(L, 1);
  if (lua_toboolean(L, 2) && line[0] == '=') lua_pushfstring(L, "return %s", line + 1);
  else lua_pushstring(L, line);
  return 1;
}

/* Pushes the next line: returns 1, or 0 at end of input, or -1 if Ctrl-C
 * cancelled it. */
static int push_line(lua_State *L, int first) {
  char *line;
  int got = read_line(first ? "> " : ">> ", &line);
  if (got != 1) return got;
  lua_pushcfunction(L, push_cstring);
  lua_pushlightuserdata(L, line);
  lua_pushboolean(L, first);
  int status = lua_pcall(L, 2, 1, 0);
  free(line);
  if (status != LUA_OK) lua_error(L);
  return 1;
}

static void remember(const char *input) {
  if (use_editline && input[0] != '\0') add_history(input);
}

/* ==================== the REPL: compiling input ==================== */

/* Compiles "return <line>;" so that an expression typed at the prompt shows
 * its value. On success the function replaces the line on the stack. */
static int load_as_expression(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *code = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
  if (status == LUA_OK) {
    remember(line);
    lua_remove(L, -2); /* the code */
    lua_remove(L, -2); /* the line */
  } else {
    lua_pop(L, 2); /* the message and the code; the line stays */
  }
  return status;
}

/* A syntax error that ends at "<eof>" means the input stopped too early
 * (`for i = 1, 2 do` alone): more lines are needed, not an error report. */
static int is_incomplete(lua_State *L, int status) {
  static const char mark[] = "<eof>";
  size_t len, n = sizeof mark - 1;
  if (status != LUA_ERRSYNTAX) return 0;
  const char *msg = lua_tolstring(L, -1, &len);
  return len >= n && strcmp(msg + len - n, mark) == 0;
}

/* Compiles the code on the stack as a statement, reading more lines while
 * it is incomplete. Leaves the function or the error message in its place;
 * returns the status, or -1 if Ctrl-C cancelled the statement. */
static int load_statement(lua_State *L) {
  int status, more = 1;
  for (;;) {
    size_t len;
    const char *code = lua_tolstring(L, -1, &len);
    status = luaL_loadbuffer(L, code, len, "=stdin");
    if (!is_incomplete(L, status) || (more = push_line(L, 0)) != 1) break;
    lua_remove(L, -2);             /* the "<eof>" message */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);              /* code .. "\n" .. line */
  }
  remember(lua_tostring(L, -2));
  lua_remove(L, -2); /* the code */
  return more == -1 ? -1 : status;
}

/* Reads and compiles one input: a line, or the lines of an incomplete
 * statement. Leaves a function or an error message on an otherwise empty
 * stack; returns the status, -1 at end of input, -2 if Ctrl-C cancelled it. */
static int load_input(lua_State *L) {
  lua_settop(L, 0);
  int got = push_line(L, 1);
  if (got != 1) return got == 0 ? -1 : -2;
  int status = load_as_expression(L);
  if (status != LUA_OK && (status = load_statement(L)) == -1) return -2;
  return status;
}

/* ==================== the REPL: results, completion, the loop ==================== */

/* Prints its arguments through luaL_tolstring (so __tostring and __name
 * count), separated by tabs. */
static int print_values(lua_State *L) {
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    if (i > 1) fputc('\t', stdout);
    fwrite(s, 1, len, stdout);
    lua_pop(L, 1);
  }
  fputc('\n', stdout);
  fflush(stdout);
  return 0;
}

/* Shows the values an input returned. Printing runs protected, with Ctrl-C
 * armed: a failing __tostring or a huge tensor must not end the REPL. */
static void show_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  if (!lua_checkstack(L, LUA_MINSTACK)) {
    message(progname, "too many results to print");
    return;
  }
  lua_pushcfunction(L, print_values);
  lua_insert(L, 1);
  report(L, docall(L, n, 0));
}

/* Registry key of latent.repl's complete function. */
static const char complete_key = 'c';

/* Stack index of the candidate list while libedit asks for it. */
static int candidates_index = 0;

/* Protected part of completion: complete(word), which must give a table. */
static int call_completer(lua_State *L) {
  const char *word = lua_touserdata(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &complete_key);
  lua_pushstring(L, word);
  lua_call(L, 1, 1);
  luaL_checktype(L, -1, LUA_TTABLE);
  return 1;
}

/* libedit's generator: the state-th candidate, malloc'd (libedit frees it). */
static char *next_candidate(const char *word, int state) {
  (void)word;
  lua_State *L = globalL;
  char *copy = NULL;
  if (lua_rawgeti(L, candidates_index, state + 1) == LUA_TSTRING) copy = strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  return copy;
}

/* Tab: libedit hands over the word before the cursor (word_breaks keeps a
 * name path like lt.randn or x:view in one word). Lua errors must not unwind
 * through libedit, so the Lua side runs in a protected call. */
static char **complete(const char *word, int start, int end) {
  (void)start, (void)end;
  lua_State *L = globalL;
  char **matches = NULL;
  rl_attempted_completion_over = 1; /* never fall back to file names */
  if (!lua_checkstack(L, 4)) return NULL;
  lua_pushcfunction(L, call_completer);
  lua_pushlightuserdata(L, (void *)word);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
    candidates_index = lua_gettop(L);
    matches = rl_completion_matches(word, next_candidate);
  }
  lua_pop(L, 1);
  return matches;
}

/* Keeps latent.repl's complete in the registry; if it cannot be loaded, Tab
 * quietly completes nothing. */
static void load_completer(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "latent.repl");
  if (docall(L, 1, 1) == LUA_OK && lua_type(L, -1) == LUA_TTABLE) {
    lua_pushliteral(L, "complete");
    lua_rawget(L, -2);
  } else {
    lua_pushnil(L);
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, &complete_key);
  lua_pop(L, 1);
}

/* $LATENT_HISTORY if set (empty: no history), else ~/.latent_history. */
static char history_file[PATH_MAX];

static void save_history(void) {
  if (history_file[0]) write_history(history_file);
}

/* History is written at exit (atexit), so os.exit() in the REPL keeps it too. */
static void open_history(void) {
  const char *name = getenv("LATENT_HISTORY");
  const char *home = getenv("HOME");
  int n = -1;
  if (name) n = snprintf(history_file, sizeof history_file, "%s", name);
  else if (home && home[0]) n = snprintf(history_file, sizeof history_file, "%s/.latent_history", home);
  if (n <= 0 || (size_t)n >= sizeof history_file) {
    history_file[0] = '\0';
    return;
  }
  stifle_history(1000);
  read_history(history_file);
  atexit(save_history);
}

/* A word for completion is a Lua name path: letters, digits, '_', '.', ':'. */
static const char word_breaks[] = " \t\n\"\\'`@$><=;|&{(,)}[]+-*/%^~#!?";

static void init_editline(lua_State *L) {
  setlocale(LC_CTYPE, ""); /* libedit needs it to edit UTF-8 text */
  rl_readline_name = "latent"; /* for $if latent in ~/.editrc */
  rl_getc_function = read_key;
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = word_breaks;
  rl_completion_append_character = '\0';
  load_completer(L);
  open_history();
}

/* In the REPL only, the global `lt` is the latent module, ready to use.
 * Returns whether it loaded (its error has then been printed). */
static int load_lt(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "latent");
  int status = docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, "lt");
  return report(L, status) == LUA_OK;
}

static void print_banner(int lt_loaded) {
  printf("latent %s (%s) - %s; Ctrl-D exits\n", LATENT_VERSION, LUA_RELEASE,
         lt_loaded ? "lt = require 'latent' is loaded" : "require 'latent' failed (see above)");
  fflush(stdout);
}

static void run_repl(lua_State *L) {
  int status;
  const char *saved_progname = progname;
  struct sigaction old;
  use_editline = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  progname = NULL;
  print_banner(load_lt(L));
  if (use_editline) {
    init_editline(L);
    set_sigint(on_prompt_sigint, &old); /* docall arms and restores its own */
  }
  while ((status = load_input(L)) != -1) {
    if (status == -2) continue; /* Ctrl-C at the prompt */
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) show_results(L);
    else report(L, status);
  }
  if (use_editline) sigaction(SIGINT, &old, NULL);
  lua_settop(L, 0);
  fputc('\n', stdout);
  fflush(stdout);
  progname = saved_progname;
}

/* ==================== command line ==================== */

enum { HAS_ERROR = 1, HAS_I = 2, HAS_V = 4, HAS_E = 8, HAS_NOENV = 16, HAS_HELP = 32 };

/* -e and -l take the rest of the option or the next argument. */
static int takes_value(const char *opt) {
  return (opt[1] == 'e' || opt[1] == 'l');
}

static int option_flag(const char *opt) {
  if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) return HAS_HELP;
  if (opt[2] != '\0' && !takes_value(opt)) return HAS_ERROR;
  switch (opt[1]) {
  case 'i': return HAS_I;
  case 'v': return HAS_V;
  case 'E': return HAS_NOENV;
  case 'W': return 0;
  case 'e': return HAS_E;
  case 'l': return 0;
  default: return HAS_ERROR;
  }
}

/* Scans the options. *script becomes the index of the script name ("-" for
 * stdin), argc if there is none, or the bad option's index on error. */
static int collect_args(char **argv, int argc, int *script) {
  int flags = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    *script = i;
    if (a[0] != '-' || a[1] == '\0') return flags; /* a script, or "-" */
    if (strcmp(a, "--") == 0) {
      *script = i + 1;
      return flags;
    }
    int flag = option_flag(a);
    if (flag & HAS_ERROR) return flags | flag;
    flags |= flag;
    if (takes_value(a) && a[2] == '\0' && ++i == argc) return flags | HAS_ERROR;
  }
  *script = argc;
  return flags;
}

/* Runs -e, -l and -W in command-line order; stops at the first error. */
static int run_args(lua_State *L, char **argv, int script) {
  for (int i = 1; i < script; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-W") == 0) lua_warning(L, "@on", 0);
    if (!takes_value(a) || a[0] != '-' || strcmp(a, "--") == 0) continue;
    const char *value = a[2] ? a + 2 : argv[++i];
    int status = a[1] == 'e' ? run_string(L, value, "=(command line)") : run_require(L, value);
    if (status != LUA_OK) return 0;
  }
  return 1;
}

static void print_bad_option(const char *opt) {
  if (takes_value(opt)) fprintf(stderr, "%s: '%s' needs argument\n", progname, opt);
  else fprintf(stderr, "%s: unrecognized option '%s'\n", progname, opt);
  print_usage(stderr);
}

/* ==================== main ==================== */

/* The standard libraries, then latent's: package.preload["latent.core"]
 * and the Lua library directory on package.path. */
static void open_libraries(lua_State *L, int flags) {
  if (flags & HAS_NOENV) { /* makes luaL_openlibs ignore LUA_PATH and LUA_CPATH */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  preload_core(L);
  prepend_lua_path(L);
}

/* After -e and the script: the REPL if -i asked for it, or if there was
 * nothing else to do (then, as lua.c does, stdin runs as a script unless
 * it is a terminal). */
static int run_rest(lua_State *L, int flags, int has_script) {
  if (flags & HAS_I) run_repl(L);
  else if (!has_script && !(flags & (HAS_E | HAS_V))) {
    if (isatty(STDIN_FILENO)) run_repl(L);
    else return run_file(L, NULL) == LUA_OK;
  }
  return 1;
}

/* Everything, in protected mode: pushes true on success. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  int script;
  int flags = collect_args(argv, argc, &script);
  luaL_checkversion(L);
  if (flags & HAS_ERROR) {
    print_bad_option(argv[script]);
    return 0;
  }
  if (flags & HAS_HELP) print_usage(stdout);
  else {
    open_libraries(L, flags);
    create_arg_table(L, argv, argc, script);
    /* Lua's incremental collector, not lua.c's generational mode: tensor
     * memory is reported as collector debt, which full cycles act on, while
     * a generational collector lets old dead tensors pile up. */
    lua_gc(L, LUA_GCRESTART);
    if (flags & HAS_V && !(flags & HAS_I)) printf("latent %s (%s)\n", LATENT_VERSION, LUA_RELEASE);
    if (!(flags & HAS_NOENV) && run_lua_init(L) != LUA_OK) return 0;
    if (!run_args(L, argv, script)) return 0;
    if (script < argc && run_script(L, argv, argc, script) != LUA_OK) return 0;
    if (!run_rest(L, flags, script < argc)) return 0;
  }
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    message(argv[0], "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  globalL = L;
  lua_gc(L, LUA_GCSTOP); /* no collection while the libraries open */
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int ok = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  return (ok && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
