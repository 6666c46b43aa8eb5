/**
 * Postgres store (pg pool). One table, created on first use. Each operation is a single
 * statement (INSERT … ON CONFLICT … RETURNING): the conflicting row is locked and re-read by
 * Postgres, so concurrent claims on one key from any number of workers serialise and exactly one
 * wins. Expired rows are ignored by every query and purged in small batches once a minute.
 * Versioned records have a table of their own, `<table>_records`, with an index for the due sweep.
 * The usage ledger has two: `<table>_counters`, one row per bucket, key and field, which each batch
 * upserts in one statement (value = value + excluded.value), and `<table>_events`.
 */
import { createHash } from 'node:crypto';
import { Pool, type PoolConfig } from 'pg';

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
	decideClaim,
	describeError,
	fromJson,
	newRecordRow,
	newToken,
	redact,
	toJson,
	toRecord,
	toStoredRecord,
	type ClaimRow,
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

export const DEFAULT_POSTGRES_TABLE = 'n8n_ai_patterns_state';

export interface PostgresStoreOptions extends StoreClock {
	host: string;
	port: number;
	database: string;
	user: string;
	password?: string;
	/** false, true (verified TLS) or { rejectUnauthorized: false } (self-signed). */
	ssl?: boolean | { rejectUnauthorized: boolean };
	/** Pool size; default 10. */
	maxConnections?: number;
	/** Lower-case identifier; default n8n_ai_patterns_state. */
	table?: string;
	connectTimeoutMs?: number;
}

interface Row {
	status: string | null;
	fingerprint: string | null;
	token: string | null;
	value: string | null;
	created_at: string;
	expires_at: string;
}

interface StoredRow {
	key: string;
	value: string | null;
	version: string;
	due_at: string | null;
	tag: string;
	expires_at: string;
}

const RECORD_COLUMNS = 'key, value, version, due_at, tag, expires_at';

/**
 * A name for the records table and its indexes, `<base>_records` etc., within Postgres's 63
 * characters: a long table name is cut and given a hash of itself, so two tables never share one.
 */
function recordsBase(table: string): string {
	if (table.length <= 52) return table;
	return `${table.slice(0, 43)}_${createHash('sha256').update(table).digest('hex').slice(0, 8)}`;
}

const CLAIM_COLUMNS = 'status, fingerprint, token, value, created_at, expires_at';
/** Column `c` becomes `fresh` when the stored row has expired ($5 is now), else keeps its value. */
const ifExpired = (c: string, fresh: string) =>
	`${c} = CASE WHEN s.expires_at <= $5 THEN ${fresh} ELSE s.${c} END`;

export class PostgresStore implements StateStore {
	readonly kind = 'postgres';
	readonly label: string;
	readonly table: string;
	/** Where the versioned records are: `<table>_records`. */
	readonly recordsTable: string;
	/** The usage ledger's tables: `<table>_counters` and `<table>_events`. */
	readonly countersTable: string;
	readonly eventsTable: string;
	private readonly pool: Pool;
	private readonly now: () => number;
	private readonly password?: string;
	private ready?: Promise<void>;
	private nextPurge = 0;
	private readonly sql: Record<
		| 'claim'
		| 'complete'
		| 'release'
		| 'read'
		| 'get'
		| 'set'
		| 'delete'
		| 'increment'
		| 'purge'
		| 'getRecord'
		| 'createRecord'
		| 'updateRecord'
		| 'dueRecords'
		| 'countRecords'
		| 'purgeRecords'
		| 'addCounters'
		| 'readCounters'
		| 'purgeCounters'
		| 'appendEvents'
		| 'readEvents'
		| 'purgeEvents',
		string
	>;

	constructor(options: PostgresStoreOptions) {
		this.table = options.table ?? DEFAULT_POSTGRES_TABLE;
		if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.table))
			throw new Error(
				`table name "${this.table}" is not allowed: use lower-case letters, digits and _`,
			);
		this.recordsTable = `${recordsBase(this.table)}_records`;
		this.countersTable = `${recordsBase(this.table)}_counters`;
		this.eventsTable = `${recordsBase(this.table)}_events`;
		this.label = `Postgres at ${options.host}:${options.port}/${options.database}`;
		this.now = options.now ?? Date.now;
		this.password = options.password;
		const config: PoolConfig = {
			host: options.host,
			port: options.port,
			database: options.database,
			user: options.user,
			password: options.password,
			ssl: options.ssl,
			max: options.maxConnections ?? 10,
			connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
			idleTimeoutMillis: 30_000,
			allowExitOnIdle: true,
			application_name: 'n8n-nodes-ai-patterns',
		};
		this.pool = new Pool(config);
		// An idle connection that breaks emits here; unhandled it would crash n8n. The next query reconnects.
		this.pool.on('error', () => undefined);

		const t = `"${this.table}"`;
		const r = `"${this.recordsTable}"`;
		const c = `"${this.countersTable}"`;
		const e = `"${this.eventsTable}"`;
		const key = 'kind = $1 AND namespace = $2 AND key = $3';
		this.sql = {
			claim: `INSERT INTO ${t} AS s (kind, namespace, key, ${CLAIM_COLUMNS})
				VALUES ('c', $1, $2, 'in_progress', $3, $4, NULL, $5, $6)
				ON CONFLICT (kind, namespace, key) DO UPDATE SET
				${ifExpired('status', "'in_progress'")}, ${ifExpired('fingerprint', 'EXCLUDED.fingerprint')},
				${ifExpired('token', 'EXCLUDED.token')}, ${ifExpired('value', 'NULL')},
				${ifExpired('created_at', 'EXCLUDED.created_at')}, ${ifExpired('expires_at', 'EXCLUDED.expires_at')}
				RETURNING ${CLAIM_COLUMNS}`,
			complete: `INSERT INTO ${t} AS s (kind, namespace, key, ${CLAIM_COLUMNS})
				VALUES ('c', $1, $2, 'completed', NULL, $3, $4, $5, $6)
				ON CONFLICT (kind, namespace, key) DO UPDATE SET
				status = 'completed', value = EXCLUDED.value, expires_at = EXCLUDED.expires_at,
				${ifExpired('fingerprint', 'NULL')}, ${ifExpired('token', 'EXCLUDED.token')},
				${ifExpired('created_at', 'EXCLUDED.created_at')}
				WHERE s.expires_at <= $5 OR $7::text IS NULL OR s.token = $7
				RETURNING 1`,
			release: `DELETE FROM ${t} WHERE ${key} AND ($4::text IS NULL OR token = $4) RETURNING expires_at`,
			read: `SELECT ${CLAIM_COLUMNS} FROM ${t} WHERE ${key} AND expires_at > $4`,
			get: `SELECT value FROM ${t} WHERE ${key} AND expires_at > $4`,
			set: `INSERT INTO ${t} (kind, namespace, key, value, created_at, expires_at)
				VALUES ('v', $1, $2, $3, $4, $5)
				ON CONFLICT (kind, namespace, key) DO UPDATE SET
				value = EXCLUDED.value, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
			delete: `DELETE FROM ${t} WHERE ${key}`,
			increment: `INSERT INTO ${t} AS s (kind, namespace, key, count, created_at, expires_at)
				VALUES ('n', $1, $2, $3, $5, $4)
				ON CONFLICT (kind, namespace, key) DO UPDATE SET
				count = CASE WHEN s.expires_at <= $5 THEN EXCLUDED.count ELSE s.count + EXCLUDED.count END,
				${ifExpired('created_at', 'EXCLUDED.created_at')}, ${ifExpired('expires_at', 'EXCLUDED.expires_at')}
				RETURNING count`,
			purge: `DELETE FROM ${t} WHERE ctid IN
				(SELECT ctid FROM ${t} WHERE expires_at <= $1 LIMIT ${PURGE_BATCH})`,
			getRecord: `SELECT ${RECORD_COLUMNS} FROM ${r} WHERE namespace = $1 AND key = $2 AND expires_at > $3`,
			// Version 0: a new row, or one over an expired row. The conflicting row is locked and
			// re-checked, so of concurrent creates exactly one returns a row.
			createRecord: `INSERT INTO ${r} AS s (namespace, ${RECORD_COLUMNS})
				VALUES ($1, $2, $3, 1, $4, $5, $6)
				ON CONFLICT (namespace, key) DO UPDATE SET
				value = EXCLUDED.value, version = 1, due_at = EXCLUDED.due_at, tag = EXCLUDED.tag,
				expires_at = EXCLUDED.expires_at
				WHERE s.expires_at <= $7
				RETURNING version`,
			// A concurrent update waits for the first and re-reads the row: its version no longer matches.
			updateRecord: `UPDATE ${r} SET value = $3, version = version + 1, due_at = $4, tag = $5, expires_at = $6
				WHERE namespace = $1 AND key = $2 AND version = $8 AND expires_at > $7
				RETURNING version`,
			dueRecords: `SELECT ${RECORD_COLUMNS} FROM ${r}
				WHERE namespace = $1 AND due_at <= $2 AND expires_at > $2
				ORDER BY due_at, key LIMIT $3`,
			countRecords: `SELECT tag, count(*)::int AS n FROM ${r}
				WHERE namespace = $1 AND expires_at > $2 GROUP BY tag`,
			purgeRecords: `DELETE FROM ${r} WHERE ctid IN
				(SELECT ctid FROM ${r} WHERE expires_at <= $1 LIMIT ${PURGE_BATCH})`,
			// The whole batch in one statement. Sorted, so concurrent batches lock their rows in one
			// order and never deadlock; a row that ended by now ($8) starts again.
			addCounters: `INSERT INTO ${c} AS t (namespace, bucket, key_id, key, field, value, expires_at)
				SELECT $1, b, h, k, f, v, x
				FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) AS u(b, h, k, f, v, x)
				ORDER BY b, h, f
				ON CONFLICT (namespace, bucket, key_id, field) DO UPDATE SET
				value = CASE WHEN t.expires_at <= $8 THEN EXCLUDED.value ELSE t.value + EXCLUDED.value END,
				expires_at = CASE WHEN t.expires_at <= $8 THEN EXCLUDED.expires_at
				ELSE GREATEST(t.expires_at, EXCLUDED.expires_at) END`,
			readCounters: `SELECT bucket, key, field, value FROM ${c}
				WHERE namespace = $1 AND bucket >= $2 AND bucket < $3 AND expires_at > $4`,
			purgeCounters: `DELETE FROM ${c} WHERE ctid IN
				(SELECT ctid FROM ${c} WHERE expires_at <= $1 LIMIT ${PURGE_BATCH})`,
			// In the batch's order, so ids (the order among equal times) follow it.
			appendEvents: `INSERT INTO ${e} (namespace, at, value, expires_at)
				SELECT $1, a, v, x FROM unnest($2::bigint[], $3::text[], $4::bigint[])
				WITH ORDINALITY AS u(a, v, x, n) ORDER BY n`,
			readEvents: `SELECT at, value FROM ${e}
				WHERE namespace = $1 AND at >= $2 AND at < $3 AND expires_at > $4
				ORDER BY at, id LIMIT $5`,
			purgeEvents: `DELETE FROM ${e} WHERE ctid IN
				(SELECT ctid FROM ${e} WHERE expires_at <= $1 LIMIT ${PURGE_BATCH})`,
		};
	}

	async claim(namespace: string, key: string, options: ClaimOptions): Promise<ClaimOutcome> {
		check(namespace, key);
		checkDuration('lease', options.leaseMs);
		const now = this.now();
		const token = newToken();
		const [row] = await this.query<Row>('claim', this.sql.claim, [
			namespace,
			key,
			options.fingerprint || null,
			token,
			now,
			now + options.leaseMs,
		]);
		const stored = claimRow(row);
		const outcome =
			stored.token === token ? 'claimed' : decideClaim(stored, now, options.fingerprint);
		return { outcome, record: toRecord(key, stored) };
	}

	async complete(
		namespace: string,
		key: string,
		options: { result: unknown; retentionMs: number; token?: string },
	): Promise<boolean> {
		check(namespace, key);
		checkDuration('retention', options.retentionMs);
		const value = toJson(options.result);
		const now = this.now();
		const rows = await this.query('complete', this.sql.complete, [
			namespace,
			key,
			options.token || newToken(),
			value,
			now,
			now + options.retentionMs,
			options.token || null,
		]);
		return rows.length === 1;
	}

	async release(
		namespace: string,
		key: string,
		options: { token?: string } = {},
	): Promise<boolean> {
		check(namespace, key);
		const now = this.now();
		const rows = await this.query<{ expires_at: string }>('release', this.sql.release, [
			'c',
			namespace,
			key,
			options.token || null,
		]);
		return rows.length === 1 && Number(rows[0].expires_at) > now;
	}

	async read(namespace: string, key: string): Promise<ClaimRecord | undefined> {
		check(namespace, key);
		const [row] = await this.query<Row>('read', this.sql.read, ['c', namespace, key, this.now()]);
		return row && toRecord(key, claimRow(row));
	}

	async get<T = unknown>(namespace: string, key: string): Promise<T | undefined> {
		check(namespace, key);
		const [row] = await this.query<{ value: string | null }>('get', this.sql.get, [
			'v',
			namespace,
			key,
			this.now(),
		]);
		return row && (fromJson(row.value) as T);
	}

	async set(namespace: string, key: string, value: unknown, ttlMs: number): Promise<void> {
		check(namespace, key);
		checkDuration('ttl', ttlMs);
		const json = toJson(value);
		const now = this.now();
		await this.query('set', this.sql.set, [namespace, key, json, now, now + ttlMs]);
	}

	async delete(namespace: string, key: string): Promise<void> {
		check(namespace, key);
		await this.query('delete', this.sql.delete, ['v', namespace, key]);
	}

	async increment(namespace: string, key: string, windowMs: number, by = 1): Promise<number> {
		check(namespace, key);
		checkDuration('window', windowMs);
		const now = this.now();
		const [row] = await this.query<{ count: number }>('increment', this.sql.increment, [
			namespace,
			key,
			by,
			now + windowMs,
			now,
		]);
		return Number(row.count);
	}

	async getRecord<T = unknown>(
		namespace: string,
		key: string,
	): Promise<StoredRecord<T> | undefined> {
		check(namespace, key);
		const [row] = await this.query<StoredRow>('getRecord', this.sql.getRecord, [
			namespace,
			key,
			this.now(),
		]);
		return row && storedRecord<T>(row);
	}

	async putRecord(
		namespace: string,
		key: string,
		record: RecordWrite,
		expectedVersion: number,
	): Promise<number> {
		check(namespace, key);
		const now = this.now();
		const next = newRecordRow(record, expectedVersion, now);
		const values = [namespace, key, next.value, next.dueAt, next.tag, next.expiresAt, now];
		const rows =
			expectedVersion === 0
				? await this.query<{ version: string }>('putRecord', this.sql.createRecord, values)
				: await this.query<{ version: string }>('putRecord', this.sql.updateRecord, [
						...values,
						expectedVersion,
					]);
		return rows.length ? Number(rows[0].version) : 0;
	}

	async dueRecords<T = unknown>(namespace: string, limit: number): Promise<Array<StoredRecord<T>>> {
		checkName('namespace', namespace);
		const max = checkLimit(limit);
		const rows = await this.query<StoredRow>('dueRecords', this.sql.dueRecords, [
			namespace,
			this.now(),
			max,
		]);
		return rows.map((row) => storedRecord<T>(row));
	}

	async countRecords(namespace: string): Promise<Record<string, number>> {
		checkName('namespace', namespace);
		const rows = await this.query<{ tag: string; n: number }>(
			'countRecords',
			this.sql.countRecords,
			[namespace, this.now()],
		);
		return Object.fromEntries(rows.map(({ tag, n }) => [tag, Number(n)]));
	}

	async addCounters(namespace: string, adds: CounterAdd[], ttlMs: number): Promise<void> {
		checkName('namespace', namespace);
		const now = this.now();
		const rows = counterBatch(adds, ttlMs, now);
		if (!rows.length) return;
		const columns: [number[], string[], string[], string[], number[], number[]] = [
			[],
			[],
			[],
			[],
			[],
			[],
		];
		const [buckets, ids, keys, names, values, ends] = columns;
		for (const { bucket, keyJson, keyId, expiresAt, fields } of rows)
			for (const [field, value] of fields) {
				buckets.push(bucket);
				ids.push(keyId);
				keys.push(keyJson);
				names.push(field);
				values.push(value);
				ends.push(expiresAt);
			}
		await this.query('addCounters', this.sql.addCounters, [namespace, ...columns, now]);
	}

	async readCounters(namespace: string, from: number, to: number): Promise<CounterRow[]> {
		checkName('namespace', namespace);
		const range = timeRange(from, to);
		if (!range) return [];
		const cells = await this.query<{ bucket: string; key: string; field: string; value: string }>(
			'readCounters',
			this.sql.readCounters,
			[namespace, ...range, this.now()],
		);
		return counterRows(
			cells.map(({ bucket, key, field, value }) => ({
				bucket: Number(bucket),
				keyJson: key,
				field,
				value: Number(value),
			})),
		);
	}

	async appendEvents(namespace: string, events: StoredEvent[], ttlMs: number): Promise<void> {
		checkName('namespace', namespace);
		const rows = eventBatch(events, ttlMs, this.now());
		if (!rows.length) return;
		await this.query('appendEvents', this.sql.appendEvents, [
			namespace,
			rows.map((row) => row.at),
			rows.map((row) => row.value),
			rows.map((row) => row.expiresAt),
		]);
	}

	async readEvents<T = unknown>(
		namespace: string,
		from: number,
		to: number,
		limit: number,
	): Promise<Array<StoredEvent<T>>> {
		checkName('namespace', namespace);
		const range = timeRange(from, to);
		const max = checkEventLimit(limit);
		if (!range) return [];
		const rows = await this.query<{ at: string; value: string | null }>(
			'readEvents',
			this.sql.readEvents,
			[namespace, ...range, this.now(), max],
		);
		return rows.map((row) => toEvent<T>(Number(row.at), row.value));
	}

	async close(): Promise<void> {
		if (!this.pool.ended) await this.pool.end();
	}

	/** Creates the table once per pool; several workers starting together wait on one advisory lock. */
	private ensureTable(): Promise<void> {
		this.ready ??= (async () => {
			const client = await this.pool.connect();
			try {
				await client.query('BEGIN');
				await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
					`n8n-nodes-ai-patterns:${this.table}`,
				]);
				await client.query(`CREATE TABLE IF NOT EXISTS "${this.table}" (
					kind char(1) NOT NULL,
					namespace text NOT NULL,
					key text NOT NULL,
					status text,
					fingerprint text,
					token text,
					value text,
					count double precision,
					created_at bigint NOT NULL,
					expires_at bigint NOT NULL,
					PRIMARY KEY (kind, namespace, key))`);
				await client.query(
					`CREATE INDEX IF NOT EXISTS "${this.table}_expires_at" ON "${this.table}" (expires_at)`,
				);
				const base = recordsBase(this.table);
				await client.query(`CREATE TABLE IF NOT EXISTS "${this.recordsTable}" (
					namespace text NOT NULL,
					key text NOT NULL,
					value text,
					version bigint NOT NULL,
					due_at bigint,
					tag text NOT NULL,
					expires_at bigint NOT NULL,
					PRIMARY KEY (namespace, key))`);
				await client.query(
					`CREATE INDEX IF NOT EXISTS "${base}_records_due" ON "${this.recordsTable}" (namespace, due_at) WHERE due_at IS NOT NULL`,
				);
				await client.query(
					`CREATE INDEX IF NOT EXISTS "${base}_records_expires" ON "${this.recordsTable}" (expires_at)`,
				);
				// key_id: a hash of the key, so a key of any length makes a short index entry. The
				// primary key, led by (namespace, bucket), serves range reads. Index names stay within 63.
				await client.query(`CREATE TABLE IF NOT EXISTS "${this.countersTable}" (
					namespace text NOT NULL,
					bucket bigint NOT NULL,
					key_id text NOT NULL,
					key text NOT NULL,
					field text NOT NULL,
					value bigint NOT NULL,
					expires_at bigint NOT NULL,
					PRIMARY KEY (namespace, bucket, key_id, field))`);
				await client.query(
					`CREATE INDEX IF NOT EXISTS "${base}_cnt_expiry" ON "${this.countersTable}" (expires_at)`,
				);
				await client.query(`CREATE TABLE IF NOT EXISTS "${this.eventsTable}" (
					id bigserial PRIMARY KEY,
					namespace text NOT NULL,
					at bigint NOT NULL,
					value text,
					expires_at bigint NOT NULL)`);
				await client.query(
					`CREATE INDEX IF NOT EXISTS "${base}_evt_at" ON "${this.eventsTable}" (namespace, at, id)`,
				);
				await client.query(
					`CREATE INDEX IF NOT EXISTS "${base}_evt_expiry" ON "${this.eventsTable}" (expires_at)`,
				);
				await client.query('COMMIT');
			} catch (error) {
				await client.query('ROLLBACK').catch(() => undefined); // the original error matters
				throw error;
			} finally {
				client.release();
			}
		})().catch((error: unknown) => {
			this.ready = undefined;
			throw error;
		});
		return this.ready;
	}

	private async query<R = unknown>(op: string, text: string, values: unknown[]): Promise<R[]> {
		try {
			await this.ensureTable();
			const { rows } = await this.pool.query(text, values);
			this.purge();
			return rows as R[];
		} catch (error) {
			const message = redact(describeError(error), [this.password]);
			throw new StoreError(this.label, `${op} failed: ${message}`);
		}
	}

	/** In the background: expired rows are already ignored by every query, so a failed purge only waits for the next. */
	private purge(): void {
		const now = this.now();
		if (now < this.nextPurge) return;
		this.nextPurge = now + PURGE_INTERVAL_MS;
		const { purge: state, purgeRecords, purgeCounters, purgeEvents } = this.sql;
		for (const purge of [state, purgeRecords, purgeCounters, purgeEvents])
			this.pool.query(purge, [now]).then(
				({ rowCount }) => {
					if ((rowCount ?? 0) >= PURGE_BATCH) this.nextPurge = now;
				},
				() => undefined,
			);
	}
}

function check(namespace: string, key: string): void {
	checkName('namespace', namespace);
	checkName('key', key);
}

function claimRow(row: Row): ClaimRow {
	return {
		status: row.status === 'completed' ? 'completed' : 'in_progress',
		fingerprint: row.fingerprint,
		token: row.token ?? '',
		value: row.value,
		createdAt: Number(row.created_at),
		expiresAt: Number(row.expires_at),
	};
}

function storedRecord<T>(row: StoredRow): StoredRecord<T> {
	return toStoredRecord<T>(row.key, {
		value: row.value,
		version: Number(row.version),
		dueAt: row.due_at === null ? null : Number(row.due_at),
		tag: row.tag,
		expiresAt: Number(row.expires_at),
	});
}
