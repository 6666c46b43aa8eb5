/**
 * Local store: one SQLite file (node:sqlite), the embedded default. WAL lets readers run beside the
 * one writer; every read-modify-write runs in BEGIN IMMEDIATE, which takes the file's write lock
 * up front (waiting up to the busy timeout), so several n8n processes on one host can share the
 * file. Not for network file systems: WAL needs shared memory on one host.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';

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
	liveVersion,
	newRecordRow,
	toStoredRecord,
	decideComplete,
	newClaimRow,
	fromJson,
	toJson,
	toRecord,
	type ClaimRow,
	type RecordRow,
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

/** `<n8n user folder>/.n8n/ai-patterns.sqlite`, beside n8n's own database. */
export const defaultSqlitePath = (): string =>
	join(process.env.N8N_USER_FOLDER || homedir(), '.n8n', 'ai-patterns.sqlite');

export interface SqliteStoreOptions extends StoreClock {
	path?: string;
	/** How long a write waits for another process's lock before failing; default 5000. */
	busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS state (
	kind TEXT NOT NULL,
	namespace TEXT NOT NULL,
	key TEXT NOT NULL,
	status TEXT,
	fingerprint TEXT,
	token TEXT,
	value TEXT,
	count REAL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (kind, namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS state_expires_at ON state (expires_at);
CREATE TABLE IF NOT EXISTS records (
	namespace TEXT NOT NULL,
	key TEXT NOT NULL,
	value TEXT,
	version INTEGER NOT NULL,
	due_at INTEGER,
	tag TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_due ON records (namespace, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_tag ON records (namespace, tag, expires_at);
CREATE INDEX IF NOT EXISTS records_expires_at ON records (expires_at);
-- The ledger: one row per bucket, key and field (key_id a hash of the key, so a long key makes a
-- short index entry); the primary key, led by (namespace, bucket), serves range reads.
CREATE TABLE IF NOT EXISTS counters (
	namespace TEXT NOT NULL,
	bucket INTEGER NOT NULL,
	key_id TEXT NOT NULL,
	key TEXT NOT NULL,
	field TEXT NOT NULL,
	value INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (namespace, bucket, key_id, field)
);
CREATE INDEX IF NOT EXISTS counters_expires_at ON counters (expires_at);
CREATE TABLE IF NOT EXISTS events (
	id INTEGER PRIMARY KEY,
	namespace TEXT NOT NULL,
	at INTEGER NOT NULL,
	value TEXT,
	expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events (namespace, at);
CREATE INDEX IF NOT EXISTS events_expires_at ON events (expires_at);`;

const RECORD_COLUMNS = 'key, value, version, due_at, tag, expires_at';

const COLUMNS = 'status, fingerprint, token, value, count, created_at, expires_at';

interface Row {
	status: string | null;
	fingerprint: string | null;
	token: string | null;
	value: string | null;
	count: number | null;
	created_at: number;
	expires_at: number;
}

interface StoredRow {
	key: string;
	value: string | null;
	version: number;
	due_at: number | null;
	tag: string;
	expires_at: number;
}

type Statements = Record<
	| 'select'
	| 'upsert'
	| 'remove'
	| 'purge'
	| 'getRecord'
	| 'putRecord'
	| 'dueRecords'
	| 'countRecords'
	| 'purgeRecords'
	| 'addCounter'
	| 'readCounters'
	| 'purgeCounters'
	| 'appendEvent'
	| 'readEvents'
	| 'purgeEvents',
	StatementSync
>;

export class SqliteStore implements StateStore {
	readonly kind = 'local';
	readonly label: string;
	readonly path: string;
	private readonly now: () => number;
	private readonly busyTimeoutMs: number;
	private db?: DatabaseSync;
	private statements?: Statements;
	private nextPurge = 0;

	constructor(options: SqliteStoreOptions = {}) {
		this.path = options.path || defaultSqlitePath();
		this.label = `SQLite file ${this.path}`;
		this.now = options.now ?? Date.now;
		this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
	}

	async claim(namespace: string, key: string, options: ClaimOptions): Promise<ClaimOutcome> {
		check(namespace, key);
		checkDuration('lease', options.leaseMs);
		return this.run('claim', (s) => {
			const now = this.now();
			const row = claimRow(this.select(s, 'c', namespace, key));
			const outcome = decideClaim(row, now, options.fingerprint);
			if (outcome !== 'claimed') return { outcome, record: toRecord(key, row!) };
			const fresh = newClaimRow(now, options);
			this.upsertClaim(s, namespace, key, fresh);
			return { outcome, record: toRecord(key, fresh) };
		});
	}

	async complete(
		namespace: string,
		key: string,
		options: { result: unknown; retentionMs: number; token?: string },
	): Promise<boolean> {
		check(namespace, key);
		checkDuration('retention', options.retentionMs);
		const value = toJson(options.result);
		return this.run('complete', (s) => {
			const now = this.now();
			const next = decideComplete(
				live(claimRow(this.select(s, 'c', namespace, key)), now),
				now,
				options,
				value,
			);
			if (!next) return false;
			this.upsertClaim(s, namespace, key, next);
			return true;
		});
	}

	async release(
		namespace: string,
		key: string,
		options: { token?: string } = {},
	): Promise<boolean> {
		check(namespace, key);
		return this.run('release', (s) => {
			const row = claimRow(this.select(s, 'c', namespace, key));
			if (!row || (options.token && row.token !== options.token)) return false;
			s.remove.run('c', namespace, key);
			return row.expiresAt > this.now();
		});
	}

	async read(namespace: string, key: string): Promise<ClaimRecord | undefined> {
		check(namespace, key);
		return this.run(
			'read',
			(s) => {
				const row = live(claimRow(this.select(s, 'c', namespace, key)), this.now());
				return row && toRecord(key, row);
			},
			false,
		);
	}

	async get<T = unknown>(namespace: string, key: string): Promise<T | undefined> {
		check(namespace, key);
		return this.run(
			'get',
			(s) => {
				const row = this.select(s, 'v', namespace, key);
				return row && row.expires_at > this.now() ? (fromJson(row.value) as T) : undefined;
			},
			false,
		);
	}

	async set(namespace: string, key: string, value: unknown, ttlMs: number): Promise<void> {
		check(namespace, key);
		checkDuration('ttl', ttlMs);
		const json = toJson(value);
		await this.run('set', (s) => {
			const now = this.now();
			s.upsert.run('v', namespace, key, null, null, null, json, null, now, now + ttlMs);
		});
	}

	async delete(namespace: string, key: string): Promise<void> {
		check(namespace, key);
		await this.run('delete', (s) => s.remove.run('v', namespace, key), false);
	}

	async increment(namespace: string, key: string, windowMs: number, by = 1): Promise<number> {
		check(namespace, key);
		checkDuration('window', windowMs);
		return this.run('increment', (s) => {
			const now = this.now();
			const row = this.select(s, 'n', namespace, key);
			const running = row && row.expires_at > now;
			const count = running ? (row.count ?? 0) + by : by;
			const created = running ? row.created_at : now;
			const expires = running ? row.expires_at : now + windowMs;
			s.upsert.run('n', namespace, key, null, null, null, null, count, created, expires);
			return count;
		});
	}

	async getRecord<T = unknown>(
		namespace: string,
		key: string,
	): Promise<StoredRecord<T> | undefined> {
		check(namespace, key);
		return this.run(
			'getRecord',
			(s) => {
				const row = s.getRecord.get(namespace, key, this.now()) as StoredRow | undefined;
				return row && toStoredRecord<T>(key, recordRow(row));
			},
			false,
		);
	}

	async putRecord(
		namespace: string,
		key: string,
		record: RecordWrite,
		expectedVersion: number,
	): Promise<number> {
		check(namespace, key);
		const next = newRecordRow(record, expectedVersion, 0); // checked before the transaction
		return this.run('putRecord', (s) => {
			const now = this.now();
			next.expiresAt = now + Math.ceil(record.ttlMs); // the clock after the lock wait
			// Any row, expired or not: BEGIN IMMEDIATE holds the write lock, so nobody changes it before the write.
			const row = s.getRecord.get(namespace, key, -Infinity) as StoredRow | undefined;
			if (liveVersion(row && recordRow(row), now) !== expectedVersion) return 0;
			s.putRecord.run(
				namespace,
				key,
				next.value,
				next.version,
				next.dueAt,
				next.tag,
				next.expiresAt,
			);
			return next.version;
		});
	}

	async dueRecords<T = unknown>(namespace: string, limit: number): Promise<Array<StoredRecord<T>>> {
		checkName('namespace', namespace);
		const max = checkLimit(limit);
		return this.run(
			'dueRecords',
			(s) => {
				const now = this.now();
				const rows = s.dueRecords.all(namespace, now, now, max) as unknown as StoredRow[];
				return rows.map((row) => toStoredRecord<T>(row.key, recordRow(row)));
			},
			false,
		);
	}

	async countRecords(namespace: string): Promise<Record<string, number>> {
		checkName('namespace', namespace);
		return this.run(
			'countRecords',
			(s) => {
				const rows = s.countRecords.all(namespace, this.now()) as Array<{ tag: string; n: number }>;
				return Object.fromEntries(rows.map(({ tag, n }) => [tag, Number(n)]));
			},
			false,
		);
	}

	async addCounters(namespace: string, adds: CounterAdd[], ttlMs: number): Promise<void> {
		checkName('namespace', namespace);
		const rows = counterBatch(adds, ttlMs, this.now());
		if (!rows.length) return;
		await this.run('addCounters', (s) => {
			const now = this.now(); // after the lock wait: a row that ended meanwhile starts again
			for (const { bucket, keyJson, keyId, expiresAt, fields } of rows)
				for (const [field, value] of fields)
					s.addCounter.run(namespace, bucket, keyId, keyJson, field, value, expiresAt, now);
		});
	}

	async readCounters(namespace: string, from: number, to: number): Promise<CounterRow[]> {
		checkName('namespace', namespace);
		const range = timeRange(from, to);
		if (!range) return [];
		return this.run(
			'readCounters',
			(s) => {
				const cells = s.readCounters.all(namespace, ...range, this.now()) as Array<{
					bucket: number;
					key: string;
					field: string;
					value: number;
				}>;
				return counterRows(
					cells.map(({ bucket, key, field, value }) => ({ bucket, keyJson: key, field, value })),
				);
			},
			false,
		);
	}

	async appendEvents(namespace: string, events: StoredEvent[], ttlMs: number): Promise<void> {
		checkName('namespace', namespace);
		const rows = eventBatch(events, ttlMs, this.now());
		if (!rows.length) return;
		await this.run('appendEvents', (s) => {
			for (const row of rows) s.appendEvent.run(namespace, row.at, row.value, row.expiresAt);
		});
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
		return this.run(
			'readEvents',
			(s) => {
				const rows = s.readEvents.all(namespace, ...range, this.now(), max) as Array<{
					at: number;
					value: string | null;
				}>;
				return rows.map((row) => toEvent<T>(Number(row.at), row.value));
			},
			false,
		);
	}

	async close(): Promise<void> {
		const db = this.db;
		this.db = undefined;
		this.statements = undefined;
		if (db?.isOpen) db.close();
	}

	private async open(): Promise<Statements> {
		if (this.statements) return this.statements;
		// Loaded on first use: node:sqlite prints an "experimental" warning that users of the other stores should not see.
		const { DatabaseSync } = await import('node:sqlite');
		if (this.statements) return this.statements;
		mkdirSync(dirname(this.path), { recursive: true });
		const db = new DatabaseSync(this.path, { timeout: this.busyTimeoutMs });
		try {
			db.exec('PRAGMA journal_mode = WAL');
			// NORMAL in WAL mode: a crash of n8n loses nothing; a power cut may lose the last commits.
			db.exec('PRAGMA synchronous = NORMAL');
			db.exec(SCHEMA);
			this.statements = {
				select: db.prepare(
					`SELECT ${COLUMNS} FROM state WHERE kind = ? AND namespace = ? AND key = ?`,
				),
				upsert: db.prepare(
					`INSERT OR REPLACE INTO state (kind, namespace, key, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				),
				remove: db.prepare('DELETE FROM state WHERE kind = ? AND namespace = ? AND key = ?'),
				purge: db.prepare(
					`DELETE FROM state WHERE (kind, namespace, key) IN
					 (SELECT kind, namespace, key FROM state WHERE expires_at <= ? LIMIT ${PURGE_BATCH})`,
				),
				getRecord: db.prepare(
					`SELECT ${RECORD_COLUMNS} FROM records WHERE namespace = ? AND key = ? AND expires_at > ?`,
				),
				putRecord: db.prepare(
					`INSERT OR REPLACE INTO records (namespace, ${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				),
				dueRecords: db.prepare(
					`SELECT ${RECORD_COLUMNS} FROM records
					 WHERE namespace = ? AND due_at IS NOT NULL AND due_at <= ? AND expires_at > ?
					 ORDER BY due_at, key LIMIT ?`,
				),
				countRecords: db.prepare(
					`SELECT tag, COUNT(*) AS n FROM records WHERE namespace = ? AND expires_at > ? GROUP BY tag`,
				),
				purgeRecords: db.prepare(
					`DELETE FROM records WHERE (namespace, key) IN
					 (SELECT namespace, key FROM records WHERE expires_at <= ? LIMIT ${PURGE_BATCH})`,
				),
				// A row that has ended (by the writer's clock, ?8) starts again rather than adding to stale counts.
				addCounter: db.prepare(
					`INSERT INTO counters (namespace, bucket, key_id, key, field, value, expires_at)
					 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
					 ON CONFLICT (namespace, bucket, key_id, field) DO UPDATE SET
					 value = CASE WHEN expires_at <= ?8 THEN excluded.value ELSE value + excluded.value END,
					 expires_at = CASE WHEN expires_at <= ?8 THEN excluded.expires_at
					 ELSE max(expires_at, excluded.expires_at) END`,
				),
				readCounters: db.prepare(
					`SELECT bucket, key, field, value FROM counters
					 WHERE namespace = ? AND bucket >= ? AND bucket < ? AND expires_at > ?`,
				),
				purgeCounters: db.prepare(
					`DELETE FROM counters WHERE rowid IN
					 (SELECT rowid FROM counters WHERE expires_at <= ? LIMIT ${PURGE_BATCH})`,
				),
				appendEvent: db.prepare(
					'INSERT INTO events (namespace, at, value, expires_at) VALUES (?, ?, ?, ?)',
				),
				readEvents: db.prepare(
					`SELECT at, value FROM events
					 WHERE namespace = ? AND at >= ? AND at < ? AND expires_at > ?
					 ORDER BY at, id LIMIT ?`,
				),
				purgeEvents: db.prepare(
					`DELETE FROM events WHERE id IN
					 (SELECT id FROM events WHERE expires_at <= ? LIMIT ${PURGE_BATCH})`,
				),
			};
		} catch (error) {
			db.close();
			throw error;
		}
		this.db = db;
		return this.statements;
	}

	/** Runs `fn` with the statements, in a BEGIN IMMEDIATE transaction when it writes. */
	private async run<T>(op: string, fn: (s: Statements) => T, write = true): Promise<T> {
		let s: Statements;
		try {
			s = await this.open();
		} catch (error) {
			throw new StoreError(this.label, `cannot open the database: ${(error as Error).message}`);
		}
		const db = this.db!;
		try {
			if (!write) return fn(s);
			db.exec('BEGIN IMMEDIATE');
			let result: T;
			try {
				result = fn(s);
				db.exec('COMMIT');
			} finally {
				if (db.isTransaction) db.exec('ROLLBACK');
			}
			this.purge(s);
			return result;
		} catch (error) {
			if (error instanceof StoreError) throw error;
			throw new StoreError(this.label, `${op} failed: ${(error as Error).message}`);
		}
	}

	/** After a write has committed; expired rows are already ignored, so a purge that meets a lock just waits for the next. */
	private purge(s: Statements): void {
		const now = this.now();
		if (now < this.nextPurge) return;
		this.nextPurge = now + PURGE_INTERVAL_MS;
		try {
			const purged = [s.purge, s.purgeRecords, s.purgeCounters, s.purgeEvents].map((purge) =>
				Number(purge.run(now).changes),
			);
			if (purged.some((n) => n >= PURGE_BATCH)) this.nextPurge = now;
		} catch {
			return;
		}
	}

	private select(s: Statements, kind: string, namespace: string, key: string): Row | undefined {
		return s.select.get(kind, namespace, key) as Row | undefined;
	}

	private upsertClaim(s: Statements, namespace: string, key: string, row: ClaimRow): void {
		s.upsert.run(
			'c',
			namespace,
			key,
			row.status,
			row.fingerprint,
			row.token,
			row.value,
			null,
			row.createdAt,
			row.expiresAt,
		);
	}
}

function check(namespace: string, key: string): void {
	checkName('namespace', namespace);
	checkName('key', key);
}

function claimRow(row: Row | undefined): ClaimRow | undefined {
	if (!row) return undefined;
	return {
		status: row.status === 'completed' ? 'completed' : 'in_progress',
		fingerprint: row.fingerprint,
		token: row.token ?? '',
		value: row.value,
		createdAt: row.created_at,
		expiresAt: row.expires_at,
	};
}

function recordRow(row: StoredRow): RecordRow {
	return {
		value: row.value,
		version: Number(row.version),
		dueAt: row.due_at === null ? null : Number(row.due_at),
		tag: row.tag,
		expiresAt: Number(row.expires_at),
	};
}

const live = (row: ClaimRow | undefined, now: number) =>
	row && row.expiresAt > now ? row : undefined;
