/* The per-op timer's records (see lt_profile.h). A few dozen op names at
 * most, so the rows are a small array searched linearly: by pointer first
 * (each op passes the same string every time), then by text. */
#include "core/lt_profile.h"

#include <string.h>
#include <time.h>

enum { MAX_ROWS = 256 };

bool lt_profile_active;

static lt_profile_entry rows[MAX_ROWS];
static int n_rows;
static int64_t wall_ns, started_at, kind_ns[LT_PROF_KINDS];
static _Thread_local int depth; /* open scopes on this thread */

int64_t lt_profile_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The row of `name`, created on first use; the last row collects the
 * calls of names beyond MAX_ROWS - 1. */
static lt_profile_entry *row(const char *name) {
  for (int k = 0; k < n_rows; k++)
    if (rows[k].name == name) return &rows[k];
  for (int k = 0; k < n_rows; k++)
    if (!strcmp(rows[k].name, name)) return &rows[k];
  if (n_rows == MAX_ROWS - 1) {
    rows[n_rows] = (lt_profile_entry){.name = "(other)"};
    return &rows[n_rows++];
  }
  if (n_rows == MAX_ROWS) return &rows[MAX_ROWS - 1];
  rows[n_rows] = (lt_profile_entry){.name = name};
  return &rows[n_rows++];
}

void lt_profile_add(const char *name, lt_prof_kind kind, int64_t ns) {
  if (!lt_profile_active) return;
  lt_profile_entry *r = row(name);
  r->calls[kind]++;
  r->ns[kind] += ns > 0 ? ns : 0;
  kind_ns[kind] += ns > 0 ? ns : 0;
}

void lt_profile_note_record(const char *name) {
  if (!lt_profile_active || depth > 0) return;
  lt_profile_entry *r = row(name);
  r->calls[LT_PROF_FORWARD]++;
  r->untimed++;
}

lt_prof_scope lt_prof_enter_slow(const char *name, lt_prof_kind kind) {
  if (depth++ > 0) return (lt_prof_scope){.state = LT_PROF_NESTED}; /* the enclosing scope owns the time */
  return (lt_prof_scope){.state = LT_PROF_TIMING, .name = name, .kind = kind, .t0 = lt_profile_now()};
}

void lt_prof_leave_slow(lt_prof_scope *s) {
  depth--;
  if (s->state == LT_PROF_TIMING) lt_profile_add(s->name, s->kind, lt_profile_now() - s->t0);
}

void lt_profile_start(void) {
  if (lt_profile_active) return;
  depth = 0;
  started_at = lt_profile_now();
  lt_profile_active = true;
}

void lt_profile_stop(void) {
  if (!lt_profile_active) return;
  wall_ns += lt_profile_now() - started_at;
  lt_profile_active = false;
}

void lt_profile_reset(void) {
  n_rows = 0;
  wall_ns = 0;
  memset(kind_ns, 0, sizeof kind_ns);
  if (lt_profile_active) started_at = lt_profile_now();
}

int lt_profile_rows(void) { return n_rows; }

const lt_profile_entry *lt_profile_entry_at(int i) { return i >= 0 && i < n_rows ? &rows[i] : NULL; }

int64_t lt_profile_wall_ns(void) {
  return wall_ns + (lt_profile_active ? lt_profile_now() - started_at : 0);
}

int64_t lt_profile_kind_ns(lt_prof_kind kind) { return kind_ns[kind]; }
