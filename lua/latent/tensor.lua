-- Tensor methods written in Lua: Torch-style printing.
--
--   > lt.tensor{{1, 2.5}, {3, 4}}
--    1.0000  2.5000
--    3.0000  4.0000
--   [Tensor float32 of size 2x2]
local M = {}

local EDGE = 3          -- values shown at each end of a long dimension
local SUMMARIZE = 1000  -- tensors with more elements are shown in part

-- One format for all shown values: integers as integers, otherwise fixed
-- point when the magnitudes allow it, else scientific.
local function choose_format(values)
  local max, all_int = 0, true
  for _, v in ipairs(values) do
    if v ~= v or v == math.huge or v == -math.huge then
      all_int = false
    else
      max = math.max(max, math.abs(v))
      if v ~= math.floor(v) then all_int = false end
    end
  end
  local fmt
  if all_int and max < 1e9 then fmt = "%.0f"
  elseif max == 0 or (max >= 1e-3 and max < 1e5) then fmt = "%.4f"
  else fmt = "%.4e" end
  local width = 0
  for _, v in ipairs(values) do width = math.max(width, #string.format(fmt, v)) end
  return function(v) return string.format("%" .. width .. "s", string.format(fmt, v)) end
end

-- The indices shown along a dimension of size n: all, or the ends around a gap (0).
local function shown(n, summarize)
  local idx = {}
  if not summarize or n <= 2 * EDGE then
    for i = 1, n do idx[#idx + 1] = i end
  else
    for i = 1, EDGE do idx[#idx + 1] = i end
    idx[#idx + 1] = 0
    for i = n - EDGE + 1, n do idx[#idx + 1] = i end
  end
  return idx
end

-- Calls visit(prefix_indices, matrix_tensor) for each 2-D slice shown.
local function each_matrix(t, summarize, prefix, visit)
  if t:dim() <= 2 then return visit(prefix, t) end
  for _, i in ipairs(shown(t:size(1), summarize)) do
    if i == 0 then visit(nil) else
      local p = { table.unpack(prefix) }
      p[#p + 1] = i
      each_matrix(t:select(1, i), summarize, p, visit)
    end
  end
end

local function matrix_lines(m, summarize, fmt, lines)
  if m:dim() == 1 then
    for _, i in ipairs(shown(m:size(1), summarize)) do lines[#lines + 1] = i == 0 and " ..." or " " .. fmt(m:get(i)) end
    return
  end
  local cols = shown(m:size(2), summarize)
  for _, i in ipairs(shown(m:size(1), summarize)) do
    if i == 0 then lines[#lines + 1] = " ..." else
      local row = {}
      for _, j in ipairs(cols) do row[#row + 1] = j == 0 and "..." or fmt(m:get(i, j)) end
      lines[#lines + 1] = " " .. table.concat(row, " ")
    end
  end
end

local function footer(t)
  local info = {}
  if t.grad_fn then info[#info + 1] = "grad_fn=" .. t.grad_fn
  elseif t.requires_grad then info[#info + 1] = "requires grad" end
  local extra = #info > 0 and ", " .. table.concat(info, ", ") or ""
  if t:dim() == 0 then return "[Tensor float32 scalar" .. extra .. "]" end
  return "[Tensor float32 of size " .. table.concat(t.shape, "x") .. extra .. "]"
end

-- The values a summary shows, for choosing one format for all of them.
local function shown_values(t, summarize)
  local values = {}
  each_matrix(t, summarize, {}, function(_, m)
    if not m then return end
    if m:dim() == 0 then values[#values + 1] = m:item(); return end
    local rows = m:dim() == 1 and { 0 } or shown(m:size(1), summarize)
    for _, i in ipairs(rows) do
      if m:dim() == 1 then
        for _, j in ipairs(shown(m:size(1), summarize)) do if j > 0 then values[#values + 1] = m:get(j) end end
      elseif i > 0 then
        for _, j in ipairs(shown(m:size(2), summarize)) do if j > 0 then values[#values + 1] = m:get(i, j) end end
      end
    end
  end)
  return values
end

function M.tostring(t)
  if t:numel() == 0 then return "[Tensor float32 with no elements, of size " .. table.concat(t.shape, "x") .. "]" end
  local summarize = t:numel() > SUMMARIZE
  local fmt = choose_format(shown_values(t, summarize))
  if t:dim() == 0 then return fmt(t:item()):gsub("^%s+", "") .. "\n" .. footer(t) end
  local lines = {}
  each_matrix(t, summarize, {}, function(prefix, m)
    if not m then lines[#lines + 1] = "..."; lines[#lines + 1] = ""; return end
    if #prefix > 0 then lines[#lines + 1] = "(" .. table.concat(prefix, ",") .. ",.,.) =" end
    matrix_lines(m, summarize, fmt, lines)
    if #prefix > 0 then lines[#lines + 1] = "" end
  end)
  lines[#lines + 1] = footer(t)
  return table.concat(lines, "\n")
end

function M.install(core)
  core.Tensor.__tostring = M.tostring
end

return M
