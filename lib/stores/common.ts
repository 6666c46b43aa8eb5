/** What the backends share: errors, tokens, JSON encoding and the claim decision. */
import { createHash, randomUUID } from 'node:crypto';

import type {
	ClaimOutcome,
	ClaimRecord,
	CounterAdd,
	CounterRow,
	RecordWrite,
	StoredEvent,
	StoredRecord,
} from './types';

/**
 * The backend failed or could not be reached. The message starts with the store's label and never
 * holds a secret; the node tells this (fail closed / fail open) from mistakes in its settings.
 */
export class StoreError extends Error {
	constructor(
		readonly store: string,
		message: string,
	) {
		super(`${store}: ${message}`);
		this.name = 'StoreError';
	}
}

export interface StoreClock {
	/** Epoch milliseconds; Date.now by default, injected by tests. */
	now?: () => number;
}

export const newToken = (): string => randomUUID();

/** Every backend keeps values as JSON text, so all of them return equal copies of what was stored. */
export function toJson(value: unknown): string | null {
	if (value === undefined) return null;
	let text: string | undefined;
	try {
		text = JSON.stringify(value);
	} catch (error) {
		throw new Error(`the value cannot be stored as JSON: ${(error as Error).message}`);
	}
	return text ?? null;
}

export const fromJson = (text: string | null | undefined): unknown =>
	text === null || text === undefined || text === '' ? undefined : JSON.parse(text);

export function checkDuration(name: string, ms: number): void {
	if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)
		throw new Error(`${name} must be a positive number of milliseconds, got ${String(ms)}`);
}

export function checkName(name: string, value: string): void {
	if (typeof value !== 'string' || value === '') throw new Error(`${name} must be non-empty text`);
}

/** Hides secrets that a driver might echo in a message (none known to, but the label promise is absolute). */
export function redact(message: string, secrets: Array<string | undefined>): string {
	let out = message;
	for (const secret of secrets) if (secret) out = out.split(secret).join('***');
	return out;
}

/** A driver error as one line; AggregateError (every address of a host refused) has no message of its own. */
export function describeError(error: unknown): string {
	if (error instanceof AggregateError && error.errors.length)
		return error.errors.map(describeError).join('; ');
	if (error instanceof Error)
		return error.message || (error as { code?: string }).code || error.name;
	return String(error);
}

/** A stored claim as the backends hold it. */
export interface ClaimRow {
	status: 'in_progress' | 'completed';
	fingerprint: string | null;
	token: string;
	value: string | null;
	createdAt: number;
	expiresAt: number;
}

export function toRecord(key: string, row: ClaimRow): ClaimRecord {
	const record: ClaimRecord = {
		key,
		status: row.status,
		token: row.token,
		createdAt: row.createdAt,
		expiresAt: row.expiresAt,
	};
	if (row.fingerprint) record.fingerprint = row.fingerprint;
	if (row.status === 'completed') record.result = fromJson(row.value);
	return record;
}

/**
 * The claim rule, for backends that decide in code inside their own lock (memory, SQLite).
 * Redis and Postgres state the same rule in Lua and SQL.
 */
export function decideClaim(
	row: ClaimRow | undefined,
	now: number,
	fingerprint: string | undefined,
): ClaimOutcome['outcome'] {
	if (!row || row.expiresAt <= now) return 'claimed';
	if (fingerprint && row.fingerprint && row.fingerprint !== fingerprint) return 'conflict';
	return row.status === 'completed' ? 'completed' : 'in_progress';
}

/** The in-progress row a successful claim writes: a new token, first seen now, held for the lease. */
export function newClaimRow(
	now: number,
	options: { fingerprint?: string; leaseMs: number },
): ClaimRow {
	return {
		status: 'in_progress',
		fingerprint: options.fingerprint || null,
		token: newToken(),
		value: null,
		createdAt: now,
		expiresAt: now + options.leaseMs,
	};
}

/**
 * The complete rule, for memory and SQLite (Redis and Postgres state it in Lua and SQL): the row to
 * write, keeping the claim's token and first-seen time, or undefined when another claim holds the key.
 */
export function decideComplete(
	row: ClaimRow | undefined,
	now: number,
	options: { token?: string; retentionMs: number },
	value: string | null,
): ClaimRow | undefined {
	if (row && options.token && row.token !== options.token) return undefined;
	return {
		status: 'completed',
		fingerprint: row?.fingerprint ?? null,
		token: row?.token ?? options.token ?? newToken(),
		value,
		createdAt: row?.createdAt ?? now,
		expiresAt: now + options.retentionMs,
	};
}

/** Background purges of expired rows run at most this often (and again at once while they find a full batch). */
export const PURGE_INTERVAL_MS = 60_000;
export const PURGE_BATCH = 1000;

/** dueRecords returns at most this many, whatever it is asked for: one sweep, one bounded reply. */
export const MAX_DUE_RECORDS = 1000;

export function checkLimit(limit: number): number {
	if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0)
		throw new Error(`limit must be a positive whole number, got ${String(limit)}`);
	return Math.min(limit, MAX_DUE_RECORDS);
}

/** A versioned record as the backends hold it: the value as JSON text. */
export interface RecordRow {
	value: string | null;
	version: number;
	dueAt: number | null;
	tag: string;
	expiresAt: number;
}

/**
 * Checks a putRecord call before any I/O (mistakes are plain errors, not store errors) and returns
 * the row it writes when it wins, at version expectedVersion + 1 and kept ttlMs from now. Times are
 * whole milliseconds (rounded up: never due or gone earlier than asked), as the SQL columns hold them.
 */
export function newRecordRow(record: RecordWrite, expectedVersion: number, now: number): RecordRow {
	if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0)
		throw new Error(
			`expectedVersion must be 0 (absent) or a record's version, got ${String(expectedVersion)}`,
		);
	checkName('tag', record.tag);
	checkDuration('ttl', record.ttlMs);
	const { dueAt } = record;
	if (dueAt !== null && (typeof dueAt !== 'number' || !Number.isFinite(dueAt)))
		throw new Error(`dueAt must be epoch milliseconds or null, got ${String(dueAt)}`);
	return {
		value: toJson(record.value),
		version: expectedVersion + 1,
		dueAt: dueAt === null ? null : Math.ceil(dueAt),
		tag: record.tag,
		expiresAt: now + Math.ceil(record.ttlMs),
	};
}

/** The version a compare-and-set compares with: an expired record counts as absent (0). */
export const liveVersion = (row: RecordRow | undefined, now: number): number =>
	row && row.expiresAt > now ? row.version : 0;

export const toStoredRecord = <T>(key: string, row: RecordRow): StoredRecord<T> => ({
	key,
	value: fromJson(row.value) as T,
	version: row.version,
	dueAt: row.dueAt,
	tag: row.tag,
	expiresAt: row.expiresAt,
});

/**
 * A counter row as addCounters writes it: the batch's adds to one bucket and key, summed per field.
 * The key is kept as JSON text (`keyJson`), which any JS string survives exactly in every backend
 * (lone surrogates and NUL come back escaped), and named by a hash of that (`keyId`) where a
 * backend indexes it, so a key of any length makes a short index entry.
 */
export interface CounterBatchRow {
	bucket: number;
	keyJson: string;
	keyId: string;
	/** bucket + ttl: the row reads as absent from then on. */
	expiresAt: number;
	fields: Array<[field: string, value: number]>;
}

/** Field names are the package's own short names; reserving the rest keeps backends free to add their own. */
const FIELD_NAME = /^[a-z0-9_:]{1,64}$/;

export const counterKeyId = (keyJson: string): string =>
	createHash('sha256').update(keyJson).digest('base64url');

function checkTime(name: string, value: number): void {
	if (!Number.isSafeInteger(value))
		throw new Error(`${name} must be whole epoch milliseconds, got ${String(value)}`);
}

/**
 * Checks an addCounters batch before any I/O (mistakes are plain errors, not store errors) and
 * returns its rows: values rounded, repeats of a bucket, key and field within the batch summed (a
 * Postgres upsert may touch a row once per statement), rows whose bucket has already ended dropped,
 * and sorted by bucket, key id and field so concurrent batches lock rows in one order (no deadlocks).
 */
export function counterBatch(adds: CounterAdd[], ttlMs: number, now: number): CounterBatchRow[] {
	if (!Array.isArray(adds)) throw new Error('adds must be a list');
	checkDuration('ttl', ttlMs);
	const ttl = Math.ceil(ttlMs);
	const rows = new Map<string, CounterBatchRow & { sums: Map<string, number> }>();
	for (const add of adds) {
		checkTime('bucket', add?.bucket);
		if (typeof add.key !== 'string') throw new Error('a counter key must be text');
		if (add.fields === null || typeof add.fields !== 'object')
			throw new Error('counter fields must be an object of numbers');
		const keyJson = JSON.stringify(add.key);
		const id = `${add.bucket}:${keyJson}`;
		let row = rows.get(id);
		for (const [field, raw] of Object.entries(add.fields)) {
			if (!FIELD_NAME.test(field))
				throw new Error(`counter field "${field}" must be 1-64 of a-z, 0-9, _ and :`);
			if (typeof raw !== 'number' || !Number.isFinite(raw))
				throw new Error(`counter field "${field}" must be a finite number, got ${String(raw)}`);
			if (!row) {
				const { bucket } = add;
				const expiresAt = endOf(bucket, ttl);
				row = { bucket, keyJson, keyId: '', expiresAt, fields: [], sums: new Map() };
				rows.set(id, row);
			}
			const sum = (row.sums.get(field) ?? 0) + Math.round(raw);
			if (!Number.isSafeInteger(sum))
				throw new Error(`counter field "${field}" is too large to add exactly`);
			row.sums.set(field, sum);
		}
	}
	const out: CounterBatchRow[] = [];
	for (const { sums, ...row } of rows.values()) {
		if (row.expiresAt <= now) continue;
		row.keyId = counterKeyId(row.keyJson);
		row.fields = [...sums].sort(([a], [b]) => compare(a, b));
		out.push(row);
	}
	return out.sort((a, b) => a.bucket - b.bucket || compare(a.keyId, b.keyId));
}

/** Kept this long after `start`; an end past the exact integers is as good as never. */
const endOf = (start: number, ttl: number): number =>
	Math.min(start + ttl, Number.MAX_SAFE_INTEGER);

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Sums stored counter cells into rows per bucket and key (a backend that keeps one row per field
 * returns each once; summing also covers one that does not). Field objects are built from entries,
 * so a field named like an Object.prototype member is an own property.
 */
export function counterRows(
	cells: Iterable<{ bucket: number; keyJson: string; field: string; value: number }>,
): CounterRow[] {
	const rows = new Map<string, { bucket: number; keyJson: string; sums: Map<string, number> }>();
	for (const { bucket, keyJson, field, value } of cells) {
		const id = `${bucket}:${keyJson}`;
		let row = rows.get(id);
		if (!row) rows.set(id, (row = { bucket, keyJson, sums: new Map() }));
		row.sums.set(field, (row.sums.get(field) ?? 0) + value);
	}
	return [...rows.values()].map(({ bucket, keyJson, sums }) => ({
		bucket,
		key: JSON.parse(keyJson) as string,
		fields: Object.fromEntries(sums),
	}));
}

/**
 * A read range [from, to) as whole milliseconds: buckets and times are integers, so rounding both
 * ends up keeps exactly the same ones; infinities stand for "no bound". Undefined: nothing is in it.
 */
export function timeRange(from: number, to: number): [number, number] | undefined {
	for (const [name, value] of [
		['from', from],
		['to', to],
	] as const)
		if (typeof value !== 'number' || Number.isNaN(value))
			throw new Error(`${name} must be epoch milliseconds, got ${String(value)}`);
	const clamp = (n: number) =>
		Math.min(Math.max(Math.ceil(n), -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
	const range: [number, number] = [clamp(from), clamp(to)];
	return range[0] < range[1] ? range : undefined;
}

/** An event as the backends hold it: the value as JSON text. */
export interface EventRow {
	at: number;
	value: string | null;
	expiresAt: number;
}

/** Checks an appendEvents batch before any I/O and returns its rows, in order, without those already ended. */
export function eventBatch(events: StoredEvent[], ttlMs: number, now: number): EventRow[] {
	if (!Array.isArray(events)) throw new Error('events must be a list');
	checkDuration('ttl', ttlMs);
	const ttl = Math.ceil(ttlMs);
	const rows = events.map((event): EventRow => {
		checkTime('at', event?.at);
		return { at: event.at, value: toJson(event.value), expiresAt: endOf(event.at, ttl) };
	});
	return rows.filter((row) => row.expiresAt > now);
}

/** readEvents returns at most this many, whatever it is asked for: one bounded reply (page by `at`). */
export const MAX_EVENTS = 10_000;

export function checkEventLimit(limit: number): number {
	if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0)
		throw new Error(`limit must be a positive whole number, got ${String(limit)}`);
	return Math.min(limit, MAX_EVENTS);
}

export const toEvent = <T>(at: number, value: string | null): StoredEvent<T> => ({
	at,
	value: fromJson(value) as T,
});
