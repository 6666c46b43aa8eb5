/**
 * The usage ledger's contract, every backend: counters summed per bucket, key and field across
 * batches and connections, [from, to) ranges, expiry by bucket + ttl, hostile keys, and raw events
 * in time order with duplicates kept. Time is a fake clock. Redis uses database 11 and Postgres
 * tables named ai_patterns_ledger_test_…, both removed afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

import { StoreError } from '../../lib/stores/common';
import { PostgresStore } from '../../lib/stores/postgres';
import { RedisStore } from '../../lib/stores/redis';
import { SqliteStore } from '../../lib/stores/sqlite';
import type { CounterAdd, CounterRow, StateStore } from '../../lib/stores/types';
import { backends, describeWithService, POSTGRES, REDIS, type Backend } from './backends';

const T0 = 1_700_000_000_000;
const MIN = 60_000;
const REDIS_DB = 11;

const runId = `${process.pid}_${Date.now().toString(36)}`;
const keyPrefix = `aip-ledger-test-${runId}`;
const table = `ai_patterns_ledger_test_${runId}`;

/** What the store holds for a namespace's ledger, expired or not: shows that pruning ran. */
type Stored = (store: StateStore, namespace: string) => Promise<number>;

/** The shared backends, with Redis and Postgres moved to this suite's database and tables. */
function ledgerBackends(): Array<Backend & { stored: Stored }> {
	return backends({ redisDb: REDIS_DB, keyPrefix, table }).map((backend) => {
		if (backend.kind === 'redis')
			return {
				...backend,
				stored: async (_, ns) => {
					const client = new Redis({ ...REDIS, db: REDIS_DB });
					try {
						const base = `${keyPrefix}:l:{${encodeURIComponent(ns)}}:`;
						const [ce, ee, ed] = await Promise.all([
							client.zcard(`${base}ce`),
							client.zcard(`${base}ee`),
							client.hlen(`${base}ed`),
						]);
						return ce + ee + ed;
					} finally {
						client.disconnect();
					}
				},
			};
		if (backend.kind === 'postgres')
			return {
				...backend,
				stored: async (store, ns) => {
					const { countersTable, eventsTable } = store as PostgresStore;
					const client = new Client(POSTGRES);
					await client.connect();
					try {
						const { rows } = await client.query<{ n: number }>(
							`SELECT (SELECT count(*) FROM "${countersTable}" WHERE namespace = $1)
							 + (SELECT count(*) FROM "${eventsTable}" WHERE namespace = $1) AS n`,
							[ns],
						);
						return Number(rows[0].n);
					} finally {
						await client.end();
					}
				},
			};
		if (backend.kind === 'local')
			return {
				...backend,
				stored: async (store, ns) => {
					const { DatabaseSync } = await import('node:sqlite');
					const db = new DatabaseSync((store as SqliteStore).path, { readOnly: true });
					try {
						const row = db
							.prepare(
								`SELECT (SELECT count(*) FROM counters WHERE namespace = ?1)
								 + (SELECT count(*) FROM events WHERE namespace = ?1) AS n`,
							)
							.get(ns) as { n: number };
						return Number(row.n);
					} finally {
						db.close();
					}
				},
			};
		return {
			...backend,
			stored: async (store, ns) => {
				const ledger = (
					store as unknown as {
						ledgers: Map<string, { counters: Map<string, unknown>; events: unknown[] }>;
					}
				).ledgers.get(ns);
				return ledger ? ledger.counters.size + ledger.events.length : 0;
			},
		};
	});
}

/** Rows in one order, whatever order the backend returns them in. */
const sorted = (rows: CounterRow[]) =>
	[...rows].sort((a, b) => a.bucket - b.bucket || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

describe.each(ledgerBackends())('$name store', (backend) => {
	describeWithService(
		backend.service ?? '',
		backend.available,
		`${backend.name} usage ledger`,
		() => {
			let t = T0;
			const now = () => t;
			let store: StateStore;
			let ns: string;
			let n = 0;
			const open: StateStore[] = [];
			const make = () => {
				const s = backend.make({ now });
				open.push(s);
				return s;
			};
			/** Another connection to the same data (the memory store has only itself). */
			const another = () => (backend.kind === 'memory' ? store : make());
			const all = () => store.readCounters(ns, -Infinity, Infinity);

			beforeEach(() => {
				t = T0;
				ns = `ledger-${Date.now().toString(36)}-${++n}`;
				store = make();
			});
			afterEach(async () => {
				await Promise.all(open.splice(0).map(async (s) => await s.close()));
			});
			afterAll(async () => await backend.cleanup());

			it('sums adds per bucket, key and field: across batches, within a batch, rounded', async () => {
				const b0 = T0 - MIN;
				await store.addCounters(
					ns,
					[
						{ bucket: b0, key: 'gpt', fields: { calls: 1, tokens: 10.4 } },
						{ bucket: b0, key: 'gpt', fields: { calls: 1, tokens: 0.6 } },
						{ bucket: b0, key: 'claude', fields: { calls: 1, cost_nusd: 2_500_000_000 } },
					],
					MIN * 60,
				);
				await store.addCounters(
					ns,
					[
						{ bucket: b0, key: 'gpt', fields: { calls: 2, cost_nusd: 1500, lat_le_250: 1 } },
						{ bucket: T0, key: 'gpt', fields: { calls: 1 } },
						{ bucket: T0, key: 'gpt', fields: {} },
					],
					MIN * 60,
				);
				await store.addCounters(ns, [{ bucket: b0, key: 'gpt', fields: { calls: -1 } }], MIN * 60);
				await store.addCounters(
					`${ns}-other`,
					[{ bucket: b0, key: 'gpt', fields: { calls: 9 } }],
					MIN * 60,
				);

				expect(sorted(await all())).toEqual([
					{ bucket: b0, key: 'claude', fields: { calls: 1, cost_nusd: 2_500_000_000 } },
					{
						bucket: b0,
						key: 'gpt',
						fields: { calls: 3, tokens: 11, cost_nusd: 1500, lat_le_250: 1 },
					},
					{ bucket: T0, key: 'gpt', fields: { calls: 1 } },
				]);
				expect(await store.readCounters(`${ns}-other`, b0, T0)).toEqual([
					{ bucket: b0, key: 'gpt', fields: { calls: 9 } },
				]);
				expect(await store.readCounters(`${ns}-none`, b0, T0)).toEqual([]);
			});

			it('reads buckets in [from, to): from included, to excluded', async () => {
				const buckets = [T0 - 2 * MIN, T0 - MIN, T0, T0 + MIN];
				await store.addCounters(
					ns,
					buckets.map((bucket, i) => ({ bucket, key: 'k', fields: { n: i + 1 } })),
					MIN * 60,
				);
				const read = async (from: number, to: number) =>
					sorted(await store.readCounters(ns, from, to)).map((r) => [r.bucket, r.fields.n]);
				expect(await read(T0 - MIN, T0 + MIN)).toEqual([
					[T0 - MIN, 2],
					[T0, 3],
				]);
				expect(await read(T0, T0 + 1)).toEqual([[T0, 3]]);
				expect(await read(T0, T0)).toEqual([]);
				expect(await read(T0 + 1, T0)).toEqual([]);
				// Bounds between whole milliseconds: a bucket is in when from <= bucket < to.
				expect(await read(T0 - 0.5, T0 + 0.5)).toEqual([[T0, 3]]);
				expect(await read(T0 + 0.5, T0 + MIN + 0.5)).toEqual([[T0 + MIN, 4]]);
				expect(await read(-Infinity, T0)).toEqual([
					[T0 - 2 * MIN, 1],
					[T0 - MIN, 2],
				]);
				expect(await read(T0, Infinity)).toEqual([
					[T0, 3],
					[T0 + MIN, 4],
				]);
			});

			it('keeps a bucket until bucket + ttl, by the injected clock, the longest ttl winning', async () => {
				await store.addCounters(
					ns,
					[
						{ bucket: T0, key: 'a', fields: { calls: 1 } },
						{ bucket: T0 + MIN, key: 'a', fields: { calls: 2 } },
					],
					10 * MIN,
				);
				// A longer ttl on a later add keeps the row (and all its sums) longer; a shorter one does not shorten it.
				await store.addCounters(ns, [{ bucket: T0, key: 'b', fields: { calls: 1 } }], 10 * MIN);
				await store.addCounters(ns, [{ bucket: T0, key: 'b', fields: { calls: 1 } }], 20 * MIN);
				await store.addCounters(ns, [{ bucket: T0, key: 'b', fields: { calls: 1 } }], 5 * MIN);
				t = T0 + 10 * MIN - 1;
				expect((await all()).length).toBe(3);
				t = T0 + 10 * MIN;
				expect(sorted(await all())).toEqual([
					{ bucket: T0, key: 'b', fields: { calls: 3 } },
					{ bucket: T0 + MIN, key: 'a', fields: { calls: 2 } },
				]);
				// An add to a bucket that has already ended is dropped: it would read as absent anyway.
				await store.addCounters(ns, [{ bucket: T0, key: 'a', fields: { calls: 5 } }], 10 * MIN);
				expect((await all()).find((r) => r.key === 'a' && r.bucket === T0)).toBeUndefined();
				// One with a longer ttl starts the ended row again: the old counts are not revived.
				await store.addCounters(ns, [{ bucket: T0, key: 'a', fields: { tokens: 7 } }], 30 * MIN);
				t = T0 + 20 * MIN;
				expect(sorted(await all())).toEqual([{ bucket: T0, key: 'a', fields: { tokens: 7 } }]);
				t = T0 + 30 * MIN;
				expect(await all()).toEqual([]);
			});

			it('prunes ended counters and events on a later write', async () => {
				await store.addCounters(
					ns,
					[
						{ bucket: T0, key: 'short', fields: { calls: 1, tokens: 2 } },
						{ bucket: T0, key: 'long', fields: { calls: 1 } },
					],
					MIN,
				);
				await store.addCounters(ns, [{ bucket: T0, key: 'long', fields: { calls: 1 } }], 60 * MIN);
				await store.appendEvents(
					ns,
					[
						{ at: T0, value: 'short' },
						{ at: T0, value: 'short' },
					],
					MIN,
				);
				await store.appendEvents(ns, [{ at: T0, value: 'long' }], 60 * MIN);
				const before = await backend.stored(store, ns);
				t = T0 + 2 * MIN; // past the once-a-minute mark, and past the short ttl
				await store.addCounters(ns, [{ bucket: t, key: 'new', fields: { calls: 1 } }], MIN);
				await store.appendEvents(ns, [{ at: t, value: 'new' }], MIN);
				// Postgres prunes in the background: wait for it (bounded), no timing is asserted.
				let after = await backend.stored(store, ns);
				for (let i = 0; i < 50 && after >= before; i++) {
					await new Promise((resolve) => setTimeout(resolve, 100));
					after = await backend.stored(store, ns);
				}
				expect(after).toBeLessThan(before);
				// What is left is exactly the live data.
				expect(sorted(await all()).map((r) => r.key)).toEqual(['long', 'new']);
				expect((await store.readEvents(ns, -Infinity, Infinity, 10)).map((e) => e.value)).toEqual([
					'long',
					'new',
				]);
			});

			it('round-trips hostile keys exactly, each its own row', async () => {
				const keys = [
					'x'.repeat(100_000),
					`${'ü'.repeat(5000)}🔑`,
					'Grüße ✓ 日本語 🔑',
					'"quoted" \'single\' `back` \\ end',
					'line\nbreak\r\ntab\t',
					'nul\u0000inside',
					'lone \ud800 surrogate',
					'',
					' ',
					`${T0}:abc`,
					'=k',
					'=e',
					'{"model":"gpt","tag":"a"}',
					'%7B%7D {x} {',
					'__proto__',
				];
				await store.addCounters(
					ns,
					keys.map((key, i) => ({ bucket: T0, key, fields: { calls: i + 1 } })),
					MIN,
				);
				const rows = await all();
				expect(rows).toHaveLength(keys.length);
				for (const [i, key] of keys.entries())
					expect(rows.filter((r) => r.key === key)).toEqual([
						{ bucket: T0, key, fields: { calls: i + 1 } },
					]);
				// Fields named like Object.prototype members are plain own fields.
				const odd = JSON.parse('{"__proto__": 2, "constructor": 3, "to:string": 4}') as Record<
					string,
					number
				>;
				await store.addCounters(ns, [{ bucket: T0 + 1, key: 'odd', fields: odd }], MIN);
				await store.addCounters(ns, [{ bucket: T0 + 1, key: 'odd', fields: odd }], MIN);
				const [row] = await store.readCounters(ns, T0 + 1, T0 + 2);
				expect(Object.getPrototypeOf(row.fields)).toBe(Object.prototype);
				expect(Object.entries(row.fields).sort()).toEqual([
					['__proto__', 4],
					['constructor', 6],
					['to:string', 8],
				]);
			});

			it('never loses concurrent adds, across connections', async () => {
				const other = another();
				await Promise.all(
					Array.from({ length: 40 }, (_, i) =>
						(i % 2 ? store : other).addCounters(
							ns,
							[
								{ bucket: T0, key: 'hot', fields: { calls: 1, tokens: i } },
								{ bucket: T0 + (i % 3), key: `k${i % 3}`, fields: { calls: 1 } },
							],
							MIN,
						),
					),
				);
				const rows = sorted(await all());
				expect(rows).toEqual([
					{ bucket: T0, key: 'hot', fields: { calls: 40, tokens: (39 * 40) / 2 } },
					{ bucket: T0, key: 'k0', fields: { calls: 14 } },
					{ bucket: T0 + 1, key: 'k1', fields: { calls: 13 } },
					{ bucket: T0 + 2, key: 'k2', fields: { calls: 13 } },
				]);
			});

			it('reads events oldest first, up to the limit, in [from, to), keeping duplicates', async () => {
				const value = { model: 'gpt', text: 'Grüße "x"\n🔑', nested: [1, null, { a: true }] };
				await store.appendEvents(
					ns,
					[
						{ at: T0 + 3, value: 'd' },
						{ at: T0 + 1, value },
						{ at: T0 + 1, value },
						{ at: T0, value: 'a' },
						{ at: T0 + 5, value: null },
					],
					MIN,
				);
				await store.appendEvents(ns, [{ at: T0 + 1, value }], MIN); // a third, in another batch
				await store.appendEvents(ns, [], MIN);
				await store.appendEvents(`${ns}-other`, [{ at: T0, value: 'other' }], MIN);

				const read = (from: number, to: number, limit = 100) =>
					store.readEvents(ns, from, to, limit);
				expect(await read(T0, T0 + 6)).toEqual([
					{ at: T0, value: 'a' },
					{ at: T0 + 1, value },
					{ at: T0 + 1, value },
					{ at: T0 + 1, value },
					{ at: T0 + 3, value: 'd' },
					{ at: T0 + 5, value: null },
				]);
				expect(await read(T0 + 1, T0 + 5)).toEqual([
					{ at: T0 + 1, value },
					{ at: T0 + 1, value },
					{ at: T0 + 1, value },
					{ at: T0 + 3, value: 'd' },
				]);
				expect(await read(T0, T0 + 6, 2)).toEqual([
					{ at: T0, value: 'a' },
					{ at: T0 + 1, value },
				]);
				expect(await read(T0 + 0.5, T0 + 3.5)).toHaveLength(4);
				expect(await read(T0 + 6, T0 + 100)).toEqual([]);
				expect(await read(T0 + 3, T0 + 3)).toEqual([]);
				expect(await store.readEvents(`${ns}-other`, T0, T0 + 1, 10)).toEqual([
					{ at: T0, value: 'other' },
				]);
				// Each read returns copies.
				const [, first] = await read(T0, T0 + 6);
				(first.value as { model: string }).model = 'changed';
				expect((await read(T0 + 1, T0 + 2, 1))[0].value).toEqual(value);
			});

			it('keeps each event until at + ttl; the limit counts live events only', async () => {
				// Even times live a minute, odd ones ten (in one batch: ttl is per batch).
				const batch = (odd: number) =>
					Array.from({ length: 10 }, (_, i) => ({ at: T0 + i, value: i })).filter(
						(e) => e.value % 2 === odd,
					);
				await store.appendEvents(ns, batch(0), MIN);
				await store.appendEvents(ns, batch(1), 10 * MIN);
				const values = async (limit: number) =>
					(await store.readEvents(ns, T0, T0 + 10, limit)).map((e) => e.value);
				expect(await values(100)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
				t = T0 + MIN + 4; // the events at T0, T0+2 and T0+4 have ended
				expect(await values(3)).toEqual([1, 3, 5]);
				expect(await values(100)).toEqual([1, 3, 5, 6, 7, 8, 9]);
				t = T0 + 10 * MIN + 9;
				expect(await values(100)).toEqual([]);
				// Appending events that have already ended stores nothing.
				await store.appendEvents(ns, [{ at: T0, value: 'late' }], MIN);
				expect(await values(100)).toEqual([]);
			});

			it('rejects meaningless arguments with a plain error, writing nothing of the batch', async () => {
				const good: CounterAdd = { bucket: T0, key: 'k', fields: { calls: 1 } };
				const badAdds: unknown[] = [
					{ ...good, bucket: T0 + 0.5 },
					{ ...good, bucket: Number.NaN },
					{ ...good, bucket: String(T0) },
					{ ...good, key: 7 },
					{ ...good, fields: null },
					{ ...good, fields: { Calls: 1 } },
					{ ...good, fields: { '': 1 } },
					{ ...good, fields: { 'a-b': 1 } },
					{ ...good, fields: { calls: Number.POSITIVE_INFINITY } },
					{ ...good, fields: { calls: '1' } },
					{ ...good, fields: { calls: 2 ** 60 } },
					null,
				];
				const failures: Array<() => Promise<unknown>> = [
					...badAdds.map((bad) => () => store.addCounters(ns, [good, bad as CounterAdd], MIN)),
					() => store.addCounters(ns, [good], 0),
					() => store.addCounters(ns, [good], Number.NaN),
					() => store.addCounters(ns, 'x' as unknown as CounterAdd[], MIN),
					() => store.addCounters('', [good], MIN),
					() => store.readCounters(ns, Number.NaN, T0),
					() => store.readCounters('', T0, T0 + 1),
					() =>
						store.appendEvents(
							ns,
							[
								{ at: T0, value: 1 },
								{ at: T0 + 0.5, value: 1 },
							],
							MIN,
						),
					() => store.appendEvents(ns, [{ at: T0, value: 1 }], -1),
					() => store.appendEvents('', [], MIN),
					() => store.readEvents(ns, T0, T0 + 1, 0),
					() => store.readEvents(ns, T0, T0 + 1, 1.5),
					() => store.readEvents(ns, T0, Number.NaN, 1),
				];
				const circular: Record<string, unknown> = {};
				circular.self = circular;
				failures.push(() => store.appendEvents(ns, [{ at: T0, value: circular }], MIN));
				for (const call of failures) {
					const error = await call().then(
						() => undefined,
						(e: unknown) => e,
					);
					expect(error).toBeInstanceOf(Error);
					expect(error).not.toBeInstanceOf(StoreError);
				}
				expect(await all()).toEqual([]);
				expect(await store.readEvents(ns, -Infinity, Infinity, 10)).toEqual([]);
			});

			(backend.durable ? it : it.skip)(
				'keeps counters and events across a close and reopen',
				async () => {
					await store.addCounters(ns, [{ bucket: T0, key: 'k', fields: { calls: 2 } }], MIN);
					await store.appendEvents(ns, [{ at: T0, value: { n: 1 } }], MIN);
					await store.close();
					const reopened = make();
					await reopened.addCounters(ns, [{ bucket: T0, key: 'k', fields: { calls: 3 } }], MIN);
					expect(await reopened.readCounters(ns, T0, T0 + 1)).toEqual([
						{ bucket: T0, key: 'k', fields: { calls: 5 } },
					]);
					expect(await reopened.readEvents(ns, T0, T0 + 1, 10)).toEqual([
						{ at: T0, value: { n: 1 } },
					]);
				},
			);
		},
	);
});

describe('a ledger batch with nothing to write', () => {
	let dir: string;
	beforeAll(() => {
		dir = mkdtempSync(join(tmpdir(), 'aip-ledger-'));
		writeFileSync(join(dir, 'a-file'), '');
	});
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	const unreachable: Array<[string, () => StateStore]> = [
		['Redis', () => new RedisStore({ host: '127.0.0.1', port: 1, connectTimeoutMs: 500 })],
		['Postgres', () => new PostgresStore({ ...POSTGRES, port: 1, connectTimeoutMs: 500 })],
		['SQLite', () => new SqliteStore({ path: join(dir, 'a-file', 'state.sqlite') })],
	];

	it.each(unreachable)(
		'%s: makes no round trip (so an unreachable store is not an error)',
		async (_, make) => {
			const store = make();
			try {
				await store.addCounters('ns', [], MIN);
				await store.appendEvents('ns', [], MIN);
				// Only ended buckets and events: dropped before any I/O.
				await store.addCounters('ns', [{ bucket: 0, key: 'k', fields: { calls: 1 } }], MIN);
				await store.appendEvents('ns', [{ at: 0, value: 1 }], MIN);
				expect(await store.readCounters('ns', T0, T0)).toEqual([]);
				expect(await store.readEvents('ns', T0, T0, 10)).toEqual([]);
				// A batch with something in it does reach the store, and fails.
				await expect(
					store.addCounters('ns', [{ bucket: Date.now(), key: 'k', fields: { calls: 1 } }], MIN),
				).rejects.toBeInstanceOf(StoreError);
			} finally {
				await store.close();
			}
		},
	);
});

describe('the Postgres ledger table names', () => {
	const named = (t: string) => {
		const store = new PostgresStore({ ...POSTGRES, table: t });
		return [store.countersTable, store.eventsTable];
	};
	it('are <table>_counters and <table>_events, within 63 characters and apart for long names', () => {
		expect(named('n8n_ai_patterns_state')).toEqual([
			'n8n_ai_patterns_state_counters',
			'n8n_ai_patterns_state_events',
		]);
		const a = named(`${'t'.repeat(60)}_a`);
		const b = named(`${'t'.repeat(60)}_b`);
		for (const name of [...a, ...b]) expect(name.length).toBeLessThanOrEqual(63);
		expect(a[0]).not.toBe(b[0]);
		expect(a[1]).not.toBe(b[1]);
	});
});
