/** In-process store: for tests and single-process runs. Nothing survives a restart or is shared. */
import {
	PURGE_INTERVAL_MS,
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
	type EventRow,
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

interface Expiring {
	expiresAt: number;
}

const SWEEP_EVERY = 10_000;

interface CounterEntry extends Expiring {
	bucket: number;
	keyJson: string;
	fields: Map<string, number>;
}

/** A namespace's counters (by bucket and key id) and events (sorted by time, then as appended). */
interface Ledger {
	counters: Map<string, CounterEntry>;
	events: EventRow[];
	nextPrune: number;
}

export class MemoryStore implements StateStore {
	readonly kind = 'memory';
	readonly label = 'Memory store (this n8n process)';
	private readonly now: () => number;
	private readonly claims = new Map<string, ClaimRow>();
	private readonly values = new Map<string, Expiring & { value: string | null }>();
	private readonly counters = new Map<string, Expiring & { count: number }>();
	/** Per namespace, so a due sweep or a count looks at its own records only. */
	private readonly records = new Map<string, Map<string, RecordRow>>();
	private readonly ledgers = new Map<string, Ledger>();
	private writes = 0;

	constructor(options: StoreClock = {}) {
		this.now = options.now ?? Date.now;
	}

	async claim(namespace: string, key: string, options: ClaimOptions): Promise<ClaimOutcome> {
		const id = this.id(namespace, key);
		checkDuration('lease', options.leaseMs);
		const now = this.now();
		const row = this.claims.get(id);
		const outcome = decideClaim(row, now, options.fingerprint);
		if (outcome !== 'claimed') return { outcome, record: toRecord(key, row!) };
		const fresh = newClaimRow(now, options);
		this.write(this.claims, id, fresh);
		return { outcome, record: toRecord(key, fresh) };
	}

	async complete(
		namespace: string,
		key: string,
		options: { result: unknown; retentionMs: number; token?: string },
	): Promise<boolean> {
		const id = this.id(namespace, key);
		checkDuration('retention', options.retentionMs);
		const value = toJson(options.result);
		const now = this.now();
		const next = decideComplete(this.live(this.claims, id, now), now, options, value);
		if (!next) return false;
		this.write(this.claims, id, next);
		return true;
	}

	async release(
		namespace: string,
		key: string,
		options: { token?: string } = {},
	): Promise<boolean> {
		const id = this.id(namespace, key);
		const row = this.live(this.claims, id, this.now());
		if (!row || (options.token && row.token !== options.token)) return false;
		this.claims.delete(id);
		return true;
	}

	async read(namespace: string, key: string): Promise<ClaimRecord | undefined> {
		const row = this.live(this.claims, this.id(namespace, key), this.now());
		return row && toRecord(key, row);
	}

	async get<T = unknown>(namespace: string, key: string): Promise<T | undefined> {
		const entry = this.live(this.values, this.id(namespace, key), this.now());
		return entry && (fromJson(entry.value) as T);
	}

	async set(namespace: string, key: string, value: unknown, ttlMs: number): Promise<void> {
		const id = this.id(namespace, key);
		checkDuration('ttl', ttlMs);
		this.write(this.values, id, { value: toJson(value), expiresAt: this.now() + ttlMs });
	}

	async delete(namespace: string, key: string): Promise<void> {
		this.values.delete(this.id(namespace, key));
	}

	async increment(namespace: string, key: string, windowMs: number, by = 1): Promise<number> {
		const id = this.id(namespace, key);
		checkDuration('window', windowMs);
		const now = this.now();
		const entry = this.live(this.counters, id, now);
		if (entry) return (entry.count += by);
		this.write(this.counters, id, { count: by, expiresAt: now + windowMs });
		return by;
	}

	async getRecord<T = unknown>(
		namespace: string,
		key: string,
	): Promise<StoredRecord<T> | undefined> {
		this.id(namespace, key);
		const rows = this.records.get(namespace);
		const row = rows && this.live(rows, key, this.now());
		return row && toStoredRecord<T>(key, row);
	}

	async putRecord(
		namespace: string,
		key: string,
		record: RecordWrite,
		expectedVersion: number,
	): Promise<number> {
		this.id(namespace, key);
		const now = this.now();
		const next = newRecordRow(record, expectedVersion, now);
		let rows = this.records.get(namespace);
		if (liveVersion(rows?.get(key), now) !== expectedVersion) return 0;
		if (!rows) this.records.set(namespace, (rows = new Map()));
		this.write(rows, key, next);
		return next.version;
	}

	async dueRecords<T = unknown>(namespace: string, limit: number): Promise<Array<StoredRecord<T>>> {
		checkName('namespace', namespace);
		const max = checkLimit(limit);
		const now = this.now();
		const due: Array<[string, RecordRow]> = [];
		for (const [key, row] of this.records.get(namespace) ?? [])
			if (row.expiresAt > now && row.dueAt !== null && row.dueAt <= now) due.push([key, row]);
		due.sort(([ka, a], [kb, b]) => a.dueAt! - b.dueAt! || (ka < kb ? -1 : ka > kb ? 1 : 0));
		return due.slice(0, max).map(([key, row]) => toStoredRecord<T>(key, row));
	}

	async countRecords(namespace: string): Promise<Record<string, number>> {
		checkName('namespace', namespace);
		const now = this.now();
		const counts = new Map<string, number>();
		for (const row of this.records.get(namespace)?.values() ?? [])
			if (row.expiresAt > now) counts.set(row.tag, (counts.get(row.tag) ?? 0) + 1);
		return Object.fromEntries(counts); // own properties, even for a tag named __proto__
	}

	async addCounters(namespace: string, adds: CounterAdd[], ttlMs: number): Promise<void> {
		checkName('namespace', namespace);
		const now = this.now();
		const rows = counterBatch(adds, ttlMs, now);
		if (!rows.length) return;
		const ledger = this.ledger(namespace, now);
		for (const { bucket, keyJson, keyId, expiresAt, fields } of rows) {
			const id = `${bucket}:${keyId}`;
			let entry = ledger.counters.get(id);
			if (entry && entry.expiresAt > now) entry.expiresAt = Math.max(entry.expiresAt, expiresAt);
			else ledger.counters.set(id, (entry = { bucket, keyJson, expiresAt, fields: new Map() }));
			for (const [field, value] of fields)
				entry.fields.set(field, (entry.fields.get(field) ?? 0) + value);
		}
	}

	async readCounters(namespace: string, from: number, to: number): Promise<CounterRow[]> {
		checkName('namespace', namespace);
		const range = timeRange(from, to);
		const now = this.now();
		const cells = [];
		for (const entry of range ? (this.ledgers.get(namespace)?.counters.values() ?? []) : [])
			if (entry.expiresAt > now && entry.bucket >= range![0] && entry.bucket < range![1])
				for (const [field, value] of entry.fields)
					cells.push({ bucket: entry.bucket, keyJson: entry.keyJson, field, value });
		return counterRows(cells);
	}

	async appendEvents(namespace: string, events: StoredEvent[], ttlMs: number): Promise<void> {
		checkName('namespace', namespace);
		const now = this.now();
		const rows = eventBatch(events, ttlMs, now);
		if (!rows.length) return;
		const list = this.ledger(namespace, now).events;
		for (const row of rows) {
			// After every event at the same time: equal times keep the order they came in.
			let lo = 0;
			let hi = list.length;
			while (lo < hi) {
				const mid = (lo + hi) >>> 1;
				if (list[mid].at <= row.at) lo = mid + 1;
				else hi = mid;
			}
			list.splice(lo, 0, row);
		}
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
		const now = this.now();
		const out: Array<StoredEvent<T>> = [];
		for (const row of range ? (this.ledgers.get(namespace)?.events ?? []) : []) {
			if (row.at >= range![1] || out.length >= max) break;
			if (row.at >= range![0] && row.expiresAt > now) out.push(toEvent<T>(row.at, row.value));
		}
		return out;
	}

	async close(): Promise<void> {
		this.claims.clear();
		this.values.clear();
		this.counters.clear();
		this.records.clear();
		this.ledgers.clear();
	}

	/** The namespace's ledger for a write; its ended rows are dropped at most once a minute. */
	private ledger(namespace: string, now: number): Ledger {
		let ledger = this.ledgers.get(namespace);
		if (!ledger) {
			ledger = { counters: new Map(), events: [], nextPrune: now + PURGE_INTERVAL_MS };
			this.ledgers.set(namespace, ledger);
		} else if (now >= ledger.nextPrune) {
			ledger.nextPrune = now + PURGE_INTERVAL_MS;
			for (const [id, entry] of ledger.counters)
				if (entry.expiresAt <= now) ledger.counters.delete(id);
			ledger.events = ledger.events.filter((row) => row.expiresAt > now);
		}
		return ledger;
	}

	private id(namespace: string, key: string): string {
		checkName('namespace', namespace);
		checkName('key', key);
		return JSON.stringify([namespace, key]);
	}

	private live<T extends Expiring>(map: Map<string, T>, id: string, now: number): T | undefined {
		const entry = map.get(id);
		if (entry && entry.expiresAt <= now) {
			map.delete(id);
			return undefined;
		}
		return entry;
	}

	/** Expired entries are dropped when read, and swept every so many writes. */
	private write<T extends Expiring>(map: Map<string, T>, id: string, entry: T): void {
		map.set(id, entry);
		if (++this.writes % SWEEP_EVERY) return;
		const now = this.now();
		const maps: Array<Map<string, Expiring>> = [this.claims, this.values, this.counters];
		for (const m of [...maps, ...this.records.values()])
			for (const [k, e] of m) if (e.expiresAt <= now) m.delete(k);
		for (const [namespace, rows] of this.records) if (!rows.size) this.records.delete(namespace);
	}
}
