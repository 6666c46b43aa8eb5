/** What the backends share: errors, tokens, JSON encoding and the claim decision. */
import { randomUUID } from 'node:crypto';

import type { ClaimOutcome, ClaimRecord, RecordWrite, StoredRecord } from './types';

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
