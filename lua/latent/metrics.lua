-- lt.metrics: evaluation figures computed with tensor ops. A plain table of
-- functions, so later modules can add their own (trustworthiness, knn_accuracy).
--
--   local acc, correct = lt.metrics.accuracy(logits, y)     -- logits B x K, or B predicted classes
--   local cm = lt.metrics.confusion_matrix(logits, y, 10)   -- 10 x 10: rows true class, columns predicted
--   local per_class, support = lt.metrics.per_class_accuracy(cm)
--   local mse, per_sample = lt.metrics.reconstruction_error(x, xhat)
--
-- Classes are 1-based, as lt.data's labels, lt.cross_entropy's targets and
-- argmax. Nothing here records gradients: every function runs under lt.no_grad
-- and returns plain values or tensors without history. Misuse (wrong shapes,
-- a class outside 1..K, an empty batch) is an error naming the function.
local lt = require "latent.core"

local metrics = {}

local NAN = -(0 / 0) -- 0/0 is a NaN with the sign bit set on x86; printed as "-nan"

local function shape(t) return table.concat(t.shape, "x") end

-- Raises "fname: message" at the first caller outside this file (and outside
-- the C frame of lt.no_grad), so the position is the user's line.
local SOURCE = debug.getinfo(1, "S").source
local function fail(fname, fmt, ...)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or (info.source ~= SOURCE and info.what ~= "C") then break end
    level = level + 1
  end
  error(fname .. ": " .. string.format(fmt, ...), level)
end

local function check_tensor(fname, v, what)
  if not lt.is_tensor(v) then fail(fname, "%s must be a tensor, got %s", what, type(v)) end
end

-- B predicted classes from logits (B x K: the argmax of each row) or from a
-- vector of classes; also K for logits.
local function predictions(fname, input)
  check_tensor(fname, input, "argument #1 (logits or predictions)")
  if input:dim() == 2 then
    if input:size(2) == 0 then fail(fname, "logits %s have no classes", shape(input)) end
    return input:argmax(2), input:size(2)
  end
  if input:dim() ~= 1 then
    fail(fname, "argument #1 must be logits B x K or a vector of B classes, got %s", shape(input))
  end
  return input
end

-- Checks target is a vector of B labels, B > 0.
local function check_target(fname, target, b, pred_shape)
  check_tensor(fname, target, "argument #2 (target)")
  if target:dim() ~= 1 or target:size(1) ~= b then
    fail(fname, "target must be a vector of %d classes (one per row of %s), got %s", b, pred_shape, shape(target))
  end
  if b == 0 then fail(fname, "an empty batch has no %s", fname) end
end

-- ==================== accuracy ====================

-- accuracy(logits_or_pred, target) -> fraction correct in [0, 1], number correct
function metrics.accuracy(input, target)
  return lt.no_grad(function()
    local pred = predictions("accuracy", input)
    check_target("accuracy", target, pred:size(1), shape(input))
    local correct = pred:eq(target):sum():item()
    return correct / pred:size(1), math.tointeger(correct) or correct
  end)
end

-- ==================== confusion matrix ====================

-- One-hot rows (B x k) of the classes in v; names the first value that is not
-- an integer in 1..k.
local function one_hot(fname, v, k, what)
  local hot = v:view(-1, 1):eq(lt.arange(1, k + 1):view(1, k))
  if hot:sum():item() ~= v:size(1) then
    for i, c in ipairs(v:totable()) do
      if not (c >= 1 and c <= k and c == math.floor(c)) then
        fail(fname, "%s[%d] = %s is not a class in 1..%d", what, i, tostring(math.tointeger(c) or c), k)
      end
    end
  end
  return hot
end

-- The largest class in pred and target, for a k that was not given.
local function infer_k(fname, pred, target)
  local k = math.max(pred:max():item(), target:max():item())
  if k < 1 or k ~= math.floor(k) then
    fail(fname, "cannot infer the number of classes (largest label %s); pass k", tostring(k))
  end
  return math.tointeger(k)
end

-- confusion_matrix(logits_or_pred, target [, k]) -> k x k counts, rows the true
-- class, columns the predicted one. k defaults to the logits' K, or else the
-- largest class in pred and target. Counts are exact up to 2^24 per cell.
function metrics.confusion_matrix(input, target, k)
  return lt.no_grad(function()
    local pred, logits_k = predictions("confusion_matrix", input)
    check_target("confusion_matrix", target, pred:size(1), shape(input))
    if k ~= nil and (math.type(k) == nil or k ~= math.floor(k) or k < 1) then
      fail("confusion_matrix", "argument #3 (k) must be a positive integer, got %s", tostring(k))
    end
    k = math.tointeger(k) or logits_k or infer_k("confusion_matrix", pred, target)
    local t_hot = one_hot("confusion_matrix", target, k, "target")
    local p_hot = one_hot("confusion_matrix", pred, k, "prediction")
    return t_hot:t():matmul(p_hot) -- cm[i][j] = #{n : target n = i, prediction n = j}
  end)
end

-- ==================== per-class figures ====================

local function check_cm(fname, cm)
  check_tensor(fname, cm, "argument #1 (confusion matrix)")
  if cm:dim() ~= 2 or cm:size(1) ~= cm:size(2) or cm:size(1) == 0 then
    fail(fname, "the confusion matrix must be K x K with K >= 1, got %s", shape(cm))
  end
end

-- per_class_accuracy(cm) -> K accuracies (recall: correct / samples of that
-- class), K supports (samples per class). A class with no samples has NaN
-- accuracy: undefined, not 0 (which would say "all wrong"); filter with the
-- support, or use balanced_accuracy.
function metrics.per_class_accuracy(cm)
  return lt.no_grad(function()
    check_cm("per_class_accuracy", cm)
    local k = cm:size(1)
    local correct = (cm * lt.eye(k)):sum(2)
    local support = cm:sum(2)
    local absent = support:eq(0)
    local acc = correct / lt.where(absent, 1, support) -- no 0/0 computed
    return lt.where(absent, NAN, acc), support
  end)
end

-- balanced_accuracy(cm) -> the mean of per-class accuracies over the classes
-- that have samples (scikit-learn's balanced_accuracy_score).
function metrics.balanced_accuracy(cm)
  local acc, support = metrics.per_class_accuracy(cm)
  local sum, n = 0, 0
  for i, s in ipairs(support:totable()) do
    if s > 0 then sum, n = sum + acc:get(i), n + 1 end
  end
  if n == 0 then fail("balanced_accuracy", "the confusion matrix %s holds no samples", shape(cm)) end
  return sum / n
end

-- ==================== reconstruction ====================

-- reconstruction_error(x, xhat) -> mean squared error over everything (a
-- number), and a B tensor of each sample's mean squared error (over all of
-- its elements: C x H x W for images). x and xhat must have the same shape.
function metrics.reconstruction_error(x, xhat)
  return lt.no_grad(function()
    local fname = "reconstruction_error"
    check_tensor(fname, x, "argument #1 (x)")
    check_tensor(fname, xhat, "argument #2 (xhat)")
    if shape(x) ~= shape(xhat) or x:dim() == 0 then
      fail(fname, "x and xhat must have the same shape B x ..., got %s and %s", shape(x), shape(xhat))
    end
    if x:numel() == 0 then fail(fname, "x %s is empty", shape(x)) end
    local per_sample = ((x - xhat) ^ 2):view(x:size(1), -1):mean(2)
    return per_sample:mean():item(), per_sample
  end)
end

-- trustworthiness(x, embedding [, k = 5]) and knn_accuracy(x, labels [, k = 5 [, {test_x, test_labels}]]): C, src/analysis/metrics.h
metrics.trustworthiness, metrics.knn_accuracy = lt.analysis.trustworthiness, lt.analysis.knn_accuracy

return metrics
