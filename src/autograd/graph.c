/* Recording nodes and freeing them. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_profile.h"

#include <string.h>

static _Thread_local bool grad_enabled = true;

bool lt_grad_enabled(void) { return grad_enabled; }

bool lt_set_grad_enabled(bool on) {
  bool was = grad_enabled;
  grad_enabled = on;
  return was;
}

static size_t node_bytes(int n_in) { return sizeof(lt_node) + (size_t)n_in * sizeof(lt_edge); }

static bool any_tracked(int n, lt_tensor *const *in) {
  if (!lt_grad_enabled()) return false;
  for (int k = 0; k < n; k++)
    if (in[k]->requires_grad) return true;
  return false;
}

static void set_edge(lt_edge *e, lt_tensor *t) {
  e->ndim = t->ndim;
  memcpy(e->shape, t->shape, sizeof e->shape);
  if (!t->requires_grad) return;
  if (t->grad_fn) {
    e->fn = t->grad_fn;
    e->fn->refcount++;
  } else {
    e->leaf = lt_tensor_retain(t);
  }
}

lt_status lt_record(lt_tensor *out, const lt_op *op, int n_in, lt_tensor *const *in,
                    int n_saved, lt_tensor *const *saved, lt_node **node) {
  if (node) *node = NULL;
  if (lt_profile_active) lt_profile_note_record(op->name); /* counts ops that have no timer */
  if (!any_tracked(n_in, in)) return LT_OK;
  LT_ASSERT(n_saved <= LT_NODE_MAX_SAVED && !out->grad_fn);
  lt_node *n = lt_calloc(node_bytes(n_in));
  if (!n) return LT_ERR_MEMORY;
  n->op = op;
  n->refcount = 1;
  n->n_inputs = n_in;
  for (int k = 0; k < n_in; k++) set_edge(&n->inputs[k], in[k]);
  for (int k = 0; k < n_saved; k++) {
    lt_tensor *s = saved[k];
    n->saved[k] = lt_tensor_alias(s, s->ndim, s->shape, s->stride, s->offset);
    if (!n->saved[k]) {
      lt_node_release(n);
      return LT_ERR_MEMORY;
    }
    n->saved_version[k] = s->storage->version;
    n->n_saved = k + 1;
  }
  n->out_ndim = out->ndim;
  memcpy(n->out_shape, out->shape, sizeof n->out_shape);
  out->grad_fn = n;
  out->requires_grad = true;
  if (node) *node = n;
  return LT_OK;
}

static void free_node(lt_node *n, lt_node **todo) {
  for (int k = 0; k < n->n_inputs; k++) {
    lt_node *f = n->inputs[k].fn;
    if (f && --f->refcount == 0) {
      f->next_free = *todo;
      *todo = f;
    }
    lt_tensor_release(n->inputs[k].leaf);
  }
  for (int k = 0; k < n->n_saved; k++) lt_tensor_release(n->saved[k]);
  lt_tensor_release(n->grad_acc);
  lt_free(n, node_bytes(n->n_inputs));
}

void lt_node_release(lt_node *n) {
  if (!n || --n->refcount > 0) return;
  /* A long chain (an unrolled loop) would overflow the C stack if freed
   * recursively, so nodes whose count drops to zero wait on a list. */
  lt_node *todo = n;
  n->next_free = NULL;
  while (todo) {
    lt_node *cur = todo;
    todo = cur->next_free;
    free_node(cur, &todo);
  }
}
