/* Define-by-run autograd: the graph of recorded ops.
 *
 * An op whose inputs require grad records one node: which op (for its backward
 * function), an edge per input (the input's own grad_fn, or the input itself
 * when it is a leaf), the tensors its backward needs, and a few parameters.
 * Nodes hold no reference to their output, so a graph is freed as soon as the
 * last tensor that leads to it goes away. See backward.c for the traversal. */
#ifndef LT_GRAPH_H
#define LT_GRAPH_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* Computes the gradient of each input from the gradient of the output.
 * grad_in[i] is to be set (to a new reference, shaped like input i) only where
 * lt_edge_needs_grad(&n->inputs[i]); it may stay NULL for a zero gradient. */
typedef lt_status (*lt_backward_fn)(lt_node *n, lt_tensor *grad_out, lt_tensor **grad_in);

typedef struct lt_op {
  const char *name;
  lt_backward_fn backward;
} lt_op;

typedef struct lt_edge {
  lt_node *fn;      /* the input's grad_fn (referenced), or NULL */
  lt_tensor *leaf;  /* the input itself (referenced) when it is a leaf that requires grad */
  int ndim;         /* the input's shape: broadcast gradients are reduced to it */
  int64_t shape[LT_MAX_DIMS];
} lt_edge;

enum { LT_NODE_MAX_SAVED = 4, LT_NODE_MAX_PARAMS = 2 * LT_MAX_DIMS };

struct lt_node {
  const lt_op *op;
  int refcount;
  bool released;                 /* saved tensors freed by a backward pass */
  int n_saved;
  lt_tensor *saved[LT_NODE_MAX_SAVED]; /* detached aliases: no history, shared storage */
  uint32_t saved_version[LT_NODE_MAX_SAVED];
  double f[LT_NODE_MAX_PARAMS];  /* op parameters (scalars, dims, sizes) */
  int64_t i[LT_NODE_MAX_PARAMS];
  int out_ndim;
  int64_t out_shape[LT_MAX_DIMS];
  /* scratch of one backward pass */
  lt_tensor *grad_acc;
  int pending;
  uint64_t visit;
  lt_node *next_free;
  int n_inputs;
  lt_edge inputs[];
};

/* ---- grad mode ---- */
bool lt_grad_enabled(void);
bool lt_set_grad_enabled(bool on); /* returns the previous mode */

/* True when an op on t must be recorded. */
static inline bool lt_tracks(const lt_tensor *t) { return t->requires_grad && lt_grad_enabled(); }
static inline bool lt_edge_needs_grad(const lt_edge *e) { return e->fn || e->leaf; }

/* Records `op` as the grad_fn of `out` when grad mode is on and an input
 * requires grad, saving `saved` for its backward. *node (if not NULL) receives
 * the node, or NULL when nothing was recorded, so the caller can set params.
 * On failure `out` is untouched and the caller releases it. */
lt_status lt_record(lt_tensor *out, const lt_op *op, int n_in, lt_tensor *const *in,
                    int n_saved, lt_tensor *const *saved, lt_node **node);

void lt_node_release(lt_node *n); /* NULL is allowed; frees whole chains without recursion */

/* ---- backward (backward.c) ---- */
/* Accumulates d(root)/d(leaf) into every leaf's ->grad. `grad` may be NULL for
 * a root of one element. Without retain_graph the saved tensors are freed as
 * each node is used, and a second backward through the graph is an error. */
lt_status lt_backward(lt_tensor *root, lt_tensor *grad, bool retain_graph);

#endif
