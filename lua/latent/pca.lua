-- Principal component analysis, as scikit-learn's PCA (svd_solver = "full").
-- The numbers are computed in C (src/analysis/pca.c): the mean, the k leading
-- eigenvectors of the covariance (in double, LAPACK dsyevr), and projections
-- through sgemm.
--
--   local p = lt.PCA{k = 2}               -- a model; options: k (required),
--                                         -- whiten = false, sign = "scores"
--   p:fit(x)                              -- x: N x D; returns p
--   local y  = p:transform(x)             -- M x D -> M x k (a single D vector -> k)
--   local y  = p:fit_transform(x)         -- fit, then transform x
--   local xr = p:inverse_transform(y)     -- M x k -> M x D
--   local p  = lt.pca(x, 2, {whiten = true})   -- shorthand: lt.PCA{k = 2, whiten = true}:fit(x)
--
-- After fit: p.components (k x D, unit rows, the leading one first), p.mean
-- (D), p.explained_variance (k, ddof 1), p.explained_variance_ratio (k),
-- p.singular_values (k), p.total_variance, p.n_samples, p.n_features.
--
-- whiten = true divides each coordinate by sqrt(explained_variance), so the
-- scores of the training data have unit variance; inverse_transform undoes it
-- exactly (as scikit-learn does).
--
-- sign chooses how each component's sign is fixed, so pictures repeat:
--   "scores"   (default) the score (x - mean) . component largest in magnitude
--              over the training rows is positive: scikit-learn's svd_flip up
--              to 1.4 (Debian 12 has 1.2), whose results this matches;
--   "loadings" the component's entry largest in magnitude is positive:
--              scikit-learn 1.5 and later; it does not depend on the data rows.
local core = require "latent.core"
local A = core.analysis

local PCA = {}
PCA.__index = PCA
PCA.__name = "latent.PCA"

local FIELDS = { "components", "mean", "explained_variance", "explained_variance_ratio", "singular_values" }
local KNOWN = { k = true, whiten = true, sign = true }

local function shape(t) return table.concat(t.shape, "x") end

-- ==================== construction ====================

local function check_opts(fname, opts)
  if type(opts) ~= "table" then error(fname .. ": expected an options table {k = ...}, got " .. type(opts), 3) end
  for key in pairs(opts) do
    if not KNOWN[key] then error(string.format("%s: unknown option '%s'", fname, tostring(key)), 3) end
  end
  local k = type(opts.k) == "number" and math.tointeger(opts.k) -- 2.0 is 2; 2.5, nil, "2" are errors
  if not k or k < 1 then
    error(string.format("%s: option 'k' must be a positive integer, got %s", fname, tostring(opts.k)), 3)
  end
  if opts.whiten ~= nil and type(opts.whiten) ~= "boolean" then
    error(fname .. ": option 'whiten' must be a boolean, got " .. type(opts.whiten), 3)
  end
  local sign = opts.sign or "scores"
  if sign ~= "scores" and sign ~= "loadings" then
    error(string.format("%s: option 'sign' must be \"scores\" or \"loadings\", got %s", fname, tostring(sign)), 3)
  end
  return k, opts.whiten or false, sign
end

-- lt.PCA{k = 2, whiten = false, sign = "scores"}: an unfitted model.
local function new(opts)
  local k, whiten, sign = check_opts("PCA", opts)
  return setmetatable({ k = k, whiten = whiten, sign = sign, fitted = false }, PCA)
end

-- ==================== methods ====================

-- fit(x): learns the model from x (N x D, finite, N >= 2, k <= min(N, D)).
function PCA:fit(x)
  if getmetatable(self) ~= PCA then error("PCA:fit: call it as p:fit(x)", 2) end
  if not core.is_tensor(x) then error("PCA:fit: x must be a tensor N x D, got " .. type(x), 2) end
  local r = table.pack(A.pca_fit(x, self.k, self.sign))
  for i, name in ipairs(FIELDS) do self[name] = r[i] end
  self.total_variance = r[6]
  self.n_samples, self.n_features = x:size(1), x:size(2)
  self.fitted = true
  return self
end

local function check_fitted(self, fname)
  if getmetatable(self) ~= PCA then error(string.format("PCA:%s: call it as p:%s(...)", fname, fname), 3) end
  if not self.fitted then error(string.format("PCA:%s: the model is not fitted; call p:fit(x) first", fname), 3) end
end

-- Runs f on a matrix; a single vector is taken as one row and given back as one.
local function rows(fname, t, f)
  if not core.is_tensor(t) then error(string.format("PCA:%s: expected a tensor, got %s", fname, type(t)), 3) end
  if t:dim() == 1 then return f(t:view(1, -1)):view(-1) end
  return f(t)
end

-- transform(x): x (M x D, or D) -> scores (M x k, or k).
function PCA:transform(x)
  check_fitted(self, "transform")
  local var = self.whiten and self.explained_variance or nil
  return rows("transform", x, function(m) return A.pca_transform(m, self.mean, self.components, var) end)
end

function PCA:fit_transform(x) return self:fit(x):transform(x) end

-- inverse_transform(y): scores (M x k, or k) -> points (M x D, or D).
function PCA:inverse_transform(y)
  check_fitted(self, "inverse_transform")
  local var = self.whiten and self.explained_variance or nil
  return rows("inverse_transform", y, function(m)
    return A.pca_inverse_transform(m, self.mean, self.components, var)
  end)
end

function PCA:__tostring()
  local head = string.format("PCA(k = %d, whiten = %s, sign = %s)", self.k, tostring(self.whiten), self.sign)
  if not self.fitted then return head .. ", not fitted" end
  return string.format("%s fitted on %dx%d, explains %.4g%% of the variance", head, self.n_samples,
    self.n_features, 100 * self.explained_variance_ratio:sum():item())
end

-- ==================== module ====================

local M = {}

M.PCA = setmetatable({}, {
  __call = function(_, opts) return new(opts) end,
  __index = PCA, -- lt.PCA.fit etc., for documentation and reuse
})

-- lt.pca(x, k [, opts]): a model with k components fitted to x.
function M.pca(x, k, opts)
  local o = {}
  for key, v in pairs(opts or {}) do o[key] = v end
  if o.k ~= nil then error("pca: give k as argument #2, not as an option", 2) end
  o.k = k
  local kk, whiten, sign = check_opts("pca", o)
  return setmetatable({ k = kk, whiten = whiten, sign = sign, fitted = false }, PCA):fit(x)
end

-- Installs lt.PCA and lt.pca.
function M.install(lt)
  lt.PCA, lt.pca = M.PCA, M.pca
end

return M
