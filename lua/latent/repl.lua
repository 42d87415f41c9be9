-- Tab completion for the latent REPL.
--
--   local repl = require "latent.repl"
--   repl.complete("lt.ra")   --> {"lt.rand", "lt.randint", "lt.randn", ...}
--
-- complete(line) looks at the name path that ends the line ("lt.ra",
-- "x:vi", "pri") and returns the words that could replace it, sorted. The
-- host (src/main.c) calls it on Tab with the word before the cursor; it is
-- plain Lua so that it can be tested without a terminal.
--
-- Completion must never run user code: a typo followed by Tab should not
-- fire an __index function with side effects. So tables are read with
-- rawget/next, and metatables are only followed through __index *tables*
-- (and a __methods table, which latent.Tensor uses beside its C __index).
-- This module needs nothing from latent itself, so Tab keeps working when
-- latent fails to load.
local M = {}

-- Globals as they are when this module is loaded: the REPL's own _ENV.
local globals = _ENV

local KEYWORDS = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
  "true", "until", "while",
}

-- How many metatables a lookup follows before giving up (a cycle guard).
local MAX_DEPTH = 16

-- The tables that hold v's fields: v itself if it is a table, then the
-- __index tables (and __methods tables) found through metatables.
local function sources(v)
  local list, depth = {}, 0
  while v ~= nil and depth < MAX_DEPTH do
    if type(v) == "table" then list[#list + 1] = v end
    local mt = getmetatable(v) -- the __metatable field if protected: checked below
    if type(mt) ~= "table" then break end
    local methods = rawget(mt, "__methods")
    if type(methods) == "table" then list[#list + 1] = methods end
    v = rawget(mt, "__index")
    if type(v) ~= "table" then break end
    depth = depth + 1
  end
  return list
end

-- One step of a name path, without calling any __index function.
local function lookup(v, name)
  for _, t in ipairs(sources(v)) do
    local field = rawget(t, name)
    if field ~= nil then return field end
  end
  return nil
end

-- Follows "a.b.c" from the globals; nil when any step is missing.
local function resolve(path)
  local v = globals
  for name in path:gmatch("[^.]+") do
    v = lookup(v, name)
    if v == nil then return nil end
  end
  return v
end

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

-- Names of v's fields that start with prefix; only callable ones if
-- methods_only (after a colon). Adds them to the set `found`.
local function collect(v, prefix, methods_only, found)
  for _, t in ipairs(sources(v)) do
    for k, field in next, t do
      if type(k) == "string" and k:match("^[%a_][%w_]*$") and k:sub(1, #prefix) == prefix
          and (not methods_only or is_callable(field)) then
        found[k] = true
      end
    end
  end
end

local function sorted_words(found, head)
  local words = {}
  for name in pairs(found) do words[#words + 1] = head .. name end
  table.sort(words)
  return words
end

-- The candidates for the name path that ends `line`.
local function candidates(line)
  local word = line:match("[%w_.:]*$")
  if word:match("^[%d.:]") then return {} end -- a number, or nothing to follow
  local path, sep, prefix = word:match("^(.*)([.:])([%w_]*)$")
  local found = {}
  if not path then -- a bare name: globals and keywords
    collect(globals, word, false, found)
    for _, kw in ipairs(KEYWORDS) do
      if kw:sub(1, #word) == word then found[kw] = true end
    end
    return sorted_words(found, "")
  end
  if path:find(":", 1, true) or path:find("..", 1, true) or path:sub(-1) == "." then
    return {}
  end
  local v = resolve(path)
  if v == nil then return {} end
  collect(v, prefix, sep == ":", found)
  return sorted_words(found, path .. sep)
end

--- Completion candidates for the text before the cursor.
-- @param line the line up to the cursor (only its trailing name path matters)
-- @return a sorted list of full replacement words; empty on any problem
function M.complete(line)
  if type(line) ~= "string" then return {} end
  local ok, words = pcall(candidates, line)
  if ok then return words end
  return {}
end

return M
