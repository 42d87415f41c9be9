-- lt.metrics: accuracy, confusion matrix, per-class and balanced accuracy,
-- reconstruction error, against values computed by hand, plus their
-- agreement on random data and the errors for misuse.
local H = require "harness"
local lt = require "latent"

local M = lt.metrics
local T = lt.tensor

-- Five samples, three classes; row argmaxes are 2, 1, 3, 3, 2 (no ties).
local LOGITS = T { { 0.1, 2.0, -1.0 }, { 3.0, 0.5, 0.2 }, { -1, 0, 4 }, { 0, 1, 1.5 }, { 0.3, 0.9, 0.1 } }
local TARGET = T { 2, 1, 1, 3, 3 }

H.test("accuracy from logits and from predicted classes", function()
  local acc, correct = M.accuracy(LOGITS, TARGET)
  H.close(acc, 3 / 5, 1e-12)
  H.eq(correct, 3)
  H.eq(math.type(correct), "integer")
  acc, correct = M.accuracy(T { 2, 1, 3, 3, 2 }, TARGET)
  H.close(acc, 0.6, 1e-12)
  H.eq(correct, 3)
  H.eq(M.accuracy(TARGET, TARGET), 1)
  H.eq(M.accuracy(T { 1 }, T { 2 }), 0)
end)

-- pairs (target, prediction): (1,1) (2,2) (3,2) (3,3) (1,3) (3,3) (2,1)
local PRED7, TARGET7 = T { 1, 2, 2, 3, 3, 3, 1 }, T { 1, 2, 3, 3, 1, 3, 2 }
local CM7 = { { 1, 0, 1 }, { 1, 1, 0 }, { 0, 1, 2 } }

H.test("confusion matrix: rows true class, columns predicted", function()
  H.eq(M.confusion_matrix(PRED7, TARGET7, 3), T(CM7))
  H.eq(M.confusion_matrix(PRED7, TARGET7), T(CM7), "k inferred from the largest class")
  H.eq(M.confusion_matrix(PRED7, TARGET7, 4),
    T { { 1, 0, 1, 0 }, { 1, 1, 0, 0 }, { 0, 1, 2, 0 }, { 0, 0, 0, 0 } })
  -- from logits: k defaults to K; argmaxes 2 1 3 3 2 against 2 1 1 3 3
  H.eq(M.confusion_matrix(LOGITS, TARGET), T { { 1, 0, 1 }, { 0, 1, 0 }, { 0, 1, 1 } })
  H.eq(M.confusion_matrix(LOGITS, TARGET, 3.0).shape, { 3, 3 })
end)

H.test("per-class accuracy: recall per true class, NaN where a class is absent", function()
  local acc, support = M.per_class_accuracy(T(CM7))
  H.close(acc, { 1 / 2, 1 / 2, 2 / 3 }, 1e-7)
  H.eq(support, T { 2, 2, 3 })
  local cm4 = M.confusion_matrix(PRED7, TARGET7, 4)
  acc, support = M.per_class_accuracy(cm4)
  H.close(acc:narrow(1, 1, 3), { 0.5, 0.5, 2 / 3 }, 1e-7)
  local a4 = acc:get(4)
  H.ok(a4 ~= a4, "absent class 4 has NaN accuracy, got " .. tostring(a4))
  H.eq(support:get(4), 0)
  H.close(M.balanced_accuracy(cm4), (0.5 + 0.5 + 2 / 3) / 3, 1e-7)
  H.close(M.balanced_accuracy(T(CM7)), (0.5 + 0.5 + 2 / 3) / 3, 1e-7)
end)

H.test("the metrics agree with each other on random data", function()
  local logits, y = lt.randn(1000, 10), lt.randint(1, 10, 1000)
  local acc, correct = M.accuracy(logits, y)
  local cm = M.confusion_matrix(logits, y)
  H.eq(cm:sum():item(), 1000)
  H.eq((cm * lt.eye(10)):sum():item(), correct)
  H.close(acc, correct / 1000, 1e-12)
  for c = 1, 10 do H.eq(cm:select(1, c):sum():item(), y:eq(c):sum():item(), "row " .. c .. " counts class " .. c) end
  local per, support = M.per_class_accuracy(cm)
  H.close((per * support):sum():item(), correct, 1e-3)
end)

H.test("reconstruction error: mean and per-sample MSE", function()
  local x = lt.zeros(2, 1, 2, 2)
  local xhat = T { { { { 1, 1 }, { 1, 1 } } }, { { { 0.5, 0 }, { 0, 0 } } } }
  local mse, per = M.reconstruction_error(x, xhat)
  H.close(per, { 1, 0.0625 }, 1e-7)
  H.eq(per.shape, { 2 })
  H.close(mse, (1 + 0.0625) / 2, 1e-7)
  H.close(mse, lt.mse(xhat, x):item(), 1e-7, 0, "the same as lt.mse over the batch")
  local v, pv = M.reconstruction_error(T { 1, 2 }, T { 1, 4 })
  H.close(v, 2, 1e-7)
  H.close(pv, { 0, 4 }, 1e-7)
end)

H.test("metrics record no gradient", function()
  local xhat = lt.rand(3, 1, 4, 4):requires_grad_()
  local _, per = M.reconstruction_error(lt.rand(3, 1, 4, 4), xhat)
  H.eq(per.requires_grad, false)
  H.eq(per.grad_fn, nil)
  local logits = lt.randn(4, 3):requires_grad_()
  H.eq(M.confusion_matrix(logits, T { 1, 2, 3, 1 }).requires_grad, false)
  H.ok(lt.is_grad_enabled(), "grad mode restored")
end)

H.test("errors name the function and what is wrong", function()
  local acc, cm, pca, rec = M.accuracy, M.confusion_matrix, M.per_class_accuracy, M.reconstruction_error
  H.raises("accuracy: target must be a vector of 5 classes %(one per row of 5x3%), got 4", acc, LOGITS, T { 1, 2, 3, 1 })
  H.raises("accuracy: target must be a vector of 5 classes.*got 5x1", acc, LOGITS, TARGET:view(5, 1))
  H.raises("accuracy: argument #1 must be logits B x K or a vector of B classes, got 2x5x3", acc, lt.randn(2, 5, 3), TARGET)
  H.raises("accuracy: argument #1 %(logits or predictions%) must be a tensor, got table", acc, { 1, 2 }, TARGET)
  H.raises("accuracy: argument #2 %(target%) must be a tensor, got nil", acc, LOGITS)
  H.raises("accuracy: an empty batch", acc, lt.zeros(0, 3), lt.zeros(0))
  H.raises("confusion_matrix: target%[4%] = 4 is not a class in 1..3", cm, T { 1, 2, 3, 1 }, T { 1, 2, 3, 4 }, 3)
  H.raises("confusion_matrix: target%[2%] = 1.5 is not a class in 1..3", cm, T { 1, 2 }, T { 1, 1.5 }, 3)
  H.raises("confusion_matrix: prediction%[1%] = 0 is not a class in 1..3", cm, T { 0, 2 }, T { 1, 1 }, 3)
  H.raises("confusion_matrix: prediction%[3%] = 3 is not a class in 1..2", cm, LOGITS, TARGET:clamp(1, 2), 2)
  H.raises("confusion_matrix: argument #3 %(k%) must be a positive integer, got 2.5", cm, PRED7, TARGET7, 2.5)
  H.raises("confusion_matrix: argument #3 %(k%) must be a positive integer, got 0", cm, PRED7, TARGET7, 0)
  H.raises("confusion_matrix: argument #3 %(k%) must be a positive integer, got 3", cm, PRED7, TARGET7, "3")
  H.raises("confusion_matrix: cannot infer the number of classes", cm, T { 0.5 }, T { 0.5 })
  H.raises("per_class_accuracy: the confusion matrix must be K x K with K >= 1, got 2x3", pca, lt.zeros(2, 3))
  H.raises("balanced_accuracy: the confusion matrix 2x2 holds no samples", M.balanced_accuracy, lt.zeros(2, 2))
  H.raises("reconstruction_error: x and xhat must have the same shape B x ..., got 2x1x2x2 and 2x1x2x3",
    rec, lt.zeros(2, 1, 2, 2), lt.zeros(2, 1, 2, 3))
  H.raises("reconstruction_error: argument #2 %(xhat%) must be a tensor, got number", rec, lt.zeros(2), 1)
  H.raises("reconstruction_error: x 0x4 is empty", rec, lt.zeros(0, 4), lt.zeros(0, 4))
  -- the error points at the caller's line, not inside metrics.lua
  local err = H.raises("accuracy:", acc, LOGITS, T { 1 })
  H.ok(not err:find("metrics.lua", 1, true), "position inside the library: " .. err)
end)

H.test("lt.metrics is a plain table of functions", function()
  H.eq(type(M), "table")
  for _, name in ipairs { "accuracy", "confusion_matrix", "per_class_accuracy", "balanced_accuracy",
                          "reconstruction_error" } do
    H.eq(type(M[name]), "function", name)
  end
end)

H.done()
