-- Figures: the canvas binding, and each chart of latent.plot written to a PNG
-- and decoded back: the requested size, pixels where they must be (a line at
-- its row, each class's colour, a confusion cell's heat colour, title text),
-- NaN handling, argument errors, and atomic writes.
local H = require "harness"
local lt = require "latent"
local plot = lt.plot

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local function tmp(name) return dir .. "/" .. name end

local function temp_files()
  local out = {}
  local p = io.popen("ls -a '" .. dir .. "'")
  for name in p:lines() do if name:find("%.tmp%-") then out[#out + 1] = name end end
  p:close()
  return out
end

-- A decoded PNG (an H x W x C tensor) with 1-based pixel access.
local function load(path)
  local t = plot.read_png(path)
  local img = { t = t, h = t.shape[1], w = t.shape[2], c = t.shape[3] }
  function img.at(x, y) return t:get(y, x, 1), t:get(y, x, 2), t:get(y, x, 3) end
  return img
end

local function hex(h) return tonumber(h:sub(2, 3), 16), tonumber(h:sub(4, 5), 16), tonumber(h:sub(6, 7), 16) end

-- The pixels of a region (1-based, inclusive; default: all) as an h x w x 3 tensor.
local function region(img, x0, y0, x1, y1)
  x0, y0 = math.max(1, math.floor(x0 or 1)), math.max(1, math.floor(y0 or 1))
  x1, y1 = math.min(img.w, math.floor(x1 or img.w)), math.min(img.h, math.floor(y1 or img.h))
  return img.t:narrow(1, y0, y1 - y0 + 1):narrow(2, x0, x1 - x0 + 1)
end

-- Number of pixels within tol of the colour in every channel.
local function count_color(img, r, g, b, tol, x0, y0, x1, y1)
  local d = (region(img, x0, y0, x1, y1) - lt.tensor { r, g, b }):abs():max(3)
  return math.floor(d:le(tol):sum():item())
end

local function dark_pixels(img, x0, y0, x1, y1)
  return math.floor(region(img, x0, y0, x1, y1):select(3, 1):lt(100):sum():item())
end

-- ==================== the canvas ====================

H.test("canvas: drawing calls put pixels where they belong", function()
  local c = plot.Canvas(50, 30)
  H.eq({ c:size() }, { 50, 30 })
  H.eq({ c:pixel(1, 1) }, { 255, 255, 255 })
  c:line(0, 10.5, 50, 10.5, { color = "#ff0000" })     -- pixel row 10 (0-based) is row 11 (1-based)
  H.eq({ c:pixel(25, 11) }, { 255, 0, 0 })
  H.eq({ c:pixel(25, 10) }, { 255, 255, 255 })
  c:rect(2, 20, 6, 24, { fill = { 0, 128, 0 } })
  H.eq({ c:pixel(3, 21) }, { 0, 128, 0 })
  c:circle(40, 25, 3, { color = "#0000ff", alpha = 0.5 })
  H.eq({ c:pixel(40, 25) }, { 128, 128, 255 })
  c:text(20, 15, "Hi", { color = "#000000" })
  local dark = 0
  for x = 20, 40 do for y = 15, 30 do if c:pixel(x, y) == 0 then dark = dark + 1 end end end
  H.ok(dark > 10, "text drew " .. dark .. " dark pixels")
  local w, h = plot.text_size("Hi")
  H.ok(w > 5 and h == 14)
  c:clear("#202020")
  H.eq({ c:pixel(50, 30) }, { 32, 32, 32 })
end)

H.test("canvas: points from a tensor, by class, in depth order", function()
  local c = plot.Canvas(40, 20)
  local xy = lt.tensor { { 10, 10 }, { 10, 10 }, { 30, 10 } }
  c:points(xy, { radius = 3, palette = { "#ff0000", "#0000ff" }, classes = lt.tensor { 1, 2, 1 } })
  H.eq({ c:pixel(11, 11) }, { 0, 0, 255 })          -- drawn last, on top
  H.eq({ c:pixel(31, 11) }, { 255, 0, 0 })
  c:points(xy, { radius = 3, palette = { "#ff0000", "#0000ff" }, classes = { 1, 2, 1 }, depth = lt.tensor { 1, 0, 0 } })
  H.eq({ c:pixel(11, 11) }, { 255, 0, 0 })          -- nearer, drawn last
end)

H.test("canvas: argument errors", function()
  H.raises("Canvas: size 0x10 out of range", plot.Canvas, 0, 10)
  H.raises("number has no integer representation", plot.Canvas, 10.5, 10)
  local c = plot.Canvas(20, 20)
  H.raises("line: option 'color' must be a colour like", c.line, c, 0, 0, 1, 1, { color = "red" })
  H.raises("line: option 'alpha' must be in %[0, 1%]", c.line, c, 0, 0, 1, 1, { alpha = 2 })
  H.raises("line: option 'dash' must be {on, off}", c.line, c, 0, 0, 1, 1, { dash = { 1 } })
  H.raises("polyline: points must be an N x 2 tensor, got 3x3", c.polyline, c, lt.zeros(3, 3))
  H.raises("polyline: points table has 3 numbers", c.polyline, c, { 1, 2, 3 })
  H.raises("polygon: points%[2%] must be a number, got string", c.polygon, c, { 1, "a", 3, 4 })
  H.raises("points: classes%[2%] is 3; classes must be integers in %[1, 2%]", c.points, c,
    lt.zeros(2, 2), { palette = { "#000000", "#ffffff" }, classes = lt.tensor { 1, 3 } })
  H.raises("points: option 'depth' has shape 3; it needs one value per point %(2%)", c.points, c,
    lt.zeros(2, 2), { depth = lt.zeros(3) })
  H.raises("text: option 'align' must be", c.text, c, 1, 1, "a", { align = "middle" })
  H.raises("image: the image must be H x W or 1 x H x W, got 2x3x3", c.image, c, lt.zeros(2, 3, 3), 0, 0)
  H.raises("image: option 'zoom' must be in %[1, 256%]", c.image, c, lt.zeros(3, 3), 0, 0, { zoom = 0 })
  H.raises("pixel: %(21, 1%) outside the 20x20 canvas", c.pixel, c, 21, 1)
  local kept
  do
    local closed <close> = plot.Canvas(5, 5)
    kept = closed
  end
  H.raises("canvas was closed", kept.size, kept)
end)

H.test("read_png: clear errors naming the file", function()
  H.raises("read_png: .*nothing%.png: cannot open", plot.read_png, tmp("nothing.png"))
  local f = assert(io.open(tmp("fake.png"), "wb"))
  f:write("GIF89a not a png")
  f:close()
  H.raises("read_png: .*fake%.png: not a PNG file", plot.read_png, tmp("fake.png"))
end)

-- ==================== line plots ====================

H.test("lines: a constant series is a line at its row, in its colour", function()
  local info = plot.lines(tmp("flat.png"), {
    { name = "flat", x = { 1, 2, 3, 4 }, y = { 2, 2, 2, 2 } },
    { name = "rising", y = lt.tensor { 1, 2, 3, 4 }, style = "dashed" },
  }, { title = "Title here", xlabel = "epoch", ylabel = "loss", width = 500, height = 400 })
  local img = load(tmp("flat.png"))
  H.eq({ img.w, img.h, img.c }, { 500, 400, 3 })
  H.eq({ info.width, info.height }, { 500, 400 })
  local row = math.floor(info.sy(2)) + 1
  local r, g, b = hex(plot.palette[1])
  local x0 = math.floor(info.sx(1.2)) + 1
  H.ok(count_color(img, r, g, b, 40, x0, row, x0 + 20, row) >= 20, "the flat line is on row " .. row)
  H.ok(count_color(img, r, g, b, 40, x0, row - 6, x0 + 20, row - 4) == 0, "and only there")
  -- the title's text is in the band above the axes
  H.ok(dark_pixels(img, 1, 1, img.w, info.axes[2] - 2) > 40, "title pixels above the axes")
  -- the axes frame sits on its pixel row
  H.ok(dark_pixels(img, info.axes[1] + 10, info.axes[4] + 1, info.axes[3] - 10, info.axes[4] + 1) > 100)
  H.eq(#temp_files(), 0)
end)

H.test("lines: NaN and non-positive values on a log axis leave gaps", function()
  local y = { 1, 1, 0 / 0, 1, 1, -1, 1, 1 }
  local info = plot.lines(tmp("gaps.png"), { { name = "a", y = y } }, { logy = true })
  local img = load(tmp("gaps.png"))
  local row = math.floor(info.sy(1)) + 1
  local r, g, b = hex(plot.palette[1])
  local function colored(x) return count_color(img, r, g, b, 60, math.floor(x) + 1, row, math.floor(x) + 1, row) end
  H.eq(colored(info.sx(1.5)), 1)
  H.eq(colored(info.sx(3)), 0)       -- the NaN gap
  H.eq(colored(info.sx(4.5)), 1)
  H.eq(colored(info.sx(6)), 0)       -- -1 on a log axis
  H.eq(colored(info.sx(7.5)), 1)
  H.ok(info.pixels[1][5] ~= info.pixels[1][5], "the NaN point has no pixel")
end)

H.test("lines: log ticks, bands, error bars and legends", function()
  local ticks, labels, minor = plot.log_ticks(0.011, 0.9)
  H.eq(labels, { "0.02", "0.05", "0.1", "0.2", "0.5" })
  ticks, labels = plot.log_ticks(1e-3, 20)
  H.eq(labels, { "0.001", "0.01", "0.1", "1", "10" })
  local t, step = plot.nice_ticks(0, 1, 5)
  H.eq(t, { 0, 0.2, 0.4, 0.6, 0.8, 1.0 })
  H.eq(plot.format_ticks(t, step), { "0.0", "0.2", "0.4", "0.6", "0.8", "1.0" })
  H.eq(plot.format_ticks({ -0.0, 2.5, 5 }, 2.5), { "0.0", "2.5", "5.0" })
  local s = { { name = "mean", x = { 2, 4, 8, 16 }, y = { 4, 3, 2, 1.5 }, err = { 0.5, 0.4, 0.3, 0.2 }, marker = true } }
  local info = plot.lines(tmp("band.png"), s, { logx = true, legend = "upper right" })
  local img = load(tmp("band.png"))
  -- the band is the series colour at alpha 0.2 over white, just above the line
  local r, g, b = hex(plot.palette[1])
  local x = math.floor(info.sx(5.5)) + 1
  local y = math.floor((info.sy(2.6) + info.sy(2.6 + 0.3)) / 2) + 1
  local pr, pg, pb = img.at(x, y)
  H.close({ pr, pg, pb }, { 255 + 0.2 * (r - 255), 255 + 0.2 * (g - 255), 255 + 0.2 * (b - 255) }, 3)
  H.ok(info.legend and info.legend.x1 <= info.axes[3] and info.legend.y0 >= info.axes[2], "legend inside the axes")
  plot.lines(tmp("bars.png"), s, { errorbars = true, legend = false })
  plot.lines(tmp("outside.png"), { s[1], { name = "other", y = { 1, 2 } } }, { legend = "outside" })
end)

H.test("lines: argument errors", function()
  local ok = { { name = "a", y = { 1, 2 } } }
  H.raises("lines: series must be a non%-empty list", plot.lines, tmp("e.png"), {})
  H.raises("lines: series 1 %('a'%) is empty", plot.lines, tmp("e.png"), { { name = "a", y = {} } })
  H.raises("lines: series 1 has no y values", plot.lines, tmp("e.png"), { { name = "a" } })
  H.raises("lines: series 1 %('a'%) has 3 x values and 2 y values", plot.lines, tmp("e.png"),
    { { name = "a", x = { 1, 2, 3 }, y = { 1, 2 } } })
  H.raises("lines: series 1 y%[2%] must be a number, got string", plot.lines, tmp("e.png"), { { y = { 1, "x" } } })
  H.raises("lines: series 1 has unknown field 'colour'", plot.lines, tmp("e.png"), { { y = { 1 }, colour = "#000000" } })
  H.raises("lines: series 1: style must be", plot.lines, tmp("e.png"), { { y = { 1 }, style = "wavy" } })
  H.raises("lines: series 1 color must be a colour like", plot.lines, tmp("e.png"), { { y = { 1 }, color = "blue" } })
  H.raises("lines: unknown option 'ylog'", plot.lines, tmp("e.png"), ok, { ylog = true })
  H.raises("lines: no series has a finite point", plot.lines, tmp("e.png"), { { y = { 0 / 0, 1 / 0 } } })
  H.raises("lines: no series has a finite point to draw %(a log axis", plot.lines, tmp("e.png"),
    { { y = { 0, -1 } } }, { logy = true })
  H.raises("lines: width and height must be in %[64, 8192%]", plot.lines, tmp("e.png"), ok, { width = 10 })
  H.raises("lines: option 'legend' must be", plot.lines, tmp("e.png"), ok, { legend = "top" })
  H.raises("lines: option 'ylim' must be {lo, hi}", plot.lines, tmp("e.png"), ok, { ylim = { 2, 1 } })
  H.raises("lines: path must be a file name", plot.lines, nil, ok)
  H.raises("lines: .*no/such/dir/x%.png", plot.lines, tmp("no/such/dir/x.png"), ok)
  H.eq(#temp_files(), 0)
end)

-- ==================== bars ====================

H.test("bars: bar heights and error bars", function()
  local info = plot.bars(tmp("bars2.png"), { labels = { "a", "b", "c" }, values = { 1, 2, 0.5 }, err = { 0.1, 0.2, 0.1 } },
    { title = "Bars", ylabel = "value" })
  local img = load(tmp("bars2.png"))
  local r, g, b = hex(plot.palette[1])
  local x = math.floor(info.sx(2)) + 6
  -- bar 2 is filled from the baseline up to 2, and not above
  H.eq({ img.at(x, math.floor(info.sy(1.9)) + 1) }, { r, g, b })
  H.eq({ img.at(x, math.floor(info.sy(0.1)) + 1) }, { r, g, b })
  H.ok(count_color(img, r, g, b, 10, x, math.floor(info.sy(2.15)), x, math.floor(info.sy(2.15))) == 0)
  H.eq(info.ylim[1], 0)
  H.raises("bars: 2 labels for 3 values", plot.bars, tmp("e.png"), { labels = { "a", "b" }, values = { 1, 2, 3 } })
  H.raises("bars: 1 err values for 2 values", plot.bars, tmp("e.png"), { values = { 1, 2 }, err = { 1 } })
  H.raises("bars: values is empty", plot.bars, tmp("e.png"), { values = {} })
  H.raises("bars: option 'colors' must list 2 colours", plot.bars, tmp("e.png"), { values = { 1, 2 } }, { colors = { "#000000" } })
  plot.bars(tmp("neg.png"), { values = { -1, 2, 0 / 0 } })  -- negative and NaN bars are fine
end)

-- ==================== scatter plots ====================

H.test("scatter: every class's colour is present, with a legend", function()
  local n = 3000
  local labels = lt.randint(1, 5, { n })
  local pts = lt.randn(n, 2) + lt.randn(5, 2):index_select(1, labels) * 3
  local info = plot.scatter(tmp("scatter.png"), pts, labels,
    { title = "Codes", classes = { "a", "b", "c", "d", "e" }, alpha = 1 })
  local img = load(tmp("scatter.png"))
  for k = 1, 5 do
    local r, g, b = hex(plot.palette[k])
    H.ok(count_color(img, r, g, b, 2, info.axes[1], info.axes[2], info.axes[3], info.axes[4]) > 30,
      "class " .. k .. " colour in the axes")
    H.ok(count_color(img, r, g, b, 2, info.legend.x0, info.legend.y0, info.legend.x1, info.legend.y1) > 5,
      "class " .. k .. " in the legend")
  end
  local r6, g6, b6 = hex(plot.palette[6])
  H.eq(count_color(img, r6, g6, b6, 2), 0)
  H.ok(info.legend.x0 > info.axes[3], "the legend is outside, at the right")
  -- NaN points are skipped, not fatal
  pts:set(1, 1, 0 / 0)
  plot.scatter(tmp("scatter_nan.png"), pts, labels)
  -- one colour without labels
  plot.scatter(tmp("scatter_plain.png"), pts)
end)

H.test("scatter: argument errors", function()
  H.raises("scatter: points must be an N x 2 tensor, got 4x3", plot.scatter, tmp("e.png"), lt.zeros(4, 3))
  H.raises("scatter: points must be an N x 2 tensor, got table", plot.scatter, tmp("e.png"), { { 1, 2 } })
  H.raises("scatter: 3 labels for 4 points", plot.scatter, tmp("e.png"), lt.zeros(4, 2), { 1, 2, 3 })
  H.raises("scatter: labels%[2%] is 0", plot.scatter, tmp("e.png"), lt.zeros(2, 2), { 1, 0 })
  H.raises("scatter: labels go up to 3 but only 2 class names", plot.scatter, tmp("e.png"), lt.randn(3, 2),
    { 1, 2, 3 }, { classes = { "a", "b" } })
  H.raises("scatter: no point has finite coordinates", plot.scatter, tmp("e.png"), lt.full({ 2, 2 }, 0 / 0))
  H.raises("scatter: points is empty", plot.scatter, tmp("e.png"), lt.zeros(0, 2))
end)

H.test("scatter3d: one and several views", function()
  local n = 500
  local labels = lt.randint(1, 3, { n })
  local pts = lt.randn(n, 3)
  local one = plot.scatter3d(tmp("s3.png"), pts, labels, { azimuth = 20, elevation = 10, classes = { "x", "y", "z" } })
  local img = load(tmp("s3.png"))
  H.eq({ img.w, img.h }, { one.width, one.height })
  for k = 1, 3 do
    local r, g, b = hex(plot.palette[k])
    H.ok(count_color(img, r, g, b, 60) > 20, "class " .. k .. " drawn")
  end
  local r, g, b = hex(plot.style.pane)
  H.ok(count_color(img, r, g, b, 0) > 1000, "the panes of the box are drawn")
  local two = plot.scatter3d(tmp("s3x2.png"), pts, labels, { views = { { -60, 30 }, { 0, 90 } }, title = "two" })
  H.eq(two.panels, 2)
  H.ok(two.width > one.width * 1.6)
  H.raises("scatter3d: points must be an N x 3 tensor, got 5x2", plot.scatter3d, tmp("e.png"), lt.zeros(5, 2))
  H.raises("scatter3d: views%[1%] must be {azimuth, elevation}", plot.scatter3d, tmp("e.png"), pts, nil,
    { views = { { "a" } } })
end)

-- ==================== confusion matrices ====================

H.test("confusion: cells carry the heat colour of their count", function()
  local cm = lt.tensor { { 50, 2, 0 }, { 5, 40, 5 }, { 0, 10, 30 } }
  local info = plot.confusion(tmp("cm.png"), cm, { classes = { "cat", "dog", "bird" }, title = "CM" })
  local img = load(tmp("cm.png"))
  for _, ij in ipairs { { 1, 1 }, { 2, 1 }, { 3, 2 }, { 1, 3 } } do
    local cell = info.cells[ij[1]][ij[2]]
    local want = plot.colormap(cm:get(ij[1], ij[2]) / 50)
    H.eq({ img.at(cell.x0 + 3, cell.y0 + 3) }, want, "cell " .. ij[1] .. "," .. ij[2])
  end
  -- the count is written in a colour that contrasts: white on the darkest cell, black on the lightest
  local dark, light = info.cells[1][1], info.cells[1][3]
  H.ok(count_color(img, 255, 255, 255, 0, dark.x0 + 2, dark.y0 + 2, dark.x1 - 2, dark.y1 - 2) > 20)
  H.ok(count_color(img, 0, 0, 0, 0, light.x0 + 2, light.y0 + 2, light.x1 - 2, light.y1 - 2) > 10)
  -- normalized rows
  plot.confusion(tmp("cmn.png"), { { 1, 1 }, { 0, 2 } }, { normalize = true })
  H.raises("confusion: the matrix must be K x K, got 2x3", plot.confusion, tmp("e.png"), lt.zeros(2, 3))
  H.raises("confusion: cell %(1, 2%) is %-1", plot.confusion, tmp("e.png"), { { 1, -1 }, { 0, 1 } })
  H.raises("confusion: cell %(1, 1%) is %-?nan", plot.confusion, tmp("e.png"), { { 0 / 0, 1 }, { 0, 1 } })
  H.raises("confusion: 1 class names for a 2x2 matrix", plot.confusion, tmp("e.png"), { { 1, 1 }, { 0, 1 } },
    { classes = { "a" } })
end)

-- ==================== image grids ====================

H.test("image_grid: rows of images at an integer zoom", function()
  local a = lt.zeros(3, 1, 4, 5)
  a:select(1, 2):fill(1)
  local b = lt.full({ 2, 4, 5 }, 0.5)
  local info = plot.image_grid(tmp("grid.png"), { a, b }, { labels = { "first", "second" }, zoom = 3, title = "Grid" })
  local img = load(tmp("grid.png"))
  H.eq({ img.w, img.h }, { info.width, info.height })
  local c12, c21, c13 = info.cells[1][2], info.cells[2][1], info.cells[1][3]
  H.eq(c12.x1 - c12.x0, 15)
  H.eq({ img.at(c12.x0 + 1, c12.y0 + 1) }, { 255, 255, 255 })
  H.eq({ img.at(c13.x1, c13.y1) }, { 0, 0, 0 })
  H.eq({ img.at(c21.x0 + 8, c21.y0 + 6) }, { 128, 128, 128 })
  H.eq(info.cells[2][3], nil)
  H.ok(dark_pixels(img, 1, c21.y0 + 1, c21.x0 - 1, c21.y1) > 20, "row label at the left")
  H.raises("image_grid: rows%[2%] has 3x3 images, rows%[1%] has 4x5", plot.image_grid, tmp("e.png"),
    { a, lt.zeros(1, 3, 3) })
  H.raises("image_grid: rows%[1%] must be B x 1 x H x W", plot.image_grid, tmp("e.png"), { lt.zeros(2, 3, 4, 4) })
  H.raises("image_grid: option 'zoom' must be an integer", plot.image_grid, tmp("e.png"), { a }, { zoom = 1.5 })
  H.raises("image_grid: 1 labels for 2 rows", plot.image_grid, tmp("e.png"), { a, b }, { labels = { "x" } })
end)

-- ==================== atomic writes and the example ====================

H.test("writes are atomic: an existing figure survives a failed write", function()
  local path = tmp("keep.png")
  plot.bars(path, { values = { 1, 2 } })
  local before = io.open(path, "rb"):read("a")
  H.raises("bars: width and height", plot.bars, path, { values = { 1 } }, { width = 1 })
  H.eq(io.open(path, "rb"):read("a"), before)
  H.eq(#temp_files(), 0)
end)

H.test("examples/figures.lua writes one readable PNG of each kind", function()
  local out = tmp("example")
  arg = { [0] = "figures.lua", out, "2000" }
  local real_print = print
  print = function() end
  local ok, written = pcall(dofile, root .. "/examples/figures.lua")
  print = real_print
  H.ok(ok, tostring(written))
  H.ok(#written >= 7, #written .. " files")
  for _, p in ipairs(written) do
    local img = load(p)
    H.ok(img.w >= 300 and img.h >= 200, p)
  end
end)

os.execute("rm -rf '" .. dir .. "'")
H.done()
