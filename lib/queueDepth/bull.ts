/**
 * n8n's own queue in queue mode: a Bull 4 queue (n8n 2.41.1: `bull` 4.16, queue `jobs`, or
 * `jobs-<pool>` for a worker pool; keys under QUEUE_BULL_PREFIX, default `bull`, in braces on a
 * Redis cluster). Read in one Lua script, so the counts belong to one moment:
 *   waiting = LLEN wait + LLEN paused (Bull's getWaitingCount), active = LLEN active,
 *   delayed = ZCARD delayed, and the `timestamp` (ms, when n8n enqueued it) of the oldest waiting job.
 * n8n enqueues with priorities (50 for realtime, 100 otherwise) and Bull keeps each priority FIFO
 * with the highest priority at the tail, so the oldest job of each priority group sits at that
 * group's tail end: the script looks at those ends (from the `priority` set) and at both list ends.
 */
import Redis from 'ioredis';

import type { StoreConfig } from '../stores';
import { SourceError, errorText, type QueueReading } from './types';

/** A connected client for one check run; a Redis that does not answer is source_unreachable. */
export async function openBullClient(
	c: Extract<StoreConfig, { kind: 'redis' }>,
	timeoutMs: number,
	where: string,
): Promise<Redis> {
	const client = new Redis({
		host: c.host,
		port: c.port,
		db: c.database,
		username: c.username,
		password: c.password,
		tls: c.tls ? { rejectUnauthorized: c.rejectUnauthorized !== false } : undefined,
		lazyConnect: true,
		connectTimeout: timeoutMs,
		commandTimeout: timeoutMs,
		maxRetriesPerRequest: 0,
		enableOfflineQueue: false,
		retryStrategy: () => null, // one try per check: the next check tries again
	});
	client.on('error', () => undefined); // reported by the command that fails
	try {
		await client.connect();
	} catch (error) {
		client.disconnect();
		throw new SourceError('source_unreachable', `${where}: ${errorText(error)}`);
	}
	return client;
}

export interface EvalClient {
	eval(script: string, numberOfKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

export const BULL_SCRIPT = `
local wait, paused, active, delayed, priority, metaPaused = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix = ARGV[1]
local counts = { redis.call('LLEN', wait), redis.call('LLEN', paused), redis.call('LLEN', active), redis.call('ZCARD', delayed), redis.call('EXISTS', metaPaused) }
local oldest, oldestId = false, false
local function consider(list, index)
  local id = redis.call('LINDEX', list, index)
  if not id then return end
  local ts = tonumber(redis.call('HGET', prefix .. id, 'timestamp'))
  if ts and (not oldest or ts < oldest) then oldest, oldestId = ts, id end
end
for _, list in ipairs({ wait, paused }) do
  if redis.call('LLEN', list) > 0 then
    consider(list, 0)
    consider(list, -1)
    local seen, score, groups = 0, '-inf', 0
    while groups < 20 do
      local nextGroup = redis.call('ZRANGEBYSCORE', priority, score, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      if #nextGroup == 0 then break end
      score = '(' .. nextGroup[2]
      seen = redis.call('ZCOUNT', priority, '-inf', nextGroup[2])
      consider(list, -seen)
      consider(list, -(seen + 1))
      groups = groups + 1
    end
  end
end
return { counts[1], counts[2], counts[3], counts[4], counts[5], oldest and tostring(oldest) or false, oldestId or false }
`;

/** Bull's key prefix and queue name as n8n builds them (see n8n's scaling.service.js). */
export function bullKeys(prefix: string, queue: string) {
	const base = `${prefix}:${queue}:`;
	return {
		base,
		keys: ['wait', 'paused', 'active', 'delayed', 'priority', 'meta-paused'].map((k) => base + k),
	};
}

export async function readBullQueue(
	client: EvalClient,
	where: string,
	prefix: string,
	queue: string,
	nowMs: number,
): Promise<QueueReading> {
	const { base, keys } = bullKeys(prefix, queue);
	let raw: unknown;
	try {
		raw = await client.eval(BULL_SCRIPT, keys.length, ...keys, base);
	} catch (error) {
		throw new SourceError('source_unreachable', `${where}: ${errorText(error)}`);
	}
	const r = Array.isArray(raw) ? raw : [];
	const n = (i: number) => (typeof r[i] === 'number' ? (r[i] as number) : 0);
	const [wait, paused, active, delayed, isPaused] = [n(0), n(1), n(2), n(3), n(4)];
	const oldestTs = typeof r[5] === 'string' ? Number(r[5]) : NaN;
	const waiting = wait + paused;
	const notes: string[] = [];
	if (waiting + active + delayed === 0 && !isPaused)
		notes.push(
			`no jobs under ${base}*: right if the queue is idle; else check the Bull prefix (QUEUE_BULL_PREFIX) and the queue name`,
		);
	return {
		depth: waiting,
		inProgress: active,
		consumers: null,
		delayed,
		oldestAgeMs: waiting > 0 && Number.isFinite(oldestTs) ? Math.max(0, nowMs - oldestTs) : null,
		notes,
		details: {
			via: 'bull',
			keyPrefix: base,
			wait,
			paused,
			active,
			delayed,
			queuePaused: isPaused === 1,
			oldestJobId: waiting > 0 && typeof r[6] === 'string' ? r[6] : null,
		},
	};
}
