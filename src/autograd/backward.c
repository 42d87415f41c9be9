/* The backward pass: collect the nodes reachable from the root, then run each
 * node's backward once all the nodes that consume its output have run (Kahn's
 * order over the reversed graph), accumulating gradients into leaves. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_profile.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  lt_node **items;
  size_t n, cap;
} node_list;

static lt_status push(node_list *l, lt_node *n) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    lt_node **items = realloc(l->items, cap * sizeof *items);
    if (!items) return lt_error(LT_ERR_MEMORY, "backward: out of memory");
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = n;
  return LT_OK;
}

/* Every node reachable from root, each once, with `pending` = the number of
 * edges that point at it from reachable nodes. */
static lt_status collect(lt_node *root, node_list *all) {
  static uint64_t pass;
  uint64_t id = ++pass;
  node_list stack = {0};
  lt_status st = push(&stack, root);
  root->visit = id;
  root->pending = 0;
  while (st == LT_OK && stack.n) {
    lt_node *n = stack.items[--stack.n];
    if (n->released) {
      st = lt_error(LT_ERR_STATE,
                    "backward: the graph through '%s' was freed by an earlier backward; "
                    "pass {retain_graph = true} to the first backward to go through it again",
                    n->op->name);
      break;
    }
    st = push(all, n);
    for (int k = 0; st == LT_OK && k < n->n_inputs; k++) {
      lt_node *f = n->inputs[k].fn;
      if (!f) continue;
      if (f->visit != id) {
        f->visit = id;
        f->pending = 0;
        st = push(&stack, f);
      }
      f->pending++;
    }
  }
  free(stack.items);
  return st;
}

/* True when g can become an accumulator without a copy: nobody else sees it. */
static bool exclusive(const lt_tensor *g) {
  return g->refcount == 1 && g->storage->refcount == 1 && !g->grad_fn &&
         lt_tensor_is_contiguous(g);
}

/* *acc += g, taking over g when *acc is empty. Consumes the reference to g. */
static lt_status accumulate(lt_tensor **acc, lt_tensor *g) {
  if (!*acc) {
    if (exclusive(g)) {
      *acc = g;
      return LT_OK;
    }
    *acc = lt_tensor_copy_values(g);
    lt_tensor_release(g);
    return *acc ? LT_OK : LT_ERR_MEMORY;
  }
  lt_accumulate(*acc, g);
  lt_tensor_release(g);
  return LT_OK;
}

static lt_status check_saved(const lt_node *n) {
  for (int k = 0; k < n->n_saved; k++)
    if (n->saved[k]->storage->version != n->saved_version[k])
      return lt_error(LT_ERR_STATE,
                      "backward: a tensor that '%s' saved for its gradient was modified in place "
                      "after it was used",
                      n->op->name);
  return LT_OK;
}

static void release_saved(lt_node *n) {
  for (int k = 0; k < n->n_saved; k++) {
    lt_tensor_release(n->saved[k]);
    n->saved[k] = NULL;
  }
  n->n_saved = 0;
  n->released = true;
}

/* Runs one node and passes its input gradients on. */
static lt_status run_node(lt_node *n, node_list *ready, bool retain) {
  lt_status st = LT_OK;
  enum { SMALL = 8 };
  lt_tensor *small[SMALL] = {0}, **grad_in = small;
  if (n->n_inputs > SMALL && !(grad_in = calloc((size_t)n->n_inputs, sizeof *grad_in)))
    return lt_error(LT_ERR_MEMORY, "backward: out of memory");
  if (n->grad_acc) {
    st = check_saved(n);
    if (st == LT_OK) {
      lt_prof_scope ps = lt_prof_enter(n->op->name, LT_PROF_BACKWARD);
      st = n->op->backward(n, n->grad_acc, grad_in);
      lt_prof_leave(&ps);
    }
  }
  for (int k = 0; k < n->n_inputs; k++) {
    lt_edge *e = &n->inputs[k];
    lt_tensor *g = grad_in[k];
    grad_in[k] = NULL;
    if (g && st == LT_OK) {
      LT_ASSERT(g->ndim == e->ndim && !memcmp(g->shape, e->shape, (size_t)g->ndim * sizeof(int64_t)));
      if (e->leaf) st = accumulate(&e->leaf->grad, g);
      else if (e->fn) st = accumulate(&e->fn->grad_acc, g);
      else lt_tensor_release(g);
    } else {
      lt_tensor_release(g);
    }
    if (e->fn && --e->fn->pending == 0 && st == LT_OK) st = push(ready, e->fn);
  }
  if (grad_in != small) free(grad_in);
  lt_tensor_release(n->grad_acc);
  n->grad_acc = NULL;
  if (!retain) release_saved(n);
  return st;
}

static lt_status check_root(lt_tensor *root, lt_tensor *grad) {
  char a[LT_SHAPE_STR], b[LT_SHAPE_STR];
  if (!root->requires_grad)
    return lt_error(LT_ERR_STATE, "backward: the tensor does not require grad and has no grad_fn");
  if (!grad && lt_tensor_numel(root) != 1)
    return lt_error(LT_ERR_SHAPE,
                    "backward: a gradient can be implied only for a tensor of one element, "
                    "got %s; pass the gradient",
                    LT_SHAPE(root, a));
  if (grad && !lt_same_shape(root, grad))
    return lt_error(LT_ERR_SHAPE, "backward: gradient of size %s for a tensor of size %s",
                    LT_SHAPE(grad, a), LT_SHAPE(root, b));
  return LT_OK;
}

static lt_tensor *initial_grad(lt_tensor *root, lt_tensor *grad) {
  if (grad) return lt_tensor_copy_values(grad);
  return lt_tensor_full(root->ndim, root->shape, 1.0f);
}

static lt_status backward(lt_tensor *root, lt_tensor *grad, bool retain_graph) {
  lt_status st = check_root(root, grad);
  if (st != LT_OK) return st;
  lt_tensor *g0 = initial_grad(root, grad);
  if (!g0) return LT_ERR_MEMORY;
  if (!root->grad_fn) return accumulate(&root->grad, g0); /* a leaf */

  node_list all = {0}, ready = {0};
  st = collect(root->grad_fn, &all);
  if (st == LT_OK) {
    root->grad_fn->grad_acc = g0;
    g0 = NULL;
    st = push(&ready, root->grad_fn);
  }
  bool was = lt_set_grad_enabled(false); /* backward kernels record nothing */
  while (st == LT_OK && ready.n) st = run_node(ready.items[--ready.n], &ready, retain_graph);
  lt_set_grad_enabled(was);
  for (size_t k = 0; k < all.n; k++) { /* after an error, drop partial sums */
    lt_tensor_release(all.items[k]->grad_acc);
    all.items[k]->grad_acc = NULL;
  }
  lt_tensor_release(g0);
  free(all.items);
  free(ready.items);
  return st;
}

/* With the profiler on, the pass's own work (ordering the graph, summing
 * gradients that meet, freeing saved tensors) is reported as a row of its
 * own: the pass's time less that of the nodes' backward functions. */
lt_status lt_backward(lt_tensor *root, lt_tensor *grad, bool retain_graph) {
  if (!lt_profile_active) return backward(root, grad, retain_graph);
  int64_t t0 = lt_profile_now(), nodes0 = lt_profile_kind_ns(LT_PROF_BACKWARD);
  lt_status st = backward(root, grad, retain_graph);
  int64_t nodes = lt_profile_kind_ns(LT_PROF_BACKWARD) - nodes0;
  lt_profile_add("autograd engine", LT_PROF_BACKWARD, lt_profile_now() - t0 - nodes);
  return st;
}
