/**
 * Redis store (ioredis). Each record is a hash under `<prefix>:<c|v|n>:<namespace>:<key>` (the
 * parts URI-encoded, so no namespace can reach into another's keys); every read-modify-write is a
 * Lua script, which Redis runs atomically. Records carry their own end time (`e`), judged by the
 * caller's clock like every backend; PEXPIRE removes them from Redis at about the same time.
 *
 * Versioned records live under `<prefix>:r:{<namespace>}:…` (the braces a cluster hash tag, so a
 * namespace's keys share a slot): a hash per record (`k:<key>`: v value, n version, d due, t tag,
 * e end), a sorted set `due` of keys by due time, a sorted set per tag (`t:<tag>`) of keys by end
 * time (a count is the members whose end is still ahead) and a set `tags` of the tags in use. Each
 * operation is one script; the sets expire with the longest-lived record written into them.
 *
 * The usage ledger lives under `<prefix>:l:{<namespace>}:…`, one slot per namespace too. Counters:
 * a hash per bucket and key (`c:<bucket>:<key hash>`: the counted fields summed by HINCRBY, the key
 * as JSON in `=k`, the end in `=e`), a sorted set `cb` of those row names by bucket for range
 * reads and one `ce` by end for pruning. Events: a hash `ed` of event id → value JSON, and sorted
 * sets of ids by time (`ea`) and by end (`ee`); an id starts with its end, so reads can tell ended
 * events from its text. Each batch is one script; now and then one also prunes ended members.
 */
import { randomBytes } from 'node:crypto';
import Redis, { type RedisOptions, type Result } from 'ioredis';

import {
	PURGE_BATCH,
	PURGE_INTERVAL_MS,
	StoreError,
	checkDuration,
	checkEventLimit,
	checkLimit,
	checkName,
	counterBatch,
	counterRows,
	eventBatch,
	timeRange,
	toEvent,
	fromJson,
	newRecordRow,
	toStoredRecord,
	newToken,
	redact,
	toJson,
	toRecord,
	type StoreClock,
} from './common';
import type {
	ClaimOptions,
	ClaimOutcome,
	ClaimRecord,
	CounterAdd,
	CounterRow,
	RecordWrite,
	StateStore,
	StoredEvent,
	StoredRecord,
} from './types';

export interface RedisStoreOptions extends StoreClock {
	host: string;
	port: number;
	/** Database number; default 0. */
	database?: number;
	username?: string;
	password?: string;
	tls?: boolean;
	/** Only with tls: false accepts self-signed certificates. */
	rejectUnauthorized?: boolean;
	/** First part of every key; default `ai-patterns`. */
	keyPrefix?: string;
	connectTimeoutMs?: number;
}

// Lua numbers are doubles, exact for epoch milliseconds. Scripts return strings only:
// Redis would truncate a Lua number to an integer, and a nil would cut an array short.
const CLAIM = `
local r = redis.call('HMGET', KEYS[1], 's', 'f', 'v', 't', 'c', 'e')
if r[1] and tonumber(r[6]) > tonumber(ARGV[1]) then
	local outcome = 'in_progress'
	if ARGV[2] ~= '' and r[2] and r[2] ~= '' and r[2] ~= ARGV[2] then
		outcome = 'conflict'
	elseif r[1] == 'completed' then
		outcome = 'completed'
	end
	return {outcome, r[1], r[2] or '', r[3] or '', r[4] or '', r[5], r[6]}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', 'in_progress', 'f', ARGV[2], 't', ARGV[3], 'c', ARGV[1], 'e', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'claimed'}`;

const COMPLETE = `
local r = redis.call('HMGET', KEYS[1], 't', 'e')
local live = r[2] and tonumber(r[2]) > tonumber(ARGV[1])
if live and ARGV[2] ~= '' and r[1] ~= ARGV[2] then return '0' end
if not live then
	redis.call('DEL', KEYS[1])
	redis.call('HSET', KEYS[1], 'f', '', 't', ARGV[6], 'c', ARGV[1])
end
redis.call('HSET', KEYS[1], 's', 'completed', 'v', ARGV[3], 'e', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return '1'`;

const RELEASE = `
local r = redis.call('HMGET', KEYS[1], 't', 'e')
if not r[2] then return '0' end
if ARGV[2] ~= '' and r[1] ~= ARGV[2] then return '0' end
redis.call('DEL', KEYS[1])
if tonumber(r[2]) > tonumber(ARGV[1]) then return '1' end
return '0'`;

const INCREMENT = `
local e = redis.call('HGET', KEYS[1], 'e')
if e and tonumber(e) > tonumber(ARGV[1]) then
	return redis.call('HINCRBYFLOAT', KEYS[1], 'n', ARGV[2])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'n', ARGV[2], 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return ARGV[2]`;

// KEYS: record hash, due set, tags set. ARGV: now, expected version, value, due ('' = never), tag,
// end, ttl ms (integer), member (the encoded key), prefix of the per-tag sets.
const PUT_RECORD = `
local now = tonumber(ARGV[1])
local r = redis.call('HMGET', KEYS[1], 'n', 't', 'e')
local version = 0
if r[1] and r[3] and tonumber(r[3]) > now then version = tonumber(r[1]) end
if version ~= tonumber(ARGV[2]) then return '0' end
if r[2] and r[2] ~= ARGV[5] then redis.call('ZREM', ARGV[9] .. r[2], ARGV[8]) end
local ttl = tonumber(ARGV[7])
local function outlive(key)
	local left = redis.call('PTTL', key)
	if left == -1 or left < ttl then redis.call('PEXPIRE', key, ttl) end
end
local tagSet = ARGV[9] .. ARGV[5]
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'n', tostring(version + 1), 'd', ARGV[4], 't', ARGV[5], 'e', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ttl)
if ARGV[4] == '' then
	redis.call('ZREM', KEYS[2], ARGV[8])
else
	redis.call('ZADD', KEYS[2], ARGV[4], ARGV[8])
	outlive(KEYS[2])
end
redis.call('ZADD', tagSet, ARGV[6], ARGV[8])
redis.call('SADD', KEYS[3], ARGV[5])
outlive(tagSet)
outlive(KEYS[3])
return tostring(version + 1)`;

// KEYS: due set. ARGV: now, limit, prefix of the record hashes. Members whose record has ended
// are dropped on the way; returns six strings per record: member, v, n, d, t, e.
const DUE_RECORDS = `
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = {}
local found = 0
local offset = 0
while found < limit do
	local batch = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', offset, limit - found)
	if #batch == 0 then break end
	for _, member in ipairs(batch) do
		local r = redis.call('HMGET', ARGV[3] .. member, 'v', 'n', 'd', 't', 'e')
		if r[5] and tonumber(r[5]) > now then
			found = found + 1
			offset = offset + 1
			for _, part in ipairs({member, r[1] or '', r[2], r[3] or '', r[4] or '', r[5]}) do
				out[#out + 1] = part
			end
		else
			redis.call('ZREM', KEYS[1], member)
		end
	end
end
return out`;

// KEYS: tags set. ARGV: now, prefix of the per-tag sets. Drops ended members and unused tags;
// returns tag, count pairs.
const COUNT_RECORDS = `
local out = {}
for _, tag in ipairs(redis.call('SMEMBERS', KEYS[1])) do
	local set = ARGV[2] .. tag
	redis.call('ZREMRANGEBYSCORE', set, '-inf', ARGV[1])
	local count = redis.call('ZCARD', set)
	if count == 0 then
		redis.call('SREM', KEYS[1], tag)
	else
		out[#out + 1] = tag
		out[#out + 1] = tostring(count)
	end
end
return out`;

// Shared by the ledger's write scripts: keeps a key at least ttl ms (never shortens a longer life).
const OUTLIVE = `
local function outlive(key, ttl)
	local left = redis.call('PTTL', key)
	if left == -1 or left < ttl then redis.call('PEXPIRE', key, ttl) end
end`;

// Removes up to ${PURGE_BATCH} members that ended by now from an end-sorted set and the given
// index set, deleting their data with \`drop\`; returns how many.
const PRUNE = `
local function prune(ends, index, now, drop)
	local dead = redis.call('ZRANGEBYSCORE', ends, '-inf', now, 'LIMIT', 0, ${PURGE_BATCH})
	if #dead == 0 then return 0 end
	redis.call('ZREM', ends, unpack(dead))
	redis.call('ZREM', index, unpack(dead))
	drop(dead)
	return #dead
end`;

// KEYS: rows by bucket, rows by end. ARGV: now, prune ('1'), prefix of the row hashes, the longest
// ttl (ms), then per row: name, bucket, end, ttl, key JSON, field count, that many field/value
// pairs. A row that has ended by now starts again rather than adding to stale counts.
// Returns how many ended rows it pruned.
const ADD_COUNTERS = `${OUTLIVE}${PRUNE}
local now = tonumber(ARGV[1])
local prefix = ARGV[3]
local i = 5
while i <= #ARGV do
	local name, e, ttl, n = ARGV[i], ARGV[i + 2], tonumber(ARGV[i + 3]), tonumber(ARGV[i + 5])
	local hash = prefix .. name
	local old = redis.call('HGET', hash, '=e')
	if old and tonumber(old) <= now then
		redis.call('DEL', hash)
		old = false
	end
	if not old then
		redis.call('HSET', hash, '=k', ARGV[i + 4], '=e', e)
	elseif tonumber(e) > tonumber(old) then
		redis.call('HSET', hash, '=e', e)
	else
		e = old
	end
	for j = i + 6, i + 5 + 2 * n, 2 do redis.call('HINCRBY', hash, ARGV[j], ARGV[j + 1]) end
	outlive(hash, ttl)
	redis.call('ZADD', KEYS[1], ARGV[i + 1], name)
	redis.call('ZADD', KEYS[2], e, name)
	i = i + 6 + 2 * n
end
outlive(KEYS[1], tonumber(ARGV[4]))
outlive(KEYS[2], tonumber(ARGV[4]))
if ARGV[2] ~= '1' then return '0' end
return tostring(prune(KEYS[2], KEYS[1], ARGV[1], function(dead)
	for _, name in ipairs(dead) do redis.call('DEL', prefix .. name) end
end))`;

// KEYS: rows by bucket. ARGV: from, to (excluded), prefix of the row hashes. Returns per row its
// name followed by its hash's field/value pairs (the caller drops ended rows).
const READ_COUNTERS = `
local out = {}
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '(' .. ARGV[2])) do
	local r = redis.call('HGETALL', ARGV[3] .. name)
	if #r > 0 then
		table.insert(r, 1, name)
		out[#out + 1] = r
	end
end
return out`;

// KEYS: ids by time, ids by end, values by id. ARGV: now, prune ('1'), the longest ttl (ms), then
// per event: at, end, id, value. Returns how many ended events it pruned.
const APPEND_EVENTS = `${OUTLIVE}${PRUNE}
for i = 4, #ARGV, 4 do
	redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 2])
	redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i + 2])
	redis.call('HSET', KEYS[3], ARGV[i + 2], ARGV[i + 3])
end
local ttl = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do outlive(key, ttl) end
if ARGV[2] ~= '1' then return '0' end
return tostring(prune(KEYS[2], KEYS[1], ARGV[1], function(dead)
	redis.call('HDEL', KEYS[3], unpack(dead))
end))`;

// KEYS: ids by time, values by id. ARGV: from, to (excluded), now, limit. Skips ended events (an
// id starts with its end); returns at, value pairs, oldest first.
const READ_EVENTS = `
local now = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local out = {}
local found = 0
local offset = 0
while found < limit do
	local batch = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '(' .. ARGV[2], 'WITHSCORES', 'LIMIT', offset, limit - found)
	if #batch == 0 then break end
	offset = offset + #batch / 2
	for i = 1, #batch, 2 do
		if tonumber(string.match(batch[i], '^[^:]+')) > now then
			local v = redis.call('HGET', KEYS[2], batch[i])
			if v then
				found = found + 1
				out[#out + 1] = batch[i + 1]
				out[#out + 1] = v
			end
		end
	end
end
return out`;

declare module 'ioredis' {
	interface RedisCommander<Context> {
		aipClaim(key: string, ...args: string[]): Result<string[], Context>;
		aipComplete(key: string, ...args: string[]): Result<string, Context>;
		aipRelease(key: string, ...args: string[]): Result<string, Context>;
		aipIncrement(key: string, ...args: string[]): Result<string, Context>;
		aipPutRecord(
			record: string,
			due: string,
			tags: string,
			...args: string[]
		): Result<string, Context>;
		aipDueRecords(due: string, ...args: string[]): Result<string[], Context>;
		aipCountRecords(tags: string, ...args: string[]): Result<string[], Context>;
		aipAddCounters(byBucket: string, byEnd: string, ...args: string[]): Result<string, Context>;
		aipReadCounters(byBucket: string, ...args: string[]): Result<string[][], Context>;
		aipAppendEvents(
			byTime: string,
			byEnd: string,
			values: string,
			...args: string[]
		): Result<string, Context>;
		aipReadEvents(byTime: string, values: string, ...args: string[]): Result<string[], Context>;
	}
}

/** Rows per ledger script call: a bigger batch is sent in several (each atomic on its own). */
const REDIS_SLICE = 1000;

export class RedisStore implements StateStore {
	readonly kind = 'redis';
	readonly label: string;
	private readonly client: Redis;
	private readonly now: () => number;
	private readonly prefix: string;
	private readonly password?: string;
	private lastError?: string;
	/** When this process next prunes a namespace's ledger sets (by `c:` / `e:` and namespace). */
	private readonly nextPrune = new Map<string, number>();

	constructor(options: RedisStoreOptions) {
		const database = options.database ?? 0;
		this.label = `Redis at ${options.host}:${options.port}${database ? ` (database ${database})` : ''}`;
		this.now = options.now ?? Date.now;
		this.prefix = options.keyPrefix || 'ai-patterns';
		this.password = options.password;
		const redisOptions: RedisOptions = {
			host: options.host,
			port: options.port,
			db: database,
			username: options.username || undefined,
			password: options.password || undefined,
			lazyConnect: true,
			connectTimeout: options.connectTimeoutMs ?? 5000,
			commandTimeout: 10_000,
			// Fail a command after one reconnect attempt instead of queueing it for long: a down
			// store must surface as an error (fail closed / fail open), not as a hanging execution.
			maxRetriesPerRequest: 1,
			retryStrategy: (times) => Math.min(times * 200, 2000),
			enableAutoPipelining: true,
			disconnectTimeout: 200,
		};
		if (options.tls)
			redisOptions.tls = { rejectUnauthorized: options.rejectUnauthorized !== false };
		this.client = new Redis(redisOptions);
		// Connection errors also reject the commands waiting on them; kept to explain those rejections.
		this.client.on('error', (error: Error) => {
			this.lastError = error.message;
		});
		this.client.on('ready', () => {
			this.lastError = undefined;
		});
		this.client.defineCommand('aipClaim', { numberOfKeys: 1, lua: CLAIM });
		this.client.defineCommand('aipComplete', { numberOfKeys: 1, lua: COMPLETE });
		this.client.defineCommand('aipRelease', { numberOfKeys: 1, lua: RELEASE });
		this.client.defineCommand('aipIncrement', { numberOfKeys: 1, lua: INCREMENT });
		this.client.defineCommand('aipPutRecord', { numberOfKeys: 3, lua: PUT_RECORD });
		this.client.defineCommand('aipDueRecords', { numberOfKeys: 1, lua: DUE_RECORDS });
		this.client.defineCommand('aipCountRecords', { numberOfKeys: 1, lua: COUNT_RECORDS });
		this.client.defineCommand('aipAddCounters', { numberOfKeys: 2, lua: ADD_COUNTERS });
		this.client.defineCommand('aipReadCounters', { numberOfKeys: 1, lua: READ_COUNTERS });
		this.client.defineCommand('aipAppendEvents', { numberOfKeys: 3, lua: APPEND_EVENTS });
		this.client.defineCommand('aipReadEvents', { numberOfKeys: 2, lua: READ_EVENTS });
	}

	async claim(namespace: string, key: string, options: ClaimOptions): Promise<ClaimOutcome> {
		const id = this.id('c', namespace, key);
		checkDuration('lease', options.leaseMs);
		const now = this.now();
		const token = newToken();
		const fingerprint = options.fingerprint || '';
		const expiresAt = now + options.leaseMs;
		const r = await this.run('claim', (c) =>
			c.aipClaim(id, String(now), fingerprint, token, String(expiresAt), String(options.leaseMs)),
		);
		if (r[0] === 'claimed') {
			return {
				outcome: 'claimed',
				record: toRecord(key, {
					status: 'in_progress',
					fingerprint: fingerprint || null,
					token,
					value: null,
					createdAt: now,
					expiresAt,
				}),
			};
		}
		return {
			outcome: r[0] as Exclude<ClaimOutcome['outcome'], 'claimed'>,
			record: toRecord(key, {
				status: r[1] === 'completed' ? 'completed' : 'in_progress',
				fingerprint: r[2] || null,
				value: r[3],
				token: r[4],
				createdAt: Number(r[5]),
				expiresAt: Number(r[6]),
			}),
		};
	}

	async complete(
		namespace: string,
		key: string,
		options: { result: unknown; retentionMs: number; token?: string },
	): Promise<boolean> {
		const id = this.id('c', namespace, key);
		checkDuration('retention', options.retentionMs);
		const value = toJson(options.result) ?? '';
		const now = this.now();
		const done = await this.run('complete', (c) =>
			c.aipComplete(
				id,
				String(now),
				options.token || '',
				value,
				String(now + options.retentionMs),
				String(options.retentionMs),
				options.token || newToken(),
			),
		);
		return done === '1';
	}

	async release(
		namespace: string,
		key: string,
		options: { token?: string } = {},
	): Promise<boolean> {
		const id = this.id('c', namespace, key);
		const done = await this.run('release', (c) =>
			c.aipRelease(id, String(this.now()), options.token || ''),
		);
		return done === '1';
	}

	async read(namespace: string, key: string): Promise<ClaimRecord | undefined> {
		const id = this.id('c', namespace, key);
		const [s, f, v, t, created, e] = await this.run('read', (c) =>
			c.hmget(id, 's', 'f', 'v', 't', 'c', 'e'),
		);
		if (!s || !(Number(e) > this.now())) return undefined;
		return toRecord(key, {
			status: s === 'completed' ? 'completed' : 'in_progress',
			fingerprint: f || null,
			value: v,
			token: t ?? '',
			createdAt: Number(created),
			expiresAt: Number(e),
		});
	}

	async get<T = unknown>(namespace: string, key: string): Promise<T | undefined> {
		const id = this.id('v', namespace, key);
		const [v, e] = await this.run('get', (c) => c.hmget(id, 'v', 'e'));
		return e !== null && Number(e) > this.now() ? (fromJson(v) as T) : undefined;
	}

	async set(namespace: string, key: string, value: unknown, ttlMs: number): Promise<void> {
		const id = this.id('v', namespace, key);
		checkDuration('ttl', ttlMs);
		const json = toJson(value) ?? '';
		const expiresAt = String(this.now() + ttlMs);
		await this.run('set', async (c) => {
			const results = await c
				.multi()
				.del(id)
				.hset(id, 'v', json, 'e', expiresAt)
				.pexpire(id, ttlMs)
				.exec();
			const failed = results?.find(([error]) => error);
			if (failed) throw failed[0];
		});
	}

	async delete(namespace: string, key: string): Promise<void> {
		const id = this.id('v', namespace, key);
		await this.run('delete', (c) => c.del(id));
	}

	async increment(namespace: string, key: string, windowMs: number, by = 1): Promise<number> {
		const id = this.id('n', namespace, key);
		checkDuration('window', windowMs);
		const now = this.now();
		const count = await this.run('increment', (c) =>
			c.aipIncrement(id, String(now), String(by), String(now + windowMs), String(windowMs)),
		);
		return Number(count);
	}

	async getRecord<T = unknown>(
		namespace: string,
		key: string,
	): Promise<StoredRecord<T> | undefined> {
		const r = this.records(namespace);
		const member = r.member(key);
		const [v, n, d, tag, e] = await this.run('getRecord', (c) =>
			c.hmget(r.hash + member, 'v', 'n', 'd', 't', 'e'),
		);
		if (n === null || !(Number(e) > this.now())) return undefined;
		return storedRecord<T>([member, v ?? '', n, d ?? '', tag ?? '', e ?? '']);
	}

	async putRecord(
		namespace: string,
		key: string,
		record: RecordWrite,
		expectedVersion: number,
	): Promise<number> {
		const r = this.records(namespace);
		const member = r.member(key);
		const now = this.now();
		const next = newRecordRow(record, expectedVersion, now);
		const version = await this.run('putRecord', (c) =>
			c.aipPutRecord(
				r.hash + member,
				r.due,
				r.tags,
				String(now),
				String(expectedVersion),
				next.value ?? '',
				next.dueAt === null ? '' : String(next.dueAt),
				next.tag,
				String(next.expiresAt),
				String(next.expiresAt - now),
				member,
				r.tag,
			),
		);
		return Number(version);
	}

	async dueRecords<T = unknown>(namespace: string, limit: number): Promise<Array<StoredRecord<T>>> {
		const r = this.records(namespace);
		const max = checkLimit(limit);
		const flat = await this.run('dueRecords', (c) =>
			c.aipDueRecords(r.due, String(this.now()), String(max), r.hash),
		);
		const out: Array<StoredRecord<T>> = [];
		for (let i = 0; i < flat.length; i += 6) out.push(storedRecord<T>(flat.slice(i, i + 6)));
		return out;
	}

	async countRecords(namespace: string): Promise<Record<string, number>> {
		const r = this.records(namespace);
		const flat = await this.run('countRecords', (c) =>
			c.aipCountRecords(r.tags, String(this.now()), r.tag),
		);
		const counts: Array<[string, number]> = [];
		for (let i = 0; i < flat.length; i += 2) counts.push([flat[i], Number(flat[i + 1])]);
		return Object.fromEntries(counts);
	}

	async addCounters(namespace: string, adds: CounterAdd[], ttlMs: number): Promise<void> {
		// a script call's arguments are spread on the stack: a huge batch goes in slices
		if (adds.length > REDIS_SLICE) {
			for (let i = 0; i < adds.length; i += REDIS_SLICE)
				await this.addCounters(namespace, adds.slice(i, i + REDIS_SLICE), ttlMs);
			return;
		}
		const l = this.ledger(namespace);
		const now = this.now();
		const rows = counterBatch(adds, ttlMs, now);
		if (!rows.length) return;
		const args: string[] = [];
		let longest = 0;
		for (const { bucket, keyJson, keyId, expiresAt, fields } of rows) {
			const ttl = expiresAt - now;
			longest = Math.max(longest, ttl);
			args.push(`${bucket}:${keyId}`, String(bucket), String(expiresAt), String(ttl), keyJson);
			args.push(String(fields.length), ...fields.flatMap(([f, v]) => [f, String(v)]));
		}
		const prune = this.pruneDue(`c:${namespace}`, now);
		const pruned = await this.run('addCounters', (c) =>
			c.aipAddCounters(
				l.byBucket,
				l.rowsByEnd,
				String(now),
				prune,
				l.row,
				String(longest),
				...args,
			),
		);
		this.pruned(`c:${namespace}`, now, pruned);
	}

	async readCounters(namespace: string, from: number, to: number): Promise<CounterRow[]> {
		const l = this.ledger(namespace);
		const range = timeRange(from, to);
		if (!range) return [];
		const rows = await this.run('readCounters', (c) =>
			c.aipReadCounters(l.byBucket, String(range[0]), String(range[1]), l.row),
		);
		const now = this.now();
		const cells = [];
		for (const [name, ...pairs] of rows) {
			const hash = new Map<string, string>();
			for (let i = 0; i < pairs.length; i += 2) hash.set(pairs[i], pairs[i + 1]);
			const keyJson = hash.get('=k');
			if (keyJson === undefined || !(Number(hash.get('=e')) > now)) continue;
			const bucket = Number(name.slice(0, name.indexOf(':')));
			for (const [field, value] of hash)
				if (!field.startsWith('=')) cells.push({ bucket, keyJson, field, value: Number(value) });
		}
		return counterRows(cells);
	}

	async appendEvents(namespace: string, events: StoredEvent[], ttlMs: number): Promise<void> {
		if (events.length > REDIS_SLICE) {
			for (let i = 0; i < events.length; i += REDIS_SLICE)
				await this.appendEvents(namespace, events.slice(i, i + REDIS_SLICE), ttlMs);
			return;
		}
		const l = this.ledger(namespace);
		const now = this.now();
		const rows = eventBatch(events, ttlMs, now);
		if (!rows.length) return;
		const args: string[] = [];
		let longest = 0;
		for (const { at, value, expiresAt } of rows) {
			longest = Math.max(longest, expiresAt - now);
			// Unique, so equal events are both kept; led by the end, which reads check.
			const id = `${expiresAt}:${randomBytes(12).toString('base64url')}`;
			args.push(String(at), String(expiresAt), id, value ?? '');
		}
		const prune = this.pruneDue(`e:${namespace}`, now);
		const pruned = await this.run('appendEvents', (c) =>
			c.aipAppendEvents(
				l.eventsByTime,
				l.eventsByEnd,
				l.events,
				String(now),
				prune,
				String(longest),
				...args,
			),
		);
		this.pruned(`e:${namespace}`, now, pruned);
	}

	async readEvents<T = unknown>(
		namespace: string,
		from: number,
		to: number,
		limit: number,
	): Promise<Array<StoredEvent<T>>> {
		const l = this.ledger(namespace);
		const range = timeRange(from, to);
		const max = checkEventLimit(limit);
		if (!range) return [];
		const flat = await this.run('readEvents', (c) =>
			c.aipReadEvents(
				l.eventsByTime,
				l.events,
				String(range[0]),
				String(range[1]),
				String(this.now()),
				String(max),
			),
		);
		const out: Array<StoredEvent<T>> = [];
		for (let i = 0; i < flat.length; i += 2) out.push(toEvent<T>(Number(flat[i]), flat[i + 1]));
		return out;
	}

	async close(): Promise<void> {
		if (this.client.status === 'end') return;
		if (this.client.status === 'ready') {
			await this.client.quit().catch(() => this.client.disconnect());
		} else {
			this.client.disconnect(); // not connected: just stop reconnecting
		}
	}

	private id(kind: 'c' | 'v' | 'n', namespace: string, key: string): string {
		checkName('namespace', namespace);
		checkName('key', key);
		return `${this.prefix}:${kind}:${encodeURIComponent(namespace)}:${encodeURIComponent(key)}`;
	}

	/** The keys of a namespace's records; the braces make them one cluster slot. */
	private records(namespace: string) {
		checkName('namespace', namespace);
		const base = `${this.prefix}:r:{${encodeURIComponent(namespace)}}:`;
		return {
			hash: `${base}k:`,
			due: `${base}due`,
			tags: `${base}tags`,
			tag: `${base}t:`,
			member: (key: string) => {
				checkName('key', key);
				return encodeURIComponent(key);
			},
		};
	}

	/** The keys of a namespace's ledger; the braces make them one cluster slot. */
	private ledger(namespace: string) {
		checkName('namespace', namespace);
		const base = `${this.prefix}:l:{${encodeURIComponent(namespace)}}:`;
		return {
			row: `${base}c:`,
			byBucket: `${base}cb`,
			rowsByEnd: `${base}ce`,
			events: `${base}ed`,
			eventsByTime: `${base}ea`,
			eventsByEnd: `${base}ee`,
		};
	}

	/** '1' when this write should also prune the namespace's ended members: at most once a minute per process. */
	private pruneDue(id: string, now: number): string {
		if (now < (this.nextPrune.get(id) ?? 0)) return '0';
		this.nextPrune.set(id, now + PURGE_INTERVAL_MS);
		return '1';
	}

	/** A full batch pruned: there may be more, so the next write prunes again. */
	private pruned(id: string, now: number, count: string): void {
		if (Number(count) >= PURGE_BATCH) this.nextPrune.set(id, now);
	}

	private async run<T>(op: string, fn: (client: Redis) => Promise<T>): Promise<T> {
		try {
			// Known to be down (between reconnect attempts): fail now rather than wait in the queue.
			if (this.client.status === 'reconnecting' || this.client.status === 'close')
				throw new Error('not connected');
			return await fn(this.client);
		} catch (error) {
			let message = (error as Error).message;
			if (this.lastError && !message.includes(this.lastError))
				message += ` (last connection error: ${this.lastError})`;
			throw new StoreError(this.label, `${op} failed: ${redact(message, [this.password])}`);
		}
	}
}

/** [member, v, n, d, t, e] as the scripts and HMGET return them. */
function storedRecord<T>([member, v, n, d, tag, e]: string[]): StoredRecord<T> {
	return toStoredRecord<T>(decodeURIComponent(member), {
		value: v,
		version: Number(n),
		dueAt: d === '' ? null : Number(d),
		tag,
		expiresAt: Number(e),
	});
}
