/* A per-op timer the user switches on (lt.profile in Lua): calls and time of
 * each op's forward, of each autograd node's backward (by op name), of the
 * optimizer steps, and of the backward engine's own work.
 *
 * Off by default. Off, an instrumented op pays one well-predicted branch on
 * a global flag; nothing is allocated or timed. On, an op's time is measured
 * at its public entry point by a scope that closes when the function returns
 * (LT_PROFILE_OP), so every return path is covered. Only the outermost scope
 * of a thread counts: an op called inside another op, or by a backward
 * function, is part of its caller's time. Ops without a scope of their own
 * (views, reductions, matmul) are still counted when they record an
 * autograd node (lt_record calls lt_profile_note_record), but their forward time
 * is unknown and reported as such.
 *
 * Records are made on the thread that calls the ops, never inside an OpenMP
 * region, and are not thread-safe beyond that: like the rest of the engine,
 * the timer assumes one thread drives the ops. */
#ifndef LT_PROFILE_H
#define LT_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { LT_PROF_FORWARD, LT_PROF_BACKWARD, LT_PROF_KINDS } lt_prof_kind;

/* The one flag every instrumented place tests first. */
extern bool lt_profile_active;

/* start resumes recording (keeping earlier records), stop pauses it; reset
 * drops every record. */
void lt_profile_start(void);
void lt_profile_stop(void);
void lt_profile_reset(void);

/* One row of the records, by name. calls and ns per kind; `untimed` counts
 * forward calls whose time is unknown (ops without a scope). */
typedef struct {
  const char *name;
  int64_t calls[LT_PROF_KINDS], ns[LT_PROF_KINDS];
  int64_t untimed;
} lt_profile_entry;

int lt_profile_rows(void);                      /* rows recorded so far */
const lt_profile_entry *lt_profile_entry_at(int i);
int64_t lt_profile_wall_ns(void);               /* time spent between start and stop */
int64_t lt_profile_kind_ns(lt_prof_kind kind);  /* all rows' time of one kind */

/* A monotonic clock in nanoseconds. */
int64_t lt_profile_now(void);
/* Adds one call of `name` of the given kind taking ns nanoseconds. */
void lt_profile_add(const char *name, lt_prof_kind kind, int64_t ns);
/* lt_record's note: a forward call of an op that has no scope of its own
 * (ignored inside a scope, where the enclosing op owns the time). */
void lt_profile_note_record(const char *name);

/* ---- scopes ---- */
enum { LT_PROF_IDLE, LT_PROF_NESTED, LT_PROF_TIMING };
typedef struct {
  int state; /* IDLE: off; NESTED: inside another scope, which owns the time */
  lt_prof_kind kind;
  const char *name;
  int64_t t0;
} lt_prof_scope;

lt_prof_scope lt_prof_enter_slow(const char *name, lt_prof_kind kind);
void lt_prof_leave_slow(lt_prof_scope *s);

static inline lt_prof_scope lt_prof_enter(const char *name, lt_prof_kind kind) {
  if (__builtin_expect(!lt_profile_active, 1)) return (lt_prof_scope){0};
  return lt_prof_enter_slow(name, kind);
}

static inline void lt_prof_leave(lt_prof_scope *s) {
  if (__builtin_expect(s->state != LT_PROF_IDLE, 0)) lt_prof_leave_slow(s);
}

/* Times the rest of the enclosing function as one forward call of op
 * `name`: the scope is closed by the compiler on every return
 * (GCC/Clang's cleanup attribute). */
#define LT_PROFILE_OP(name) \
  __attribute__((cleanup(lt_prof_leave))) lt_prof_scope lt_prof_scope_ = lt_prof_enter((name), LT_PROF_FORWARD)

#endif
