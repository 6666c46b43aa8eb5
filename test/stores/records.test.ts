/**
 * The versioned-record contract (the Job Queue's basis), every backend: compare-and-set on the
 * version, expiry as absence, the due sweep and counts by tag. Time is a fake clock.
 */
import { StoreError } from '../../lib/stores/common';
import { PostgresStore } from '../../lib/stores/postgres';
import type { RecordWrite, StateStore } from '../../lib/stores/types';
import { backends, describeWithService, POSTGRES } from './backends';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

const write = (value: unknown, extra: Partial<RecordWrite> = {}): RecordWrite => ({
	value,
	dueAt: null,
	tag: 'queued',
	ttlMs: 10 * MIN,
	...extra,
});

describe.each(backends())('$name store', (backend) => {
	describeWithService(
		backend.service ?? '',
		backend.available,
		`${backend.name} versioned records`,
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

			beforeEach(() => {
				t = T0;
				ns = `rec-${Date.now().toString(36)}-${++n}`;
				store = make();
			});
			afterEach(async () => {
				await Promise.all(open.splice(0).map(async (s) => await s.close()));
			});
			afterAll(async () => await backend.cleanup());

			it('creates a record at version 1 (expected 0) and reads it back', async () => {
				expect(await store.getRecord(ns, 'job-1')).toBeUndefined();
				expect(await store.putRecord(ns, 'job-1', write({ n: 1 }, { dueAt: T0 + 5 }), 0)).toBe(1);
				expect(await store.getRecord(ns, 'job-1')).toEqual({
					key: 'job-1',
					value: { n: 1 },
					version: 1,
					dueAt: T0 + 5,
					tag: 'queued',
					expiresAt: T0 + 10 * MIN,
				});
				// Creating again loses: the record is there.
				expect(await store.putRecord(ns, 'job-1', write({ n: 2 }), 0)).toBe(0);
				expect((await store.getRecord(ns, 'job-1'))?.value).toEqual({ n: 1 });
			});

			it('keeps times in whole milliseconds, rounded up', async () => {
				await store.putRecord(ns, 'k', write(1, { dueAt: T0 + 0.25, ttlMs: 1000.5 }), 0);
				expect(await store.getRecord(ns, 'k')).toMatchObject({
					dueAt: T0 + 1,
					expiresAt: T0 + 1001,
				});
				expect(await store.dueRecords(ns, 10)).toEqual([]);
				t = T0 + 1;
				expect((await store.dueRecords(ns, 10)).map((r) => r.key)).toEqual(['k']);
			});

			it('compare-and-set: the current version wins once, a stale or future version loses', async () => {
				await store.putRecord(ns, 'k', write('v1'), 0);
				t += 1000;
				expect(await store.putRecord(ns, 'k', write('v2', { tag: 'running', ttlMs: MIN }), 1)).toBe(
					2,
				);
				expect(await store.putRecord(ns, 'k', write('stale'), 1)).toBe(0);
				expect(await store.putRecord(ns, 'k', write('future'), 3)).toBe(0);
				expect(await store.getRecord(ns, 'k')).toEqual({
					key: 'k',
					value: 'v2',
					version: 2,
					dueAt: null,
					tag: 'running',
					expiresAt: T0 + 1000 + MIN,
				});
				expect(await store.putRecord(ns, 'k', write('v3'), 2)).toBe(3);
				expect((await store.getRecord(ns, 'k'))?.value).toBe('v3');
				// A version for a record that does not exist loses too.
				expect(await store.putRecord(ns, 'absent', write('x'), 1)).toBe(0);
				expect(await store.getRecord(ns, 'absent')).toBeUndefined();
			});

			it('exactly one of many concurrent puts with the same version wins, across connections', async () => {
				const other = another();
				const creates = await Promise.all(
					Array.from({ length: 30 }, (_, i) =>
						(i % 2 ? store : other).putRecord(ns, 'hot', write(i), 0),
					),
				);
				expect(creates.filter((v) => v === 1)).toHaveLength(1);
				expect(creates.filter((v) => v === 0)).toHaveLength(29);
				const moves = await Promise.all(
					Array.from({ length: 30 }, (_, i) =>
						(i % 2 ? store : other).putRecord(ns, 'hot', write(`w${i}`, { tag: 'running' }), 1),
					),
				);
				expect(moves.filter((v) => v === 2)).toHaveLength(1);
				const winner = moves.indexOf(2);
				expect(await store.getRecord(ns, 'hot')).toMatchObject({
					value: `w${winner}`,
					version: 2,
					tag: 'running',
				});
			});

			it('an expired record reads as absent: its version no longer wins and a create restarts at 1', async () => {
				await store.putRecord(ns, 'k', write('old', { ttlMs: MIN, dueAt: T0 }), 0);
				await store.putRecord(ns, 'k', write('old', { ttlMs: MIN, dueAt: T0 }), 1);
				t += MIN - 1;
				expect((await store.getRecord(ns, 'k'))?.version).toBe(2);
				t += 1;
				expect(await store.getRecord(ns, 'k')).toBeUndefined();
				expect(await store.dueRecords(ns, 10)).toEqual([]);
				expect(await store.countRecords(ns)).toEqual({});
				expect(await store.putRecord(ns, 'k', write('late'), 2)).toBe(0);
				expect(await store.putRecord(ns, 'k', write('new', { tag: 'done' }), 0)).toBe(1);
				expect(await store.getRecord(ns, 'k')).toEqual({
					key: 'k',
					value: 'new',
					version: 1,
					dueAt: null,
					tag: 'done',
					expiresAt: T0 + MIN + 10 * MIN,
				});
				expect(await store.countRecords(ns)).toEqual({ done: 1 });
			});

			it('lists due records earliest first, up to the limit, live only, never those without a due time', async () => {
				// Written out of order; due at T0-3 … T0+2, one never due, one due but expiring.
				const plan: Array<[string, number | null, number]> = [
					['c', T0 - 1, 10 * MIN],
					['later', T0 + 2, 10 * MIN],
					['a', T0 - 3, 10 * MIN],
					['never', null, 10 * MIN],
					['expiring', T0 - 10, 1000],
					['b', T0 - 2, 10 * MIN],
					['now', T0, 10 * MIN],
				];
				for (const [key, dueAt, ttlMs] of plan)
					expect(await store.putRecord(ns, key, write({ key }, { dueAt, ttlMs }), 0)).toBe(1);
				const keys = async (limit: number) => (await store.dueRecords(ns, limit)).map((r) => r.key);

				expect(await keys(100)).toEqual(['expiring', 'a', 'b', 'c', 'now']);
				expect(await keys(2)).toEqual(['expiring', 'a']);
				t = T0 + 1; // due at T0+2: not yet
				expect(await keys(100)).toEqual(['expiring', 'a', 'b', 'c', 'now']);
				t = T0 + 2;
				expect(await keys(100)).toEqual(['expiring', 'a', 'b', 'c', 'now', 'later']);
				t = T0 + 1000; // "expiring" is gone
				expect(await keys(2)).toEqual(['a', 'b']);
				expect(await keys(100)).toEqual(['a', 'b', 'c', 'now', 'later']);
				const [first] = await store.dueRecords(ns, 1);
				expect(first).toEqual({
					key: 'a',
					value: { key: 'a' },
					version: 1,
					dueAt: T0 - 3,
					tag: 'queued',
					expiresAt: T0 + 10 * MIN,
				});

				// Moving a record's due time moves it in the list; a null due time takes it out.
				await store.putRecord(ns, 'a', write({ key: 'a' }, { dueAt: T0 + MIN }), 1);
				await store.putRecord(ns, 'b', write({ key: 'b' }, { dueAt: null }), 1);
				expect(await keys(100)).toEqual(['c', 'now', 'later']);
				t = T0 + MIN;
				expect(await keys(100)).toEqual(['c', 'now', 'later', 'a']);
				// Namespaces are apart.
				expect(await store.dueRecords(`${ns}-other`, 100)).toEqual([]);
			});

			it('caps dueRecords at 1000', async () => {
				const writes = Array.from({ length: 1001 }, (_, i) =>
					store.putRecord(ns, `k${i}`, write(i, { dueAt: T0 - 2000 + i }), 0),
				);
				expect(new Set(await Promise.all(writes))).toEqual(new Set([1]));
				const due = await store.dueRecords(ns, 5000);
				expect(due).toHaveLength(1000);
				expect(due[0].key).toBe('k0');
				expect(due[999].key).toBe('k999');
				expect(await store.countRecords(ns)).toEqual({ queued: 1001 });
			}, 60_000);

			it('counts live records per tag, following tag changes and expiry', async () => {
				expect(await store.countRecords(ns)).toEqual({});
				await store.putRecord(ns, 'a', write(1), 0);
				await store.putRecord(ns, 'b', write(2), 0);
				await store.putRecord(ns, 'c', write(3, { ttlMs: MIN }), 0);
				await store.putRecord(`${ns}-other`, 'z', write(9), 0);
				expect(await store.countRecords(ns)).toEqual({ queued: 3 });

				await store.putRecord(ns, 'a', write(1, { tag: 'running' }), 1);
				expect(await store.countRecords(ns)).toEqual({ queued: 2, running: 1 });
				await store.putRecord(ns, 'a', write(1, { tag: 'done' }), 2);
				await store.putRecord(ns, 'b', write(2, { tag: 'done' }), 1);
				expect(await store.countRecords(ns)).toEqual({ queued: 1, done: 2 });
				// A losing put changes nothing.
				await store.putRecord(ns, 'c', write(3, { tag: 'running' }), 7);
				expect(await store.countRecords(ns)).toEqual({ queued: 1, done: 2 });

				t += MIN; // c expires
				expect(await store.countRecords(ns)).toEqual({ done: 2 });
				await store.putRecord(ns, 'c', write(3, { tag: 'failed' }), 0);
				expect(await store.countRecords(ns)).toEqual({ done: 2, failed: 1 });
				t = T0 + 10 * MIN; // a and b expire; c, rewritten at T0+1min, lives on
				expect(await store.countRecords(ns)).toEqual({ failed: 1 });
				expect(await store.countRecords(`${ns}-other`)).toEqual({});
			});

			it('round-trips nested JSON and unicode in values, keys, namespaces and tags', async () => {
				const value = {
					text: 'Grüße ✓ 日本語 🔑 "quoted" \\ end',
					nested: { list: [1, 2.5, null, true, { deep: ['x'] }], empty: {} },
					zero: 0,
				};
				const odd: Array<[string, string]> = [
					[ns, 'ключ 🔑 "quoted" \\ end'],
					[`${ns}:a`, 'b'],
					[ns, 'a:b'],
					[`${ns}%3Aa`, 'b'],
					[`${ns} {x}`, 'k'],
				];
				for (const [space, key] of odd)
					expect(
						await store.putRecord(space, key, write(value, { tag: 'état ✓', dueAt: T0 }), 0),
					).toBe(1);
				for (const [space, key] of odd) {
					expect(await store.getRecord(space, key)).toMatchObject({ key, value, tag: 'état ✓' });
					expect(await store.dueRecords(space, 10)).toContainEqual(
						expect.objectContaining({ key, value }),
					);
				}
				expect(await store.countRecords(ns)).toEqual({ 'état ✓': 2 });
				for (const scalar of ['text', 42, null, [], false]) {
					await store.putRecord(ns, `s-${JSON.stringify(scalar)}`, write(scalar), 0);
					expect((await store.getRecord(ns, `s-${JSON.stringify(scalar)}`))?.value).toEqual(scalar);
				}
				// Records do not share a key space with claims or values.
				await store.set(ns, 'a:b', 'cached', MIN);
				await store.claim(ns, 'a:b', { leaseMs: MIN });
				expect((await store.getRecord(ns, 'a:b'))?.value).toEqual(value);
				expect(await store.get(ns, 'a:b')).toBe('cached');
			});

			it('rejects meaningless arguments with a plain error, not a store error', async () => {
				for (const call of [
					() => store.dueRecords(ns, 0),
					() => store.dueRecords(ns, -1),
					() => store.dueRecords(ns, 2.5),
					() => store.dueRecords(ns, Number.NaN),
					() => store.dueRecords(ns, '10' as unknown as number),
				]) {
					const error = await call().then(
						() => undefined,
						(e: unknown) => e,
					);
					expect(error).toBeInstanceOf(Error);
					expect(error).not.toBeInstanceOf(StoreError);
					expect((error as Error).message).toMatch(/limit/);
				}
				for (const call of [
					() => store.putRecord(ns, 'k', write(1, { ttlMs: 0 }), 0),
					() => store.putRecord(ns, 'k', write(1, { tag: '' }), 0),
					() => store.putRecord(ns, 'k', write(1, { dueAt: Number.NaN }), 0),
					() => store.putRecord(ns, 'k', write(1), -1),
					() => store.putRecord(ns, 'k', write(1), 1.5),
					() => store.putRecord('', 'k', write(1), 0),
					() => store.putRecord(ns, '', write(1), 0),
					() => store.getRecord(ns, ''),
					() => store.dueRecords('', 1),
					() => store.countRecords(''),
				]) {
					const error = await (call() as Promise<unknown>).then(
						() => undefined,
						(e: unknown) => e,
					);
					expect(error).toBeInstanceOf(Error);
					expect(error).not.toBeInstanceOf(StoreError);
				}
				const circular: Record<string, unknown> = {};
				circular.self = circular;
				await expect(store.putRecord(ns, 'k', write(circular), 0)).rejects.toThrow(
					/cannot be stored as JSON/,
				);
				expect(await store.getRecord(ns, 'k')).toBeUndefined();
			});

			(backend.durable ? it : it.skip)('keeps records across a close and reopen', async () => {
				await store.putRecord(ns, 'job', write({ attempt: 1 }, { dueAt: T0 - 1 }), 0);
				await store.putRecord(ns, 'job', write({ attempt: 2 }, { dueAt: T0, tag: 'running' }), 1);
				await store.putRecord(ns, 'other', write('x', { tag: 'done' }), 0);
				await store.close();

				const reopened = make();
				expect(await reopened.getRecord(ns, 'job')).toEqual({
					key: 'job',
					value: { attempt: 2 },
					version: 2,
					dueAt: T0,
					tag: 'running',
					expiresAt: T0 + 10 * MIN,
				});
				expect((await reopened.dueRecords(ns, 10)).map((r) => r.key)).toEqual(['job']);
				expect(await reopened.countRecords(ns)).toEqual({ running: 1, done: 1 });
				expect(await reopened.putRecord(ns, 'job', write({ attempt: 3 }), 1)).toBe(0);
				expect(await reopened.putRecord(ns, 'job', write({ attempt: 3 }), 2)).toBe(3);
			});
		},
	);
});

describe('the Postgres records table name', () => {
	const named = (table: string) => new PostgresStore({ ...POSTGRES, table }).recordsTable;
	it('is <table>_records, and stays within 63 characters and apart for long table names', () => {
		expect(named('n8n_ai_patterns_state')).toBe('n8n_ai_patterns_state_records');
		const a = named(`${'t'.repeat(60)}_a`);
		const b = named(`${'t'.repeat(60)}_b`);
		expect(a.length).toBeLessThanOrEqual(63);
		expect(b.length).toBeLessThanOrEqual(63);
		expect(a).not.toBe(b);
	});
});
