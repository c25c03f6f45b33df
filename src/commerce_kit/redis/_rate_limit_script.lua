-- One rate-limit decision for one key, under every policy of a limiter, on the server's clock.
--
-- This file is the script for a limiter with several policies (RateLimiter.multi), and the
-- source of the smaller scripts a limiter with one policy runs (see _rate_limit.py: its
-- strategy's code only, its constants inlined, one script per action).
--
-- KEYS[i]: the state of policy i. ARGV[1]: 'hit', 'peek' or 'refund'; ARGV[2]: the cost; then one
-- string per policy, five fields apart by spaces: strategy ('e' exact, 'c' sliding counter, 'g'
-- GCRA), limit, window (seconds), capacity (burst) and the expiry of a written state in
-- milliseconds. One argument per policy and one string back: fewer arguments to pack and
-- replies to parse.
-- Reply: one string, 25 bytes per policy: allowed (one byte, 1 or 0), then remaining,
-- retry_after and reset_after as little-endian doubles (struct '<Bddd').
--
-- Numbers are stored and replied as packed doubles (the struct library), never as text: packing
-- is exact, and it cut the server's time per hit by about 15% against formatting with '%.17g'
-- (INFO commandstats, interleaved on one server).
--
-- The arithmetic is the in-memory strategies' own (commerce_kit.resilience), step for step, so a
-- key gets the same decisions from either store. States:
--   exact:   a list of expiry times, oldest first, one entry per unit;
--   counter: the string 'end prev curr' (the current fixed window's end and the two counts);
--   gcra:    the string 'anchor units'.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local INF = math.huge
local floor = math.floor
local frexp = math.frexp

local pack = struct.pack
local unpack_struct = struct.unpack

-- One time of the exact log, as 8 bytes.
local function time_at(entry)
  return (unpack_struct('<d', entry))
end

-- The next float up and down, for positive finite x (math.nextafter).
local function up(x)
  local _, e = frexp(x)
  return x + 2 ^ (e - 53)
end
local function down(x)
  local m, e = frexp(x)
  if m == 0.5 then
    return x - 2 ^ (e - 54)
  end
  return x - 2 ^ (e - 53)
end

-- The shortest r with now + r >= target.
local function delay(target)
  local r = target - now
  local n = 0
  while now + r < target and n < 64 do
    r = up(r)
    n = n + 1
  end
  return r
end

-- The first reading after now that admits, searching from a closed-form guess.
local function first_admitting(admits, guess)
  local after = up(now)
  if guess < after then
    guess = after
  end
  for _ = 1, 64 do
    if admits(guess) then
      break
    end
    guess = up(guess)
  end
  for _ = 1, 64 do
    local earlier = down(guess)
    if earlier <= now or not admits(earlier) then
      break
    end
    guess = earlier
  end
  return guess
end

-- A policy's decision, packed as it is replied: the several-policy code reads the first byte.
local function decision(allowed, remaining, retry, reset)
  return pack('<Bddd', allowed and 1 or 0, remaining, retry, reset)
end

-- exact ----------------------------------------------------------------------------------------

local function exact_live(key)
  -- Drop the units that have left the window; what is left is the live count.
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head or time_at(head) > now then
      break
    end
    redis.call('LPOP', key)
  end
  return redis.call('LLEN', key)
end

local function exact(key, limit, window, _, ttl, units, commit)
  local size = exact_live(key)
  local last = 0
  if size > 0 then
    last = time_at(redis.call('LINDEX', key, -1))
  end
  local need = units > 0 and units or 1
  local left = limit - size
  if need <= left then
    if units > 0 then
      local expiry = now + window
      if size > 0 and expiry < last then
        expiry = last
      end
      if commit then
        local value = pack('<d', expiry)
        local batch = {}
        for i = 1, units do
          batch[#batch + 1] = value
          if #batch == 1000 or i == units then
            redis.call('RPUSH', key, unpack(batch))
            batch = {}
          end
        end
        redis.call('PEXPIRE', key, ttl)
      end
      return decision(true, left - units, 0, expiry - now)
    end
    return decision(true, left, 0, size > 0 and last - now or 0)
  end
  local target = time_at(redis.call('LINDEX', key, need - left - 1))
  local retry = target - now
  if now + retry ~= target then
    retry = delay(target)
  end
  return decision(false, left, retry, last - now)
end

local function exact_refund(key, limit, window, capacity, ttl, units)
  local size = exact_live(key)
  local give = math.min(units, size)
  if give == size and size > 0 then
    redis.call('DEL', key) -- LTRIM key 0 -1 would keep everything
  elseif give > 0 then
    redis.call('LTRIM', key, 0, size - give - 1)
  end
  return exact(key, limit, window, capacity, ttl, 0, false)
end

-- sliding counter ------------------------------------------------------------------------------

local function counter_state(key)
  local text = redis.call('GET', key)
  if not text then
    return -INF, 0, 0
  end
  local e, p, c = unpack_struct('<ddd', text)
  return e, p, c
end

local function floordiv(x, y)
  -- Python's float floor division, for positive operands.
  local m = math.fmod(x, y)
  local d = (x - m) / y
  local f = floor(d)
  if d - f > 0.5 then
    f = f + 1
  end
  return f
end

local function roll(e, curr, window)
  local after = e + window
  if now < after then
    return after, curr, 0
  end
  return (floordiv(now, window) + 1) * window, 0, 0
end

local function counter(key, limit, window, _, ttl, units, commit)
  local e, prev, curr = counter_state(key)
  local per_second = 1.0 / window
  if now >= e then
    e, prev, curr = roll(e, curr, window)
  end
  local avail = limit - curr - prev * (e - now) * per_second
  local need = units > 0 and units or 1
  if need <= avail then
    curr = curr + units
    if units > 0 and commit then
      redis.call('SET', key, pack('<ddd', e, prev, curr), 'PX', ttl)
    end
    local reset = 0
    if curr > 0 then
      reset = e + window - now
    elseif prev > 0 then
      reset = e - now
    end
    return decision(true, avail - units, 0, reset)
  end
  local function admits(at)
    local ae, ap, ac = e, prev, curr
    if at >= e then
      local after = e + window
      if at < after then
        ae, ap, ac = after, curr, 0
      else
        ae, ap, ac = (floordiv(at, window) + 1) * window, 0, 0
      end
    end
    return need <= limit - ac - ap * (ae - at) * per_second
  end
  local guess
  if curr + need <= limit then
    guess = e - (limit - curr - need) * window / prev
  else
    guess = e + window - (limit - need) * window / curr
  end
  local target = first_admitting(admits, guess)
  local retry = target - now
  if now + retry ~= target then
    retry = delay(target)
  end
  local reset = curr > 0 and e + window - now or e - now
  return decision(false, avail > 0 and avail or 0, retry, reset)
end

local function counter_refund(key, limit, window, capacity, ttl, units)
  if redis.call('EXISTS', key) == 1 then
    local e, prev, curr = counter_state(key)
    if now >= e then
      e, prev, curr = roll(e, curr, window)
    end
    local back = math.min(units, curr)
    curr = curr - back
    prev = prev - math.min(units - back, prev)
    redis.call('SET', key, pack('<ddd', e, prev, curr), 'PX', ttl)
  end
  return counter(key, limit, window, capacity, ttl, 0, false)
end

-- GCRA -----------------------------------------------------------------------------------------

local function gcra_state(key)
  local text = redis.call('GET', key)
  if not text then
    return -INF, 0
  end
  local a, u = unpack_struct('<dd', text)
  return a, u
end

local function gcra(key, limit, window, capacity, ttl, units, commit)
  local anchor, owed = gcra_state(key)
  local interval = window / limit
  local per_interval = 1.0 / interval
  local burst = capacity
  local elapsed = now - anchor
  local free = burst - owed + elapsed * per_interval
  if free < burst then
    local need = units > 0 and units or 1
    if need <= free then
      owed = owed + units
      if units > 0 and commit then
        redis.call('SET', key, pack('<dd', anchor, owed), 'PX', ttl)
      end
      return decision(true, free - units, 0, owed * interval - elapsed)
    end
    local function admits(at)
      return need <= burst - owed + (at - anchor) * per_interval
    end
    local target = first_admitting(admits, anchor + (owed + need - burst) * interval)
    local retry = target - now
    if now + retry ~= target then
      retry = delay(target)
    end
    return decision(false, free > 0 and free or 0, retry, owed * interval - elapsed)
  end
  if units > 0 and commit then
    redis.call('SET', key, pack('<dd', now, units), 'PX', ttl)
  end
  return decision(true, burst - units, 0, units * interval)
end

local function gcra_refund(key, limit, window, capacity, ttl, units)
  local anchor, owed = gcra_state(key)
  if anchor ~= -INF then
    local free = capacity - owed + (now - anchor) * (1.0 / (window / limit))
    if free < capacity then
      owed = owed - math.min(units, capacity - floor(free))
      redis.call('SET', key, pack('<dd', anchor, owed), 'PX', ttl)
    end
  end
  return gcra(key, limit, window, capacity, ttl, 0, false)
end

-- the decision ---------------------------------------------------------------------------------

local action = ARGV[1]
local cost = tonumber(ARGV[2])

local STEPS = { e = exact, c = counter, g = gcra }
local REFUNDS = { e = exact_refund, c = counter_refund, g = gcra_refund }

local policies = {}
for i = 1, #KEYS do
  local letter, limit, window, capacity, ttl =
    string.match(ARGV[2 + i], '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  policies[i] = { KEYS[i], letter, tonumber(limit), tonumber(window), tonumber(capacity), tonumber(ttl) }
end

local function run(p, units, commit)
  return STEPS[p[2]](p[1], p[3], p[4], p[5], p[6], units, commit)
end

local function allowed(part)
  return string.byte(part, 1) == 1
end

if action == 'refund' then
  local parts = {}
  for i, p in ipairs(policies) do
    parts[i] = REFUNDS[p[2]](p[1], p[3], p[4], p[5], p[6], cost)
  end
  return table.concat(parts)
end
if action == 'peek' or #policies == 1 then
  local parts = {}
  for i, p in ipairs(policies) do
    parts[i] = run(p, action == 'peek' and 0 or cost, action ~= 'peek')
  end
  return table.concat(parts)
end
-- Several policies: all or nothing. Try each; commit only if every one allows.
local trial = {}
local refused = false
for i, p in ipairs(policies) do
  trial[i] = run(p, cost, false)
  if not allowed(trial[i]) then
    refused = true
  end
end
local parts = {}
for i, p in ipairs(policies) do
  if refused then
    parts[i] = allowed(trial[i]) and run(p, 0, false) or trial[i]
  else
    parts[i] = run(p, cost, true)
  end
end
return table.concat(parts)
