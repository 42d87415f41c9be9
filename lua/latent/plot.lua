-- latent.plot: figures as PNG files, for people to look at.
--
--   local plot = require("latent").plot
--   plot.lines("curves.png", {{name = "train", y = losses}, {name = "val", y = val, style = "dashed"}},
--              {title = "Learning curves", xlabel = "epoch", ylabel = "loss", logy = true})
--   plot.bars("sizes.png", {labels = {"2", "4", "8"}, values = {...}, err = {...}}, {ylabel = "loss"})
--   plot.scatter("latent.png", z, y, {classes = {"0", "1", ...}})          -- z: N x 2, y: N classes (1-based)
--   plot.scatter3d("latent3d.png", z3, y, {views = {{-60, 30}, {30, 20}}})
--   plot.confusion("cm.png", cm, {classes = {...}})                        -- cm: K x K counts
--   plot.image_grid("recon.png", {x, x_noisy, x_hat}, {labels = {"original", "noisy", "restored"}, zoom = 2})
--
-- Each function writes its PNG atomically and returns a table describing the
-- layout (the axes rectangle in pixels, the data limits, the legend box, and
-- functions mapping data to pixels), for tests and for drawing more on top.
-- The layout is all here, in Lua, so a researcher can change it; the pixels
-- are drawn in C (core.plot.Canvas: lines, polygons, markers, text, images).
-- Text is stb_easy_font (ASCII), scaled 2x by default.
local core = require "latent.core"
local C = core.plot

local M = {}
M.Canvas = C.Canvas
M.read_png = C.read_png
M.text_size = C.text_size

-- ==================== style ====================

-- The categorical palette: Tableau 10 (as in matplotlib's "tab10"), then
-- lighter partners of each for an 11th to 20th class (as in "tab20").
M.palette = {
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
}

-- Sizes in pixels and colours of every chart; change a field to restyle all of them.
M.style = {
  font = 2,              -- text scale (stb_easy_font units to pixels); 2 gives 14-pixel capitals
  title_font = 2,
  text = "#262626", axis = "#404040", grid = "#e8e8e8", background = "#ffffff",
  tick = 5, pad = 8,     -- tick length; the gap between neighbouring things
  line_width = 2, marker = 2.5, scatter_alpha = 0.6,
  legend_frame = "#cccccc",
  pane = "#f2f2f2", pane_edge = "#b8b8b8",
}

-- The sequential colour map of heat maps: ColorBrewer's "Blues" anchors.
local BLUES = { "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b" }

local function hex_rgb(h)
  return tonumber(h:sub(2, 3), 16), tonumber(h:sub(4, 5), 16), tonumber(h:sub(6, 7), 16)
end

-- Colour of v in [0, 1] on the heat map, as {r, g, b} (0..255 integers).
function M.colormap(v)
  v = math.max(0, math.min(1, v ~= v and 0 or v))
  local pos = v * (#BLUES - 1)
  local k = math.min(math.floor(pos), #BLUES - 2)
  local f = pos - k
  local r1, g1, b1 = hex_rgb(BLUES[k + 1])
  local r2, g2, b2 = hex_rgb(BLUES[k + 2])
  local function mix(a, b) return math.floor(a + (b - a) * f + 0.5) end
  return { mix(r1, r2), mix(g1, g2), mix(b1, b2) }
end

-- Black or white, whichever reads better on the colour {r, g, b}.
local function contrast(rgb)
  local lum = (0.299 * rgb[1] + 0.587 * rgb[2] + 0.114 * rgb[3]) / 255
  return lum > 0.55 and "#000000" or "#ffffff"
end

-- ==================== errors and arguments ====================

-- Raises msg at the first stack level outside this file, so the message
-- points at the caller's line.
local function fail(fn, fmt, ...)
  local msg = fn .. ": " .. string.format(fmt, ...)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info then level = 0 break end
    if not info.source:find("latent/plot.lua", 1, true) then break end
    level = level + 1
  end
  error(msg, level)
end

local function check_path(fn, path)
  if type(path) ~= "string" or path == "" then fail(fn, "path must be a file name, got %s", type(path)) end
end

-- Options must be a table of known names: a typo is an error, not a silent default.
local function check_opts(fn, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail(fn, "options must be a table, got %s", type(opts)) end
  for k in pairs(opts) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      fail(fn, "unknown option '%s' (known: %s)", tostring(k), table.concat(names, ", "))
    end
  end
  return opts
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function is_finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- A colour as the canvas takes it: "#rrggbb" or {r, g, b} in 0..255.
local function check_color(fn, what, v)
  if type(v) == "string" and v:match("^#%x%x%x%x%x%x$") then return v end
  if type(v) == "table" and #v == 3 then
    local ok = true
    for i = 1, 3 do ok = ok and type(v[i]) == "number" and v[i] >= 0 and v[i] <= 255 end
    if ok then return v end
  end
  fail(fn, "%s must be a colour like \"#1f77b4\" or {31, 119, 180}, got %s", what, tostring(v))
end

-- A list of numbers from a table or a tensor (any shape, flattened).
local function numbers(fn, what, v)
  if core.is_tensor(v) then return v:detach():contiguous():view(-1):totable() end
  if type(v) ~= "table" then fail(fn, "%s must be a table of numbers or a tensor, got %s", what, type(v)) end
  local out = {}
  for i = 1, #v do
    if type(v[i]) ~= "number" then fail(fn, "%s[%d] must be a number, got %s", what, i, type(v[i])) end
    out[i] = v[i]
  end
  return out
end

local function check_size(fn, opts, w, h)
  w, h = opts.width or w, opts.height or h
  for _, v in ipairs { w, h } do
    if type(v) ~= "number" or v ~= math.floor(v) then
      fail(fn, "width and height must be integers, got %s", tostring(v))
    end
    if v < 64 or v > 8192 then fail(fn, "width and height must be in [64, 8192], got %d", v) end
  end
  return math.floor(w), math.floor(h)
end

local function save(fn, canvas, path)
  local ok, err = pcall(canvas.save, canvas, path)
  if not ok then fail(fn, "%s", (tostring(err):gsub("^save: ", ""))) end
end

-- ==================== text ====================

local function text_w(s, scale) return (C.text_size(s, scale or M.style.font)) end
local function text_h(scale) return 7 * (scale or M.style.font) end

-- Bold-looking text: the same glyphs drawn twice, a pixel apart.
local function bold_text(c, x, y, s, opts)
  c:text(x, y, s, opts)
  c:text(x + 1, y, s, opts)
end

-- ==================== scales and ticks ====================

-- Ticks at 1, 2, 2.5 or 5 times a power of ten, splitting [lo, hi] into at
-- most about `target` intervals (matplotlib's MaxNLocator does much the same).
function M.nice_ticks(lo, hi, target)
  target = target or 6
  local raw = (hi - lo) / math.max(target, 1)
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = 10 * mag
  for _, m in ipairs { 1, 2, 2.5, 5 } do
    if m * mag >= raw * (1 - 1e-9) then step = m * mag break end
  end
  local ticks, first = {}, math.ceil(lo / step - 1e-9)
  for k = first, first + 1000 do
    local v = tonumber(string.format("%.12g", k * step)) -- 3 * 0.2 is 0.6, not 0.6000000000000001
    if v > hi + step * 1e-9 then break end
    ticks[#ticks + 1] = math.abs(v) < step * 1e-9 and 0 or v
  end
  return ticks, step
end

-- Tick labels with the decimals the step needs, the same for all.
function M.format_ticks(ticks, step)
  local big = 0
  for _, v in ipairs(ticks) do big = math.max(big, math.abs(v)) end
  local out = {}
  if big >= 1e6 or (step < 1e-4 and big > 0) then
    for i, v in ipairs(ticks) do out[i] = (string.format("%.3g", v):gsub("e([-+])0*(%d)", "e%1%2"):gsub("e%+", "e")) end
    return out
  end
  local d = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
  if math.abs(step * 10 ^ d - math.floor(step * 10 ^ d + 0.5)) > 1e-6 then d = d + 1 end
  for i, v in ipairs(ticks) do
    local s = string.format("%." .. d .. "f", v)
    out[i] = s:match("^%-0%.?0*$") and s:sub(2) or s
  end
  return out
end

local function log_label(v)
  local k = math.floor(math.log(v, 10) + 0.5)
  if math.abs(v - 10 ^ k) < 1e-9 * v and (k < -4 or k > 5) then return "1e" .. k end
  if v >= 1e-4 and v < 1e6 then
    local s = string.format("%.6f", v):gsub("0+$", ""):gsub("%.$", "")
    return s
  end
  return (string.format("%.2g", v):gsub("e([-+])0*(%d)", "e%1%2"):gsub("e%+", "e"))
end

-- Log-axis ticks over [lo, hi] (positive): decades, or 1-2-5 (or 1..9) within
-- each decade when too few decades fit; minor ticks where labels are sparse.
function M.log_ticks(lo, hi)
  local k0, k1 = math.floor(math.log(lo, 10)), math.ceil(math.log(hi, 10))
  local function within(mults)
    local t = {}
    for k = k0, k1 do
      for _, m in ipairs(mults) do
        local v = m * 10 ^ k
        if v >= lo * (1 - 1e-9) and v <= hi * (1 + 1e-9) then t[#t + 1] = v end
      end
    end
    return t
  end
  local major = within { 1 }
  if #major < 3 then major = within { 1, 2, 5 } end
  if #major < 3 then major = within { 1, 2, 3, 4, 5, 6, 7, 8, 9 } end
  local minor = {}
  if #major > 0 and #within { 1 } == #major then minor = within { 2, 3, 4, 5, 6, 7, 8, 9 } end
  if #major > 9 then -- many decades: label every other one
    local thin = {}
    for i = 1, #major, 2 do thin[#thin + 1] = major[i] end
    major = thin
  end
  local labels = {}
  for i, v in ipairs(major) do labels[i] = log_label(v) end
  return major, labels, minor
end

-- An axis: data limits [lo, hi] on pixels [p0, p1] (p1 < p0 for y), linear or log.
local function make_scale(lo, hi, p0, p1, log)
  if log then
    local a, b = math.log(lo, 10), math.log(hi, 10)
    return function(v)
      if not (v > 0) then return 0 / 0 end
      return p0 + (math.log(v, 10) - a) / (b - a) * (p1 - p0)
    end
  end
  return function(v) return p0 + (v - lo) / (hi - lo) * (p1 - p0) end
end

-- Limits with a 5% margin around the data (matplotlib's default), in log space for log axes.
local function padded(lo, hi, log, margin)
  margin = margin or 0.05
  if log then
    local a, b = math.log(lo, 10), math.log(hi, 10)
    if b - a < 1e-12 then a, b = a - 0.5, b + 0.5 end
    local m = (b - a) * margin
    return 10 ^ (a - m), 10 ^ (b + m)
  end
  if hi - lo <= math.abs(hi) * 1e-12 then
    local d = math.abs(lo) > 0 and math.abs(lo) * 0.1 or 1
    lo, hi = lo - d, hi + d
  end
  local m = (hi - lo) * margin
  return lo - m, hi + m
end

-- Ticks, labels and minor ticks for an axis over [lo, hi], at most one label
-- per `spacing` pixels; on a horizontal axis (wide = true) also as many as
-- fit side by side with a gap between labels.
local function axis_ticks(lo, hi, log, length, spacing, wide)
  if log then return M.log_ticks(lo, hi) end
  local ticks, labels
  for target = math.max(2, math.min(10, math.floor(length / spacing))), 2, -1 do
    local step
    ticks, step = M.nice_ticks(lo, hi, target)
    labels = M.format_ticks(ticks, step)
    local widest = 0
    for _, s in ipairs(labels) do widest = math.max(widest, text_w(s)) end
    if not wide or #ticks < 2 or widest + 3 * M.style.pad <= length * step / (hi - lo) then break end
  end
  return ticks, labels, {}
end

-- ==================== axes ====================

-- Pixel-aligned 1-pixel lines (crisp).
local function hline(c, x0, x1, y, color) c:rect(x0, math.floor(y), x1, math.floor(y) + 1, { fill = color }) end
local function vline(c, x, y0, y1, color) c:rect(math.floor(x), y0, math.floor(x) + 1, y1, { fill = color }) end

-- Lays out and draws a 2-D axes frame: title, labels, ticks, grid.
-- spec: width, height, xlim, ylim ({lo, hi}), logx, logy, title, xlabel,
-- ylabel, right (pixels kept free at the right, e.g. for a legend), grid,
-- xticks/xlabels (fixed category ticks). Returns the axes table: x0, y0,
-- x1, y1 (pixels), sx, sy (data -> pixel) and the canvas.
local function axes(spec)
  local S = M.style
  local c = C.Canvas(spec.width, spec.height, S.background)
  local f, fh = S.font, text_h()
  local top = S.pad * 2 + (spec.title and text_h(S.title_font) + S.pad * 2 or 0)
  local bottom = S.tick + S.pad + fh + S.pad + (spec.xlabel and fh + S.pad * 2 or 0) + (spec.bottom_extra or 0)
  local right = S.pad * 3 + (spec.right or 0)
  -- the y tick labels' width decides the left margin: lay out once with a guess
  local guess_h = spec.height - top - bottom
  local yt, ylab, yminor = axis_ticks(spec.ylim[1], spec.ylim[2], spec.logy, guess_h, 50)
  local yw = 0
  for _, s in ipairs(ylab) do yw = math.max(yw, text_w(s)) end
  local left = S.pad * 2 + (spec.ylabel and fh + S.pad * 2 or 0) + yw + S.pad + S.tick
  local A = { canvas = c, x0 = left, y0 = top, x1 = spec.width - right, y1 = spec.height - bottom }
  if A.x1 - A.x0 < 40 or A.y1 - A.y0 < 40 then
    fail(spec.fn, "the figure (%dx%d) is too small for its labels", spec.width, spec.height)
  end
  A.sx = make_scale(spec.xlim[1], spec.xlim[2], A.x0, A.x1, spec.logx)
  A.sy = make_scale(spec.ylim[1], spec.ylim[2], A.y1, A.y0, spec.logy)
  local xt, xlab, xminor
  if spec.xticks then xt, xlab, xminor = spec.xticks, spec.xlabels, {}
  else xt, xlab, xminor = axis_ticks(spec.xlim[1], spec.xlim[2], spec.logx, A.x1 - A.x0, 60, true) end
  A.xticks, A.yticks = xt, yt
  -- grid under everything
  if spec.grid ~= false then
    for _, v in ipairs(yt) do hline(c, A.x0, A.x1, A.sy(v), S.grid) end
    if spec.grid ~= "y" then for _, v in ipairs(xt) do vline(c, A.sx(v), A.y0, A.y1, S.grid) end end
  end
  -- ticks and their labels
  for i, v in ipairs(xt) do
    local x = A.sx(v)
    vline(c, x, A.y1, A.y1 + S.tick, S.axis)
    c:text(math.floor(x) + 0.5, A.y1 + S.tick + S.pad, xlab[i], { scale = f, color = S.text, align = "center" })
  end
  for _, v in ipairs(xminor) do vline(c, A.sx(v), A.y1, A.y1 + 3, S.axis) end
  for i, v in ipairs(yt) do
    local y = A.sy(v)
    hline(c, A.x0 - S.tick, A.x0, y, S.axis)
    c:text(A.x0 - S.tick - S.pad, math.floor(y) + 0.5, ylab[i],
      { scale = f, color = S.text, align = "right", valign = "middle" })
  end
  for _, v in ipairs(yminor) do hline(c, A.x0 - 3, A.x0, A.sy(v), S.axis) end
  -- axis labels and title
  if spec.xlabel then
    c:text((A.x0 + A.x1) / 2, spec.height - S.pad * 2 - fh, spec.xlabel, { scale = f, color = S.text, align = "center" })
  end
  if spec.ylabel then
    c:text(S.pad * 2, (A.y0 + A.y1) / 2, spec.ylabel,
      { scale = f, color = S.text, rotate = true, align = "center", valign = "top" })
  end
  if spec.title then
    bold_text(c, math.floor((A.x0 + A.x1) / 2), S.pad * 2, spec.title,
      { scale = S.title_font, color = S.text, align = "center" })
  end
  return A
end

-- The frame drawn last, over the data.
local function frame(A)
  A.canvas:rect(A.x0, A.y0, A.x1 + 1, A.y1 + 1, { stroke = M.style.axis, width = 1 })
  -- rect strokes are centred on the edges: redraw them on the pixel grid
  local c, col = A.canvas, M.style.axis
  hline(c, A.x0, A.x1 + 1, A.y0, col)
  hline(c, A.x0, A.x1 + 1, A.y1, col)
  vline(c, A.x0, A.y0, A.y1 + 1, col)
  vline(c, A.x1, A.y0, A.y1 + 1, col)
end

-- ==================== legend ====================

-- Legend entries: {label, color, kind = "line" | "marker" | "patch", dash}.
local function legend_size(entries)
  local S = M.style
  local w = 0
  for _, e in ipairs(entries) do w = math.max(w, text_w(e.label)) end
  local row = text_h() + S.pad + 2
  return S.pad * 2 + 28 + S.pad + w, S.pad * 2 + #entries * row - (S.pad + 2) + 4, row
end

local function draw_legend(c, entries, x, y)
  local S = M.style
  local w, h, row = legend_size(entries)
  c:rect(x, y, x + w, y + h, { fill = "#ffffff", alpha = 0.85 })
  c:rect(x + 0.5, y + 0.5, x + w - 0.5, y + h - 0.5, { stroke = S.legend_frame, width = 1 })
  for i, e in ipairs(entries) do
    local ty = y + S.pad + 2 + (i - 1) * row
    local cy = ty + text_h() / 2
    local sx = x + S.pad
    if e.kind == "marker" then
      c:circle(sx + 14, cy, 4, { color = e.color })
    elseif e.kind == "patch" then
      c:rect(sx + 4, cy - 6, sx + 24, cy + 6, { fill = e.color, alpha = e.alpha or 1 })
    else
      c:line(sx, cy, sx + 28, cy, { color = e.color, width = S.line_width, dash = e.dash })
      if e.marker then c:circle(sx + 14, cy, 3.5, { color = e.color }) end
    end
    c:text(sx + 28 + S.pad, ty, e.label, { scale = S.font, color = S.text })
  end
  return { x0 = x, y0 = y, x1 = x + w, y1 = y + h }
end

-- Where a legend of w x h goes inside the axes: the corner (or edge middle)
-- whose box covers the fewest data points (matplotlib's "best"), or a named place.
local PLACES = { "upper right", "upper left", "lower left", "lower right", "center right", "center left",
  "upper center", "lower center" }

local function legend_place(A, w, h, where, pts)
  local m = M.style.pad
  local function at(name)
    local x = name:find("left") and A.x0 + m or name:find("right") and A.x1 - m - w or (A.x0 + A.x1 - w) / 2
    local y = name:find("upper") and A.y0 + m or name:find("lower") and A.y1 - m - h or (A.y0 + A.y1 - h) / 2
    return math.floor(x), math.floor(y)
  end
  if where ~= "best" then return at(where) end
  local best, bx, by = math.huge, nil, nil
  for rank, name in ipairs(PLACES) do
    local x, y = at(name)
    local n = 0
    for i = 1, #pts, 2 do
      if pts[i] >= x - 2 and pts[i] <= x + w + 2 and pts[i + 1] >= y - 2 and pts[i + 1] <= y + h + 2 then n = n + 1 end
    end
    if n + rank * 1e-3 < best then best, bx, by = n + rank * 1e-3, x, y end
  end
  return bx, by
end

local LEGEND_PLACES = set { "best", "outside", "none", table.unpack(PLACES) }

local function check_legend(fn, where, default)
  where = where == nil and default or where
  if where == false then return "none" end
  if not LEGEND_PLACES[where] then
    fail(fn, "option 'legend' must be false or one of best, outside, none, %s; got %s", table.concat(PLACES, ", "),
      tostring(where))
  end
  return where
end

-- ==================== line plots ====================

local LINE_OPTS = set { "title", "xlabel", "ylabel", "logx", "logy", "width", "height", "legend", "xlim", "ylim",
  "grid", "errorbars" }
local SERIES_KEYS = set { "name", "x", "y", "err", "style", "color", "marker", "width" }
local DASHES = { solid = false, dashed = { 7, 4 }, dotted = { 2, 3 } }

-- Checks one series and returns its lists; err may be nil.
local function check_series(fn, i, s)
  if type(s) ~= "table" then fail(fn, "series %d must be a table {name = ..., y = {...}}, got %s", i, type(s)) end
  for k in pairs(s) do
    if not SERIES_KEYS[k] then fail(fn, "series %d has unknown field '%s'", i, tostring(k)) end
  end
  if s.y == nil then fail(fn, "series %d has no y values", i) end
  local y = numbers(fn, "series " .. i .. " y", s.y)
  if #y == 0 then fail(fn, "series %d ('%s') is empty", i, tostring(s.name or i)) end
  local x
  if s.x ~= nil then x = numbers(fn, "series " .. i .. " x", s.x)
  else
    x = {}
    for k = 1, #y do x[k] = k end
  end
  if #x ~= #y then fail(fn, "series %d ('%s') has %d x values and %d y values", i, tostring(s.name or i), #x, #y) end
  local err
  if s.err ~= nil then
    err = numbers(fn, "series " .. i .. " err", s.err)
    if #err ~= #y then fail(fn, "series %d has %d err values for %d points", i, #err, #y) end
  end
  if s.color ~= nil then check_color(fn, "series " .. i .. " color", s.color) end
  if s.width ~= nil and not (type(s.width) == "number" and s.width > 0 and s.width <= 100) then
    fail(fn, "series %d: width must be a number of pixels in (0, 100]", i)
  end
  if s.style ~= nil and DASHES[s.style] == nil then
    fail(fn, "series %d: style must be \"solid\", \"dashed\" or \"dotted\", got %s", i, tostring(s.style))
  end
  return x, y, err
end

-- A point that can be drawn: finite, and positive on a log axis.
local function drawable(x, y, logx, logy)
  return is_finite(x) and is_finite(y) and (not logx or x > 0) and (not logy or y > 0)
end

-- Data limits over all drawable points (finite; positive on log axes), error spans included.
local function series_limits(all, logx, logy)
  local xlo, xhi, ylo, yhi = math.huge, -math.huge, math.huge, -math.huge
  for _, s in ipairs(all) do
    for k = 1, #s.y do
      local x, y, e = s.x[k], s.y[k], s.err and math.abs(s.err[k]) or 0
      if not is_finite(e) then e = 0 end
      if drawable(x, y, logx, logy) then
        xlo, xhi = math.min(xlo, x), math.max(xhi, x)
        for _, v in ipairs { y - e, y + e, y } do
          if not logy or v > 0 then ylo, yhi = math.min(ylo, v), math.max(yhi, v) end
        end
      end
    end
  end
  return xlo, xhi, ylo, yhi
end

-- Pixel points of a series, NaN where a point cannot be drawn (a gap).
local function series_pixels(A, xs, ys, logx, logy)
  local pts = {}
  for k = 1, #ys do
    local x, y = xs[k], ys[k]
    local ok = drawable(x, y, logx, logy)
    pts[2 * k - 1] = ok and A.sx(x) or 0 / 0
    pts[2 * k] = ok and A.sy(y) or 0 / 0
  end
  return pts
end

local function check_lim(fn, name, lim, log)
  if lim == nil then return nil end
  if type(lim) ~= "table" or type(lim[1]) ~= "number" or type(lim[2]) ~= "number" or not (lim[2] > lim[1]) then
    fail(fn, "option '%s' must be {lo, hi} with lo < hi", name)
  end
  if log and lim[1] <= 0 then fail(fn, "option '%s' must be positive on a log axis", name) end
  return lim
end

-- The band y - err .. y + err as one polygon per finite run of points.
local function draw_band(A, s, color, logx, logy)
  local run = {}
  local function flush()
    if #run >= 2 then
      local poly = {}
      for _, p in ipairs(run) do poly[#poly + 1] = p[1]; poly[#poly + 1] = p[2] end
      for k = #run, 1, -1 do poly[#poly + 1] = run[k][1]; poly[#poly + 1] = run[k][3] end
      A.canvas:polygon(poly, { color = color, alpha = 0.2 })
    end
    run = {}
  end
  for k = 1, #s.y do
    local x, y, e = s.x[k], s.y[k], s.err[k]
    local hi, lo = y + math.abs(e), y - math.abs(e)
    if logy and lo <= 0 then lo = y / 1e3 end
    if drawable(x, y, logx, logy) and is_finite(e) then
      run[#run + 1] = { A.sx(x), A.sy(hi), A.sy(lo) }
    else flush() end
  end
  flush()
end

local function draw_errorbars(A, s, color, logy)
  local c = A.canvas
  for k = 1, #s.y do
    local x, y, e = s.x[k], s.y[k], s.err[k]
    if is_finite(x) and is_finite(y) and is_finite(e) then
      local lo = y - math.abs(e)
      if logy and lo <= 0 then lo = y / 1e3 end
      local px, ph, pl = A.sx(x), A.sy(y + math.abs(e)), A.sy(lo)
      if px == px and ph == ph and pl == pl then
        c:line(px, ph, px, pl, { color = color, width = 1.5 })
        c:line(px - 5, ph, px + 5, ph, { color = color, width = 1.5 })
        c:line(px - 5, pl, px + 5, pl, { color = color, width = 1.5 })
      end
    end
  end
end

-- Places the legend (inside by `where`, or right of the axes) and draws it.
local function place_legend(A, entries, where, pts)
  if where == "none" or #entries == 0 then return nil end
  local w, h = legend_size(entries)
  local x, y
  if where == "outside" then x, y = A.x1 + M.style.pad * 2, A.y0
  else x, y = legend_place(A, w, h, where, pts) end
  return draw_legend(A.canvas, entries, x, y)
end

local function line_entries(all, logx, logy)
  local entries = {}
  for i, s in ipairs(all) do
    local label = tostring(s.src.name or ("series " .. i))
    local any = false
    for k = 1, #s.y do any = any or drawable(s.x[k], s.y[k], logx, logy) end
    if not any then label = label .. " (nothing to draw)" end
    entries[i] = { label = label, color = s.color, dash = DASHES[s.src.style or "solid"] or nil, marker = s.src.marker }
  end
  return entries
end

-- Draws one series (line, markers, error bars) and returns its pixel points.
local function draw_series(A, s, opts)
  local c = A.canvas
  local pts = series_pixels(A, s.x, s.y, opts.logx, opts.logy)
  if s.err and opts.errorbars then draw_errorbars(A, s, s.color, opts.logy) end
  c:polyline(pts, { color = s.color, width = s.src.width or M.style.line_width, dash = DASHES[s.src.style or "solid"] or nil })
  if s.src.marker then
    for k = 1, #pts, 2 do if pts[k] == pts[k] then c:circle(pts[k], pts[k + 1], 3.5, { color = s.color }) end end
  end
  return pts
end

-- lines(path, series, opts): series = {{name, x, y, err, style, color, marker, width}, ...}
-- (x defaults to 1..n; tables or tensors; NaN, inf, and non-positive values on a
-- log axis leave gaps). err draws a band y +- err (error bars with opts.errorbars).
-- opts: title, xlabel, ylabel, logx, logy, xlim, ylim, width, height,
-- legend ("best", a place such as "upper right", "outside", false), grid.
function M.lines(path, series, opts)
  local fn = "lines"
  check_path(fn, path)
  opts = check_opts(fn, opts, LINE_OPTS)
  if type(series) ~= "table" or #series == 0 then fail(fn, "series must be a non-empty list of series") end
  local all = {}
  for i, s in ipairs(series) do
    local x, y, err = check_series(fn, i, s)
    all[i] = { x = x, y = y, err = err, src = s, color = s.color or M.palette[(i - 1) % #M.palette + 1] }
  end
  local xlo, xhi, ylo, yhi = series_limits(all, opts.logx, opts.logy)
  if xlo > xhi then
    fail(fn, "no series has a finite point to draw%s", (opts.logx or opts.logy) and " (a log axis needs values > 0)" or "")
  end
  local xlim = check_lim(fn, "xlim", opts.xlim, opts.logx) or { padded(xlo, xhi, opts.logx, 0.03) }
  local ylim = check_lim(fn, "ylim", opts.ylim, opts.logy) or { padded(ylo, yhi, opts.logy) }
  local where = check_legend(fn, opts.legend, #all > 1 and "best" or "none")
  local entries = line_entries(all, opts.logx, opts.logy)
  local right = where == "outside" and legend_size(entries) + M.style.pad or 0
  local W, H = check_size(fn, opts, 640 + right, 480)
  local A = axes { fn = fn, width = W, height = H, xlim = xlim, ylim = ylim, logx = opts.logx, logy = opts.logy,
    title = opts.title, xlabel = opts.xlabel, ylabel = opts.ylabel, grid = opts.grid, right = right }
  for _, s in ipairs(all) do -- bands first, under every line
    if s.err and not opts.errorbars then draw_band(A, s, s.color, opts.logx, opts.logy) end
  end
  local pixels, every = {}, {}
  for i, s in ipairs(all) do
    pixels[i] = draw_series(A, s, opts)
    table.move(pixels[i], 1, #pixels[i], #every + 1, every)
  end
  frame(A)
  local legend = place_legend(A, entries, where, every)
  save(fn, A.canvas, path)
  return { width = W, height = H, axes = { A.x0, A.y0, A.x1, A.y1 }, xlim = xlim, ylim = ylim, sx = A.sx, sy = A.sy,
    legend = legend, xticks = A.xticks, yticks = A.yticks, pixels = pixels }
end

-- ==================== bar charts ====================

local BAR_OPTS = set { "title", "xlabel", "ylabel", "width", "height", "color", "colors", "logy" }

-- bars(path, {labels = {...}, values = {...}, err = {...}}, opts): one bar per
-- label, with error bars when err is given. opts: title, xlabel, ylabel,
-- color (all bars) or colors (one each), width, height.
function M.bars(path, data, opts)
  local fn = "bars"
  check_path(fn, path)
  opts = check_opts(fn, opts, BAR_OPTS)
  if type(data) ~= "table" or data.values == nil then fail(fn, "data must be a table {labels = ..., values = ...}") end
  local values = numbers(fn, "values", data.values)
  local n = #values
  if n == 0 then fail(fn, "values is empty") end
  local labels = data.labels or {}
  if type(labels) ~= "table" then fail(fn, "labels must be a list of strings") end
  if data.labels and #labels ~= n then fail(fn, "%d labels for %d values", #labels, n) end
  local err = data.err and numbers(fn, "err", data.err)
  if err and #err ~= n then fail(fn, "%d err values for %d values", #err, n) end
  if opts.logy then fail(fn, "log scale is not supported for bars (bars start at zero)") end
  if opts.color ~= nil then check_color(fn, "option 'color'", opts.color) end
  if opts.colors ~= nil then
    if type(opts.colors) ~= "table" or #opts.colors ~= n then fail(fn, "option 'colors' must list %d colours", n) end
    for i, col in ipairs(opts.colors) do check_color(fn, "colors[" .. i .. "]", col) end
  end
  local lo, hi = 0, 0
  for i, v in ipairs(values) do
    local e = err and is_finite(err[i]) and math.abs(err[i]) or 0
    if is_finite(v) then lo, hi = math.min(lo, v - e), math.max(hi, v + e) end
  end
  if lo == hi then hi = 1 end
  local span = hi - lo
  local ylim = { lo < 0 and lo - 0.05 * span or 0, hi > 0 and hi + 0.05 * span or 0 }
  local W, H = check_size(fn, opts, 640, 480)
  local names, xt = {}, {}
  local widest = 0
  for i = 1, n do
    names[i] = tostring(labels[i] or i)
    xt[i] = i
    widest = math.max(widest, text_w(names[i]))
  end
  local A = axes { fn = fn, width = W, height = H, xlim = { 0.4, n + 0.6 }, ylim = ylim, title = opts.title,
    xlabel = opts.xlabel, ylabel = opts.ylabel, xticks = xt, xlabels = names, grid = "y" }
  local c = A.canvas
  local base = A.sy(0)
  for i, v in ipairs(values) do
    if is_finite(v) then
      local color = opts.colors and opts.colors[i] or opts.color or M.palette[1]
      local x0, x1 = A.sx(i - 0.4), A.sx(i + 0.4)
      local top = A.sy(v)
      c:rect(math.floor(x0 + 0.5), math.min(top, base), math.floor(x1 + 0.5), math.max(top, base), { fill = color })
    end
  end
  if err then draw_errorbars(A, { x = xt, y = values, err = err }, "#262626", false) end
  frame(A)
  save(fn, c, path)
  return { width = W, height = H, axes = { A.x0, A.y0, A.x1, A.y1 }, ylim = ylim, sx = A.sx, sy = A.sy,
    yticks = A.yticks }
end

-- ==================== scatter plots ====================

-- N x D points as a tensor (checked), and their labels as a list (or nil).
local function check_points(fn, points, labels, d)
  if not core.is_tensor(points) then fail(fn, "points must be an N x %d tensor, got %s", d, type(points)) end
  local shape = points.shape
  if #shape ~= 2 or shape[2] ~= d then
    fail(fn, "points must be an N x %d tensor, got %s", d, table.concat(shape, "x"))
  end
  local n = shape[1]
  if n == 0 then fail(fn, "points is empty") end
  local cls, k = nil, 1
  if labels ~= nil then
    cls = numbers(fn, "labels", labels)
    if #cls ~= n then fail(fn, "%d labels for %d points", #cls, n) end
    for i, v in ipairs(cls) do
      if v ~= math.floor(v) or v < 1 then fail(fn, "labels[%d] is %s; labels are classes 1, 2, ...", i, tostring(v)) end
      k = math.max(k, v)
    end
  end
  return points:detach(), cls, math.floor(k), n
end

-- Finite min and max of each column of an N x D tensor.
local function column_limits(fn, pts, d)
  local v = pts:contiguous():view(-1):totable()
  local lo, hi = {}, {}
  for j = 1, d do lo[j], hi[j] = math.huge, -math.huge end
  local any = false
  for i = 0, #v // d - 1 do
    local ok = true
    for j = 1, d do ok = ok and is_finite(v[i * d + j]) end
    if ok then
      any = true
      for j = 1, d do
        local x = v[i * d + j]
        if x < lo[j] then lo[j] = x end
        if x > hi[j] then hi[j] = x end
      end
    end
  end
  if not any then fail(fn, "no point has finite coordinates") end
  return lo, hi
end

local function class_entries(fn, k, classes, present)
  if classes ~= nil and type(classes) ~= "table" then fail(fn, "option 'classes' must be a list of names") end
  if classes and #classes < k then fail(fn, "labels go up to %d but only %d class names were given", k, #classes) end
  if k > #M.palette then fail(fn, "%d classes; the palette has %d colours", k, #M.palette) end
  local entries = {}
  for j = 1, k do
    if present[j] then
      entries[#entries + 1] = { label = tostring(classes and classes[j] or j), color = M.palette[j], kind = "marker" }
    end
  end
  return entries
end

local SCATTER_OPTS = set { "title", "xlabel", "ylabel", "width", "height", "classes", "legend", "radius", "alpha" }

-- scatter(path, points, labels, opts): points N x 2 (tensor), labels N classes
-- (1-based; a table or tensor; nil for one colour), small translucent markers
-- coloured by class, a legend of class names (opts.classes). Points with NaN
-- or inf are skipped. opts: title, xlabel, ylabel, classes, legend ("outside"
-- by default, or a place, or false), radius, alpha, width, height.
function M.scatter(path, points, labels, opts)
  local fn = "scatter"
  check_path(fn, path)
  opts = check_opts(fn, opts, SCATTER_OPTS)
  local pts, cls, k, n = check_points(fn, points, labels, 2)
  local present = {}
  for _, v in ipairs(cls or { 1 }) do present[v] = true end
  local entries = cls and class_entries(fn, k, opts.classes, present) or {}
  local where = check_legend(fn, opts.legend, cls and "outside" or "none")
  local lo, hi = column_limits(fn, pts, 2)
  local xlim, ylim = { padded(lo[1], hi[1], false) }, { padded(lo[2], hi[2], false) }
  local lw = #entries > 0 and legend_size(entries) or 0
  local W, H = check_size(fn, opts, where == "outside" and 640 + lw or 640, 480)
  local A = axes { fn = fn, width = W, height = H, xlim = xlim, ylim = ylim, title = opts.title, xlabel = opts.xlabel,
    ylabel = opts.ylabel, right = where == "outside" and lw + M.style.pad or 0 }
  -- data to pixels in one tensor expression: x' = x0 + (x - lo) * s
  local sx, sy = (A.x1 - A.x0) / (xlim[2] - xlim[1]), (A.y1 - A.y0) / (ylim[2] - ylim[1])
  local px = pts * core.tensor { { sx, -sy } } + core.tensor { { A.x0 - xlim[1] * sx, A.y1 + ylim[1] * sy } }
  local c = A.canvas
  c:points(px, { radius = opts.radius or M.style.marker, alpha = opts.alpha or M.style.scatter_alpha,
    palette = M.palette, classes = cls and core.tensor(cls) or nil })
  frame(A)
  local legend = place_legend(A, entries, where, where ~= "outside" and px:contiguous():view(-1):totable() or {})
  save(fn, c, path)
  return { width = W, height = H, axes = { A.x0, A.y0, A.x1, A.y1 }, xlim = xlim, ylim = ylim, sx = A.sx, sy = A.sy,
    legend = legend, n = n }
end

-- ==================== 3-D scatter plots ====================

local BOX = { 1, 1, 0.75 } -- half-extents of the drawn box (matplotlib's 4:4:3 aspect)

local function dot(u, v) return u[1] * v[1] + u[2] * v[2] + u[3] * v[3] end

-- A view of the data box for azimuth and elevation in degrees, as in
-- matplotlib's mplot3d: the eye looks from (cos el cos az, cos el sin az,
-- sin el) at the centre, `right` and `up` span the screen (orthographic).
-- lo, hi: the data limits mapped onto the box [-BOX, BOX].
local function make_view(az, el, lo, hi)
  local a, e = math.rad(az), math.rad(el)
  local V = { lo = lo, hi = hi, sc = 1, cx = 0, cy = 0,
    eye = { math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e) },
    right = { -math.sin(a), math.cos(a), 0 },
    up = { -math.sin(e) * math.cos(a), -math.sin(e) * math.sin(a), math.cos(e) } }
  -- for each axis the side of the box away from the eye (where its pane is) and the side near it
  V.far = { V.eye[1] > 0 and -1 or 1, V.eye[2] > 0 and -1 or 1, V.eye[3] > 0 and -1 or 1 }
  V.near = { -V.far[1], -V.far[2], -V.far[3] }
  V.ticks = {}
  for j = 1, 3 do
    local t, step = M.nice_ticks(lo[j], hi[j], 4)
    V.ticks[j] = { values = t, labels = M.format_ticks(t, step) }
  end
  function V.box(d, j) return ((d - lo[j]) / (hi[j] - lo[j]) * 2 - 1) * BOX[j] end
  function V.proj(b) return V.cx + V.sc * dot(b, V.right), V.cy - V.sc * dot(b, V.up) end
  return V
end

-- Scales and centres the view so the box's 8 corners fit the panel with room for labels.
local function fit_view(V, rect)
  local mx, my = 0, 0
  for _, sx in ipairs { -1, 1 } do for _, sy in ipairs { -1, 1 } do for _, sz in ipairs { -1, 1 } do
    local b = { sx * BOX[1], sy * BOX[2], sz * BOX[3] }
    mx, my = math.max(mx, math.abs(dot(b, V.right))), math.max(my, math.abs(dot(b, V.up)))
  end end end
  local margin = 2 * text_h() + text_w("-0.00")
  V.sc = math.min((rect.w - 2 * margin) / (2 * mx), (rect.h - 2 * margin + 40) / (2 * my))
  V.cx, V.cy = rect.x + rect.w / 2, rect.y + rect.h / 2
end

-- The three panes behind the data, with grid lines at the ticks.
local function draw_panes(c, V)
  local S = M.style
  for j = 1, 3 do
    local ju, jv = j % 3 + 1, (j + 1) % 3 + 1
    local function at(u, v)
      local b = { 0, 0, 0 }
      b[j], b[ju], b[jv] = V.far[j] * BOX[j], u, v
      return V.proj(b)
    end
    local poly = {}
    for _, uv in ipairs { { -1, -1 }, { 1, -1 }, { 1, 1 }, { -1, 1 } } do
      local x, y = at(uv[1] * BOX[ju], uv[2] * BOX[jv])
      poly[#poly + 1], poly[#poly + 2] = x, y
    end
    c:polygon(poly, { color = S.pane })
    for _, v in ipairs(V.ticks[ju].values) do
      local x1, y1 = at(V.box(v, ju), -BOX[jv])
      local x2, y2 = at(V.box(v, ju), BOX[jv])
      c:line(x1, y1, x2, y2, { color = "#d9d9d9", width = 1 })
    end
    for _, v in ipairs(V.ticks[jv].values) do
      local x1, y1 = at(-BOX[ju], V.box(v, jv))
      local x2, y2 = at(BOX[ju], V.box(v, jv))
      c:line(x1, y1, x2, y2, { color = "#d9d9d9", width = 1 })
    end
    poly[#poly + 1], poly[#poly + 2] = poly[1], poly[2]
    c:polyline(poly, { color = S.pane_edge, width = 1 })
  end
end

-- Draws a tick label unless it would overlap one already placed (the axes of
-- a 3-D box meet at its corners).
local function label_once(c, placed, x, y, s, align, valign)
  local w, h = C.text_size(s, M.style.font)
  local x0 = x - (align == "center" and w / 2 or align == "right" and w or 0)
  local y0 = y - (valign == "middle" and h / 2 or valign == "bottom" and h or 0)
  for _, b in ipairs(placed) do
    if x0 < b[3] + 3 and x0 + w + 3 > b[1] and y0 < b[4] + 3 and y0 + h + 3 > b[2] then return end
  end
  placed[#placed + 1] = { x0, y0, x0 + w, y0 + h }
  c:text(x, y, s, { scale = M.style.font, color = M.style.text, align = align, valign = valign })
end

-- The edge each axis is drawn on: x and y along the floor on the near side,
-- z on the vertical edge furthest to the left on screen.
local function axis_edges(V)
  local best
  for _, sx in ipairs { -1, 1 } do for _, sy in ipairs { -1, 1 } do
    local x = V.proj { sx * BOX[1], sy * BOX[2], 0 }
    if not best or x < best[1] then best = { x, sx, sy } end
  end end
  return { { 0, V.near[2] * BOX[2], V.far[3] * BOX[3] }, { V.near[1] * BOX[1], 0, V.far[3] * BOX[3] },
    { best[2] * BOX[1], best[3] * BOX[2], 0 } }
end

-- Axis j along the edge through `base`: the line, ticks, labels pushed
-- outwards from the box (on screen), and the axis name beyond them.
local function draw_axis3d(c, V, j, base, name, placed)
  local S = M.style
  local function along(v)
    local p = { base[1], base[2], base[3] }
    p[j] = v
    return V.proj(p)
  end
  local x1, y1 = along(-BOX[j])
  local x2, y2 = along(BOX[j])
  c:line(x1, y1, x2, y2, { color = S.axis, width = 1.2 })
  local bx, by = V.proj { 0, 0, 0 }
  local ox, oy = (x1 + x2) / 2 - bx, (y1 + y2) / 2 - by
  if j == 3 then ox, oy = -1, 0 end
  local len = math.sqrt(ox * ox + oy * oy)
  ox, oy = ox / len, oy / len
  local align = ox < -0.35 and "right" or ox > 0.35 and "left" or "center"
  local valign = oy < -0.35 and "bottom" or oy > 0.35 and "top" or "middle"
  local reach = 0 -- how far the tick labels stick out along (ox, oy)
  for i, v in ipairs(V.ticks[j].values) do
    local label = V.ticks[j].labels[i]
    local w, h = C.text_size(label, S.font)
    reach = math.max(reach, math.abs(ox) * w + math.abs(oy) * h)
    local tx, ty = along(V.box(v, j))
    c:line(tx, ty, tx + ox * 5, ty + oy * 5, { color = S.axis, width = 1 })
    label_once(c, placed, tx + ox * 10, ty + oy * 10, label, align, valign)
  end
  local lx, ly = (x1 + x2) / 2 + ox * (reach + 24), (y1 + y2) / 2 + oy * (reach + 24)
  local rotate = j == 3 and #name > 3 -- a rotated "z" would read as "N"
  c:text(lx, ly, name, { scale = S.font, color = S.text, rotate = rotate, align = "center",
    valign = rotate and "bottom" or "middle" })
end

-- The points: box coordinates by tensor ops, one matmul to screen x, y and
-- depth, then drawn far to near.
local function draw_points3d(c, V, pts, cls, opts)
  local lo, hi, sc, right, up, eye = V.lo, V.hi, V.sc, V.right, V.up, V.eye
  local scale = core.tensor { { 2 * BOX[1] / (hi[1] - lo[1]), 2 * BOX[2] / (hi[2] - lo[2]), 2 * BOX[3] / (hi[3] - lo[3]) } }
  local b = (pts - core.tensor { lo }) * scale - core.tensor { BOX }
  local R = core.tensor { { sc * right[1], -sc * up[1], eye[1] }, { sc * right[2], -sc * up[2], eye[2] },
    { sc * right[3], -sc * up[3], eye[3] } }
  local q = b:matmul(R)
  local xy = q:narrow(2, 1, 2) + core.tensor { { V.cx, V.cy } }
  c:points(xy, { radius = opts.radius or M.style.marker, alpha = opts.alpha or M.style.scatter_alpha,
    palette = M.palette, classes = cls and core.tensor(cls) or nil, depth = q:select(2, 3) })
end

-- One panel: panes, axes, the points, and a subtitle.
local function panel3d(c, view, rect, pts, cls, lo, hi, opts)
  local V = make_view(view[1], view[2], lo, hi)
  fit_view(V, rect)
  draw_panes(c, V)
  local names, placed = { opts.xlabel or "x", opts.ylabel or "y", opts.zlabel or "z" }, {}
  for j, base in ipairs(axis_edges(V)) do draw_axis3d(c, V, j, base, names[j], placed) end
  draw_points3d(c, V, pts, cls, opts)
  if opts.subtitle then
    c:text(rect.x + rect.w / 2, rect.y + M.style.pad, opts.subtitle,
      { scale = M.style.font, color = M.style.text, align = "center" })
  end
end

local SCATTER3D_OPTS = set { "title", "xlabel", "ylabel", "zlabel", "width", "height", "classes", "legend",
  "radius", "alpha", "azimuth", "elevation", "views" }

-- scatter3d(path, points, labels, opts): points N x 3, drawn from azimuth and
-- elevation in degrees (default -60 and 30, as matplotlib), or several views
-- side by side (opts.views = {{az, el}, ...}); points far from the eye are
-- drawn first. opts: title, xlabel, ylabel, zlabel, classes, legend
-- ("outside" or false), radius, alpha, width, height.
function M.scatter3d(path, points, labels, opts)
  local fn = "scatter3d"
  check_path(fn, path)
  opts = check_opts(fn, opts, SCATTER3D_OPTS)
  local pts, cls, k = check_points(fn, points, labels, 3)
  local views = opts.views or { { opts.azimuth or -60, opts.elevation or 30 } }
  if type(views) ~= "table" or #views == 0 then fail(fn, "option 'views' must be a list of {azimuth, elevation}") end
  for i, v in ipairs(views) do
    if type(v) ~= "table" or not is_finite(tonumber(v[1]) or 0 / 0) or not is_finite(tonumber(v[2]) or 0 / 0) then
      fail(fn, "views[%d] must be {azimuth, elevation} in degrees", i)
    end
  end
  local present = {}
  for _, v in ipairs(cls or {}) do present[v] = true end
  local entries = cls and class_entries(fn, k, opts.classes, present) or {}
  local where = check_legend(fn, opts.legend, cls and "outside" or "none")
  if where ~= "outside" and where ~= "none" then fail(fn, "option 'legend' must be \"outside\" or false here") end
  local lw = (where == "outside" and #entries > 0) and legend_size(entries) + 3 * M.style.pad or 0
  local panel = 520
  local W, H = check_size(fn, opts, panel * #views + lw, panel + (opts.title and 40 or 0))
  local lo, hi = column_limits(fn, pts, 3)
  for j = 1, 3 do if hi[j] - lo[j] <= 0 then lo[j], hi[j] = lo[j] - 1, hi[j] + 1 end end
  local S = M.style
  local c = C.Canvas(W, H, S.background)
  local top = opts.title and text_h(S.title_font) + 4 * S.pad or 0
  if opts.title then
    bold_text(c, math.floor((W - lw) / 2), 2 * S.pad, opts.title, { scale = S.title_font, color = S.text, align = "center" })
  end
  local pw = (W - lw) / #views
  for i, v in ipairs(views) do
    local sub = #views > 1 and string.format("azimuth %g, elevation %g", v[1], v[2]) or nil
    panel3d(c, { tonumber(v[1]), tonumber(v[2]) }, { x = (i - 1) * pw, y = top, w = pw, h = H - top }, pts, cls,
      lo, hi, { xlabel = opts.xlabel, ylabel = opts.ylabel, zlabel = opts.zlabel, radius = opts.radius,
        alpha = opts.alpha, subtitle = sub })
  end
  local legend
  if where == "outside" and #entries > 0 then
    local _, h = legend_size(entries)
    legend = draw_legend(c, entries, W - lw + S.pad, math.floor((H + top - h) / 2))
  end
  save(fn, c, path)
  return { width = W, height = H, panels = #views, legend = legend }
end

-- ==================== confusion matrices ====================

local CONFUSION_OPTS = set { "title", "classes", "normalize", "cell", "xlabel", "ylabel", "colorbar" }

-- The matrix (a K x K tensor or table of rows) as checked rows of numbers,
-- each row scaled to sum to 1 when normalize is set.
local function confusion_values(fn, cm, normalize)
  local rows
  if core.is_tensor(cm) then
    if #cm.shape ~= 2 or cm.shape[1] ~= cm.shape[2] or cm.shape[1] == 0 then
      fail(fn, "the matrix must be K x K, got %s", table.concat(cm.shape, "x"))
    end
    rows = cm:detach():contiguous():totable()
  elseif type(cm) == "table" then rows = cm
  else fail(fn, "the matrix must be a K x K tensor or table of rows, got %s", type(cm)) end
  local K = #rows
  if K == 0 then fail(fn, "the matrix is empty") end
  local vals = {}
  for i = 1, K do
    if type(rows[i]) ~= "table" or #rows[i] ~= K then fail(fn, "row %d must have %d values", i, K) end
    vals[i] = {}
    local sum = 0
    for j = 1, K do
      local v = rows[i][j]
      if type(v) ~= "number" or not is_finite(v) or v < 0 then
        fail(fn, "cell (%d, %d) is %s; counts must be finite and >= 0", i, j, tostring(v))
      end
      vals[i][j], sum = v, sum + v
    end
    if normalize then for j = 1, K do vals[i][j] = sum > 0 and vals[i][j] / sum or 0 end end
  end
  return vals, K
end

-- The K x K cells from (x0, y0): heat colour and the value written over it.
local function draw_cells(c, vals, K, x0, y0, cell, vmax, text_of)
  local cells = {}
  for i = 1, K do
    cells[i] = {}
    for j = 1, K do
      local rgb = M.colormap(vals[i][j] / vmax)
      local cx, cy = x0 + (j - 1) * cell, y0 + (i - 1) * cell
      c:rect(cx, cy, cx + cell, cy + cell, { fill = rgb })
      c:text(cx + cell / 2, cy + cell / 2, text_of(vals[i][j]),
        { scale = M.style.font, color = contrast(rgb), align = "center", valign = "middle" })
      cells[i][j] = { x0 = cx, y0 = cy, x1 = cx + cell, y1 = cy + cell, color = rgb }
    end
  end
  local S, side = M.style, K * cell
  hline(c, x0, x0 + side + 1, y0, S.axis)
  hline(c, x0, x0 + side + 1, y0 + side, S.axis)
  vline(c, x0, y0, y0 + side + 1, S.axis)
  vline(c, x0 + side, y0, y0 + side + 1, S.axis)
  return cells
end

-- Class names as ticks: left of the rows, under the columns (upwards when too wide).
local function draw_class_ticks(c, names, K, x0, y0, cell, rotate)
  local S = M.style
  local bottom = y0 + K * cell
  for i = 1, K do
    local mid = math.floor(y0 + (i - 0.5) * cell)
    hline(c, x0 - S.tick, x0, mid, S.axis)
    c:text(x0 - S.tick - S.pad, mid + 0.5, names[i], { scale = S.font, color = S.text, align = "right", valign = "middle" })
    local mx = math.floor(x0 + (i - 0.5) * cell)
    vline(c, mx, bottom, bottom + S.tick, S.axis)
    c:text(mx + 0.5, bottom + S.tick + S.pad, names[i], { scale = S.font, color = S.text, rotate = rotate,
      align = rotate and "right" or "center", valign = rotate and "middle" or "top" })
  end
end

-- A vertical colour bar over [y0, y1] at x with ticks from 0 to vmax.
local function draw_colorbar(c, x, y0, y1, vmax)
  local S = M.style
  for y = y0, y1 - 1 do c:rect(x, y, x + 18, y + 1, { fill = M.colormap(1 - (y - y0 + 0.5) / (y1 - y0)) }) end
  c:rect(x + 0.5, y0 + 0.5, x + 17.5, y1 - 0.5, { stroke = S.axis })
  local t, step = M.nice_ticks(0, vmax, 5)
  local labels = M.format_ticks(t, step)
  for i, v in ipairs(t) do
    local y = math.min(y1 - 1, math.floor(y1 - v / vmax * (y1 - y0)))
    hline(c, x + 18, x + 18 + S.tick, y, S.axis)
    c:text(x + 18 + S.tick + S.pad / 2, y + 0.5, labels[i], { scale = S.font, color = S.text, valign = "middle" })
  end
  return { x0 = x, y0 = y0, x1 = x + 18, y1 = y1 }
end

-- confusion(path, cm, opts): a K x K matrix of counts (rows: true class,
-- columns: predicted), a heat map with the count in each cell, written in
-- black or white to contrast with it. opts: title, classes (names), cell
-- (pixels per cell), normalize (colour and write each row's fractions),
-- xlabel/ylabel ("predicted"/"true"), colorbar (default true).
function M.confusion(path, cm, opts)
  local fn = "confusion"
  check_path(fn, path)
  opts = check_opts(fn, opts, CONFUSION_OPTS)
  local vals, K = confusion_values(fn, cm, opts.normalize)
  if opts.classes ~= nil and (type(opts.classes) ~= "table" or #opts.classes ~= K) then
    fail(fn, "%s class names for a %dx%d matrix", type(opts.classes) == "table" and #opts.classes or "no", K, K)
  end
  local function text_of(v)
    if opts.normalize then return string.format("%.2f", v) end
    return v == math.floor(v) and string.format("%d", v) or string.format("%.3g", v)
  end
  local S = M.style
  local names, widest, widest_value, vmax = {}, 0, 0, 0
  for i = 1, K do
    names[i] = tostring(opts.classes and opts.classes[i] or i)
    widest = math.max(widest, text_w(names[i]))
    for j = 1, K do
      widest_value = math.max(widest_value, text_w(text_of(vals[i][j])))
      vmax = math.max(vmax, vals[i][j])
    end
  end
  if vmax == 0 then vmax = 1 end
  -- layout: square cells; names left and below; axis labels outside them; the colour bar at the right
  local cell = opts.cell or math.max(widest_value + 8, math.min(64, math.floor(560 / K)))
  local fh, rotate = text_h(), widest > cell - 4
  local x0 = 2 * S.pad + fh + 2 * S.pad + widest + S.pad + S.tick
  local y0 = 2 * S.pad + (opts.title and text_h(S.title_font) + 2 * S.pad or 0)
  local below = S.tick + S.pad + (rotate and widest or fh) + 2 * S.pad + fh + 2 * S.pad
  local bar = opts.colorbar ~= false and 3 * S.pad + 18 + S.pad + S.tick + text_w(text_of(vmax) .. "0") or 0
  local W, H = x0 + K * cell + bar + 3 * S.pad, y0 + K * cell + below
  local c = C.Canvas(W, H, S.background)
  local cells = draw_cells(c, vals, K, x0, y0, cell, vmax, text_of)
  draw_class_ticks(c, names, K, x0, y0, cell, rotate)
  c:text(x0 + K * cell / 2, H - 2 * S.pad - fh, opts.xlabel or "predicted", { scale = S.font, color = S.text, align = "center" })
  c:text(2 * S.pad, y0 + K * cell / 2, opts.ylabel or "true",
    { scale = S.font, color = S.text, rotate = true, align = "center", valign = "top" })
  if opts.title then
    bold_text(c, math.floor(x0 + K * cell / 2), 2 * S.pad, opts.title, { scale = S.title_font, color = S.text, align = "center" })
  end
  local colorbar = opts.colorbar ~= false and draw_colorbar(c, x0 + K * cell + 3 * S.pad, y0, y0 + K * cell, vmax) or nil
  save(fn, c, path)
  return { width = W, height = H, cells = cells, vmax = vmax, colorbar = colorbar,
    grid = { x0 = x0, y0 = y0, x1 = x0 + K * cell, y1 = y0 + K * cell } }
end

-- ==================== image grids ====================

local GRID_OPTS = set { "title", "labels", "zoom", "gap", "max_columns", "min", "max" }

-- The images of one row: a B x 1 x H x W or B x H x W tensor (or one H x W image).
local function row_images(fn, i, t)
  if not core.is_tensor(t) then fail(fn, "rows[%d] must be a tensor of images, got %s", i, type(t)) end
  local s = t.shape
  if #s == 2 then return t:unsqueeze(1), 1, s[1], s[2] end
  if #s == 3 then return t, s[1], s[2], s[3] end
  if #s == 4 and s[2] == 1 then return t:select(2, 1), s[1], s[3], s[4] end
  fail(fn, "rows[%d] must be B x 1 x H x W, B x H x W or H x W, got %s", i, table.concat(s, "x"))
end

-- image_grid(path, rows, opts): rows = {originals, corrupted, restored, ...},
-- each a batch of grey images in [0, 1], drawn as one row of the grid.
-- opts: labels (one per row, drawn at the left), title, zoom (integer pixels
-- per image pixel, default 2), gap (pixels between images, default 2),
-- max_columns (images per row shown), min/max (the grey range, default 0..1).
function M.image_grid(path, rows, opts)
  local fn = "image_grid"
  check_path(fn, path)
  opts = check_opts(fn, opts, GRID_OPTS)
  if type(rows) ~= "table" or #rows == 0 then fail(fn, "rows must be a non-empty list of image tensors") end
  local zoom, gap = opts.zoom or 2, opts.gap or 2
  if math.type(zoom) ~= "integer" and not (type(zoom) == "number" and zoom == math.floor(zoom)) or zoom < 1 or zoom > 64 then
    fail(fn, "option 'zoom' must be an integer in [1, 64], got %s", tostring(zoom))
  end
  if type(gap) ~= "number" or gap < 0 or gap > 100 then fail(fn, "option 'gap' must be a number in [0, 100]") end
  local labels = opts.labels or {}
  if opts.labels and #labels ~= #rows then fail(fn, "%d labels for %d rows", #labels, #rows) end
  local imgs, cols, ih, iw = {}, 0, nil, nil
  for i, t in ipairs(rows) do
    local b, n, h, w = row_images(fn, i, t)
    if ih and (h ~= ih or w ~= iw) then fail(fn, "rows[%d] has %dx%d images, rows[1] has %dx%d", i, h, w, ih, iw) end
    if n == 0 then fail(fn, "rows[%d] has no images", i) end
    ih, iw = h, w
    imgs[i] = { t = b:detach(), n = math.min(n, opts.max_columns or n) }
    cols = math.max(cols, imgs[i].n)
  end
  local S = M.style
  local label_w = 0
  for _, l in ipairs(labels) do label_w = math.max(label_w, text_w(tostring(l))) end
  local left = S.pad * 2 + (label_w > 0 and label_w + S.pad * 2 or 0)
  local top = S.pad * 2 + (opts.title and text_h(S.title_font) + S.pad * 3 or 0)
  local cw, ch = iw * zoom, ih * zoom
  local W = math.floor(left + cols * cw + (cols - 1) * gap + S.pad * 2)
  local H = math.floor(top + #rows * ch + (#rows - 1) * gap + S.pad * 2)
  if W > 8192 or H > 8192 then fail(fn, "the grid would be %dx%d pixels; lower zoom or max_columns", W, H) end
  local c = C.Canvas(W, H, S.background)
  local mid = math.floor(left + (cols * cw + (cols - 1) * gap) / 2)
  if opts.title then bold_text(c, mid, S.pad * 2, opts.title, { scale = S.title_font, color = S.text, align = "center" }) end
  local cells = {}
  for i, r in ipairs(imgs) do
    local y = math.floor(top + (i - 1) * (ch + gap))
    if labels[i] then
      c:text(left - S.pad * 2, y + ch / 2, tostring(labels[i]), { scale = S.font, color = S.text, align = "right", valign = "middle" })
    end
    cells[i] = {}
    for j = 1, r.n do
      local x = math.floor(left + (j - 1) * (cw + gap))
      c:image(r.t:select(1, j), x, y, { zoom = zoom, min = opts.min or 0, max = opts.max or 1 })
      cells[i][j] = { x0 = x, y0 = y, x1 = x + cw, y1 = y + ch }
    end
  end
  save(fn, c, path)
  return { width = W, height = H, cells = cells }
end

return M
