/**
 * The one state-store interface every stateful node uses (Idempotency Guard, response cache,
 * last good answer, circuit breaker). One class per backend: memory, local (SQLite), Redis, Postgres.
 * Every operation is atomic in the backend, so n8n queue-mode workers on many hosts agree.
 */

export type StoreKind = 'memory' | 'local' | 'redis' | 'postgres';

export interface ClaimRecord {
	key: string;
	status: 'in_progress' | 'completed';
	/** Hash of the payload that claimed the key (optional). */
	fingerprint?: string;
	/** What `complete` stored (JSON), replayed to duplicates. */
	result?: unknown;
	/** Owner of the current claim: `complete` / `release` with a token only act on that claim. */
	token: string;
	/** When the key was first claimed (epoch ms): "first seen". */
	createdAt: number;
	/** Lease end (in progress) or retention end (completed), epoch ms. */
	expiresAt: number;
}

export type ClaimOutcome =
	/** Absent or expired (lease or retention): now ours. → New */
	| { outcome: 'claimed'; record: ClaimRecord }
	/** Another execution holds a live lease. → In Progress */
	| { outcome: 'in_progress'; record: ClaimRecord }
	/** Completed earlier and still retained: replay `record.result`. → Duplicate */
	| { outcome: 'completed'; record: ClaimRecord }
	/** Same key, different fingerprint (whatever the state). → Conflict */
	| { outcome: 'conflict'; record: ClaimRecord };

export interface ClaimOptions {
	fingerprint?: string;
	leaseMs: number;
}

/** A JSON record with a version for compare-and-set, a due time for sweeps and a tag for counts. */
export interface StoredRecord<T = unknown> {
	key: string;
	value: T;
	/** 1 when created; every successful put adds one. */
	version: number;
	/** When a sweep should pick the record up (epoch ms); null: never. */
	dueAt: number | null;
	/** A short label that countRecords counts by (a job's status). */
	tag: string;
	/** When the record is gone (epoch ms); an expired record reads as absent. */
	expiresAt: number;
}

/** Times are rounded up to whole milliseconds (never due or gone earlier than asked). */
export interface RecordWrite {
	value: unknown;
	dueAt: number | null;
	tag: string;
	/** Kept this long from now. */
	ttlMs: number;
}

/** One batch entry of counters: integer increments per field, summed atomically into its bucket. */
export interface CounterAdd {
	/** Bucket start (epoch ms), e.g. the minute, hour or day the counts belong to. */
	bucket: number;
	/** What is counted, e.g. JSON of the dimensions (model, tag, ...). Any text; may be long. */
	key: string;
	/** Increments per field name; non-integers are rounded to the nearest integer. */
	fields: Record<string, number>;
}

export interface CounterRow {
	bucket: number;
	key: string;
	/** Sums of everything added to this bucket and key, per field. */
	fields: Record<string, number>;
}

export interface StoredEvent<T = unknown> {
	/** Epoch ms. */
	at: number;
	value: T;
}

export interface StateStore {
	readonly kind: StoreKind;
	/** For error messages: "Redis at 127.0.0.1:6379", "SQLite file /…/ai-patterns.sqlite". Never secrets. */
	readonly label: string;

	/**
	 * Atomic: exactly one concurrent caller gets `claimed`. An expired record counts as absent, so
	 * taking over a crashed claim starts fresh (new token, createdAt = now). Times are judged by the
	 * caller's clock, so the hosts sharing a store need synchronised clocks (NTP).
	 */
	claim(namespace: string, key: string, options: ClaimOptions): Promise<ClaimOutcome>;
	/**
	 * Marks the key completed with its result, kept for retentionMs from now. False (nothing stored)
	 * only when another claim holds the key: a live record with a different token. A key whose claim
	 * expired or was released, and was not taken over, is recorded as completed all the same (first
	 * seen = now), so a result that arrives after its lease ran out still stops later duplicates.
	 */
	complete(
		namespace: string,
		key: string,
		options: { result: unknown; retentionMs: number; token?: string },
	): Promise<boolean>;
	/** Deletes the claim so a retry can run. False if there was none (or not ours by token). */
	release(namespace: string, key: string, options?: { token?: string }): Promise<boolean>;
	/** The live record, if any (expired records read as absent). */
	read(namespace: string, key: string): Promise<ClaimRecord | undefined>;

	/** Cache and breaker state: JSON values with a time to live. */
	get<T = unknown>(namespace: string, key: string): Promise<T | undefined>;
	set(namespace: string, key: string, value: unknown, ttlMs: number): Promise<void>;
	delete(namespace: string, key: string): Promise<void>;
	/** Atomic counter in a fixed window that starts at the first increment; returns the new count. */
	increment(namespace: string, key: string, windowMs: number, by?: number): Promise<number>;

	/**
	 * Versioned records (the Job Queue, lib/jobs.ts): read, compare-and-set, due list, count by tag.
	 * An expired record restarts at version 1, so keep records far longer than any writer holds one.
	 */
	getRecord<T = unknown>(namespace: string, key: string): Promise<StoredRecord<T> | undefined>;
	/**
	 * Compare and set: writes when the live record's version is `expectedVersion` (0: absent or
	 * expired) and returns the new version (expected + 1); 0 when another writer got there first.
	 */
	putRecord(
		namespace: string,
		key: string,
		record: RecordWrite,
		expectedVersion: number,
	): Promise<number>;
	/** Up to `limit` live records whose dueAt ≤ now, earliest due first. */
	dueRecords<T = unknown>(namespace: string, limit: number): Promise<Array<StoredRecord<T>>>;
	/** Live records per tag, e.g. { running: 3, done: 120 }; tags without records are absent. */
	countRecords(namespace: string): Promise<Record<string, number>>;

	/**
	 * Counters in time buckets (the usage ledger's roll-ups). One round trip (or transaction) per
	 * batch; concurrent adds from many processes are never lost. A bucket is kept until
	 * bucket + ttlMs.
	 */
	addCounters(namespace: string, adds: CounterAdd[], ttlMs: number): Promise<void>;
	/** Live counter rows whose bucket is in [from, to), in no particular order. */
	readCounters(namespace: string, from: number, to: number): Promise<CounterRow[]>;
	/** Appends events (the ledger's raw events) in one round trip; each is kept until at + ttlMs. */
	appendEvents(namespace: string, events: StoredEvent[], ttlMs: number): Promise<void>;
	/** Up to `limit` live events with at in [from, to), oldest first. */
	readEvents<T = unknown>(
		namespace: string,
		from: number,
		to: number,
		limit: number,
	): Promise<Array<StoredEvent<T>>>;

	close(): Promise<void>;
}
