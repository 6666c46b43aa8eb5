/**
 * One contract, every backend: what the Idempotency Guard, the response cache and the circuit
 * breaker rely on. Time is a fake clock, so leases and retention expire without sleeping.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { StoreError } from '../../lib/stores/common';
import { PostgresStore } from '../../lib/stores/postgres';
import { RedisStore } from '../../lib/stores/redis';
import { SqliteStore } from '../../lib/stores/sqlite';
import type { StateStore } from '../../lib/stores/types';
import { backends, describeWithService, POSTGRES, REDIS, reachable } from './backends';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

describe.each(backends())('$name store', (backend) => {
	describeWithService(
		backend.service ?? '',
		backend.available,
		`${backend.name} store contract`,
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
				ns = `ns-${++n}`;
				store = make();
			});
			afterEach(async () => {
				await Promise.all(open.splice(0).map(async (s) => await s.close()));
			});
			afterAll(async () => await backend.cleanup());

			it('claims once, reports in-progress, completes, then replays the stored result', async () => {
				const first = await store.claim(ns, 'order-1', { leaseMs: 5 * MIN, fingerprint: 'fp' });
				expect(first.outcome).toBe('claimed');
				expect(first.record).toEqual({
					key: 'order-1',
					status: 'in_progress',
					fingerprint: 'fp',
					token: expect.stringMatching(/^[0-9a-f-]{36}$/),
					createdAt: T0,
					expiresAt: T0 + 5 * MIN,
				});

				t += 1000;
				const again = await store.claim(ns, 'order-1', { leaseMs: 5 * MIN, fingerprint: 'fp' });
				expect(again).toEqual({ outcome: 'in_progress', record: first.record });

				const result = {
					status: 201,
					body: { id: 'A-1', lines: [1, 2], note: 'Grüße ✓', none: null },
				};
				t += 1000;
				expect(
					await store.complete(ns, 'order-1', {
						result,
						retentionMs: 24 * 60 * MIN,
						token: first.record.token,
					}),
				).toBe(true);

				t += 1000;
				const dup = await store.claim(ns, 'order-1', { leaseMs: 5 * MIN, fingerprint: 'fp' });
				expect(dup.outcome).toBe('completed');
				expect(dup.record).toEqual({
					...first.record,
					status: 'completed',
					result,
					expiresAt: T0 + 2000 + 24 * 60 * MIN,
				});
				expect(await store.read(ns, 'order-1')).toEqual(dup.record);
				expect(await store.read(ns, 'other')).toBeUndefined();
			});

			it('lets a crashed claim be taken over once its lease has expired', async () => {
				const crashed = await store.claim(ns, 'k', { leaseMs: MIN });
				t += MIN - 1;
				expect((await store.claim(ns, 'k', { leaseMs: MIN })).outcome).toBe('in_progress');
				t += 1;
				expect(await store.read(ns, 'k')).toBeUndefined();
				const takeover = await store.claim(ns, 'k', { leaseMs: MIN });
				expect(takeover.outcome).toBe('claimed');
				expect(takeover.record.token).not.toBe(crashed.record.token);
				expect(takeover.record.createdAt).toBe(T0 + MIN); // an expired record counts as absent

				// The crashed run's late Complete / Release must not touch the new claim.
				expect(
					await store.complete(ns, 'k', {
						result: 1,
						retentionMs: MIN,
						token: crashed.record.token,
					}),
				).toBe(false);
				expect(await store.release(ns, 'k', { token: crashed.record.token })).toBe(false);
				expect(await store.read(ns, 'k')).toMatchObject({
					status: 'in_progress',
					token: takeover.record.token,
				});
			});

			it('forgets a completed key when its retention ends', async () => {
				const { record } = await store.claim(ns, 'k', { leaseMs: MIN });
				await store.complete(ns, 'k', {
					result: 'done',
					retentionMs: 10 * MIN,
					token: record.token,
				});
				t += 10 * MIN - 1;
				expect((await store.claim(ns, 'k', { leaseMs: MIN })).outcome).toBe('completed');
				t += 1;
				expect(await store.read(ns, 'k')).toBeUndefined();
				const fresh = await store.claim(ns, 'k', { leaseMs: MIN });
				expect(fresh.outcome).toBe('claimed');
				expect(fresh.record.createdAt).toBe(t);
			});

			it('reports a conflict for the same key with another fingerprint, in progress or completed', async () => {
				const { record } = await store.claim(ns, 'k', { leaseMs: MIN, fingerprint: 'A' });
				expect((await store.claim(ns, 'k', { leaseMs: MIN, fingerprint: 'B' })).outcome).toBe(
					'conflict',
				);
				await store.complete(ns, 'k', {
					result: { ok: true },
					retentionMs: MIN,
					token: record.token,
				});
				const conflict = await store.claim(ns, 'k', { leaseMs: MIN, fingerprint: 'B' });
				expect(conflict.outcome).toBe('conflict');
				expect(conflict.record).toMatchObject({ status: 'completed', fingerprint: 'A' });
				expect((await store.claim(ns, 'k', { leaseMs: MIN, fingerprint: 'A' })).outcome).toBe(
					'completed',
				);
				// Without a fingerprint there is nothing to compare.
				expect((await store.claim(ns, 'k', { leaseMs: MIN })).outcome).toBe('completed');
			});

			it('releases a claim (only with its token, when one is given) so a retry can run', async () => {
				const { record } = await store.claim(ns, 'k', { leaseMs: MIN });
				expect(await store.release(ns, 'k', { token: 'someone-else' })).toBe(false);
				expect((await store.read(ns, 'k'))?.status).toBe('in_progress');
				expect(await store.release(ns, 'k', { token: record.token })).toBe(true);
				expect(await store.read(ns, 'k')).toBeUndefined();
				expect(await store.release(ns, 'k')).toBe(false);

				const retry = await store.claim(ns, 'k', { leaseMs: MIN });
				expect(retry.outcome).toBe('claimed');
				expect(await store.release(ns, 'k')).toBe(true);
			});

			it('completes only its own claim, and records a result whose lease ran out untaken', async () => {
				const { record } = await store.claim(ns, 'k', { leaseMs: MIN, fingerprint: 'A' });
				expect(
					await store.complete(ns, 'k', { result: 'x', retentionMs: MIN, token: 'wrong' }),
				).toBe(false);
				expect(await store.read(ns, 'k')).toMatchObject({
					status: 'in_progress',
					token: record.token,
				});

				t += 2 * MIN; // the lease ran out, nobody took over
				expect(
					await store.complete(ns, 'k', { result: 'late', retentionMs: MIN, token: record.token }),
				).toBe(true);
				expect(await store.read(ns, 'k')).toMatchObject({
					status: 'completed',
					result: 'late',
					createdAt: t,
				});

				// Complete without a claim marks the key processed too.
				expect(await store.complete(ns, 'never-claimed', { result: null, retentionMs: MIN })).toBe(
					true,
				);
				const dup = await store.claim(ns, 'never-claimed', { leaseMs: MIN });
				expect(dup.outcome).toBe('completed');
				expect(dup.record.result).toBeNull();
			});

			it('keeps namespaces and keys apart, whatever characters they hold', async () => {
				const pairs: Array<[string, string]> = [
					[`${ns}:a`, 'b'],
					[ns, 'a:b'],
					[`${ns}%3Aa`, 'b'],
					[ns, 'ключ 🔑 "quoted" \\ end'],
				];
				for (const [space, key] of pairs)
					expect((await store.claim(space, key, { leaseMs: MIN })).outcome).toBe('claimed');
				for (const [space, key] of pairs) expect((await store.read(space, key))?.key).toBe(key);
				// Claims, values and counters do not share a key space.
				await store.set(ns, 'a:b', 'value', MIN);
				expect(await store.increment(ns, 'a:b', MIN)).toBe(1);
				expect((await store.read(ns, 'a:b'))?.status).toBe('in_progress');
				expect(await store.get(ns, 'a:b')).toBe('value');
			});

			it('exactly one of many concurrent claims wins, across separate connections', async () => {
				const other = another();
				const attempts = Array.from({ length: 40 }, (_, i) =>
					(i % 2 ? store : other).claim(ns, 'hot', { leaseMs: MIN }),
				);
				const outcomes = (await Promise.all(attempts)).map((o) => o.outcome);
				expect(outcomes.filter((o) => o === 'claimed')).toHaveLength(1);
				expect(outcomes.filter((o) => o === 'in_progress')).toHaveLength(39);
			});

			it('gets and sets JSON values with a time to live, and deletes them', async () => {
				expect(await store.get(ns, 'v')).toBeUndefined();
				const value = { answer: 'Paris', tokens: [3, 4], cost: 0.0012, nested: { ok: true } };
				await store.set(ns, 'v', value, 30_000);
				expect(await store.get(ns, 'v')).toEqual(value);
				await store.set(ns, 'v', 'replaced', 30_000);
				expect(await store.get(ns, 'v')).toBe('replaced');
				await store.set(ns, 'n', null, 30_000);
				expect(await store.get(ns, 'n')).toBeNull();
				t += 29_999;
				expect(await store.get(ns, 'v')).toBe('replaced');
				t += 1;
				expect(await store.get(ns, 'v')).toBeUndefined();
				await store.set(ns, 'v', 42, 30_000);
				await store.delete(ns, 'v');
				expect(await store.get(ns, 'v')).toBeUndefined();
				await expect(store.delete(ns, 'missing')).resolves.toBeUndefined();
			});

			it('increments atomically within a fixed window that starts at the first increment', async () => {
				expect(await store.increment(ns, 'c', 10_000)).toBe(1);
				t += 4_000;
				expect(await store.increment(ns, 'c', 10_000, 2.5)).toBe(3.5);
				t += 5_999; // the window started at T0, not at the last increment
				expect(await store.increment(ns, 'c', 10_000)).toBe(4.5);
				t += 1;
				expect(await store.increment(ns, 'c', 10_000)).toBe(1);

				const other = another();
				const counts = await Promise.all(
					Array.from({ length: 50 }, (_, i) =>
						(i % 2 ? store : other).increment(ns, 'burst', 10_000),
					),
				);
				expect([...counts].sort((a, b) => a - b)).toEqual(
					Array.from({ length: 50 }, (_, i) => i + 1),
				);
			});

			it('rejects meaningless arguments with a plain error, not a store error', async () => {
				for (const call of [
					() => store.claim(ns, 'k', { leaseMs: 0 }),
					() => store.claim('', 'k', { leaseMs: MIN }),
					() => store.claim(ns, '', { leaseMs: MIN }),
					() => store.complete(ns, 'k', { result: 1, retentionMs: Number.NaN }),
					() => store.set(ns, 'k', 1, -1),
					() => store.increment(ns, 'k', 0),
				]) {
					const error = await call().then(
						() => undefined,
						(e: unknown) => e,
					);
					expect(error).toBeInstanceOf(Error);
					expect(error).not.toBeInstanceOf(StoreError);
				}
				const circular: Record<string, unknown> = {};
				circular.self = circular;
				await expect(
					store.complete(ns, 'k', { result: circular, retentionMs: MIN }),
				).rejects.toThrow(/cannot be stored as JSON/);
			});

			(backend.durable ? it : it.skip)(
				'keeps claims and results across a close and reopen',
				async () => {
					const { record } = await store.claim(ns, 'durable', { leaseMs: MIN, fingerprint: 'F' });
					await store.complete(ns, 'durable', {
						result: { id: 7 },
						retentionMs: MIN,
						token: record.token,
					});
					await store.claim(ns, 'pending', { leaseMs: MIN });
					await store.set(ns, 'cached', ['a'], MIN);
					await store.increment(ns, 'count', MIN, 3);
					await store.close();

					const reopened = make();
					expect(await reopened.claim(ns, 'durable', { leaseMs: MIN, fingerprint: 'F' })).toEqual({
						outcome: 'completed',
						record: { ...record, status: 'completed', result: { id: 7 }, expiresAt: T0 + MIN },
					});
					expect((await reopened.claim(ns, 'pending', { leaseMs: MIN })).outcome).toBe(
						'in_progress',
					);
					expect(await reopened.get(ns, 'cached')).toEqual(['a']);
					expect(await reopened.increment(ns, 'count', MIN)).toBe(4);
				},
			);
		},
	);
});

describe('a store that cannot be reached', () => {
	const password = 'pw-must-not-leak-7f3a';
	let dir: string;
	let notADir: string;
	beforeAll(() => {
		dir = mkdtempSync(join(tmpdir(), 'aip-unreachable-'));
		notADir = join(dir, 'a-file');
		writeFileSync(notADir, '');
	});
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	const failures: Array<[string, () => StateStore, RegExp]> = [
		[
			'Redis',
			() => new RedisStore({ host: '127.0.0.1', port: 1, password, connectTimeoutMs: 500 }),
			/^Redis at 127\.0\.0\.1:1: claim failed: .*ECONNREFUSED/,
		],
		[
			'Postgres',
			() => new PostgresStore({ ...POSTGRES, port: 1, password, connectTimeoutMs: 500 }),
			/^Postgres at 127\.0\.0\.1:1\/test: claim failed: .*ECONNREFUSED/,
		],
		[
			'SQLite in a folder that cannot be created',
			() => new SqliteStore({ path: join(notADir, 'state.sqlite') }),
			/^SQLite file .*a-file\/state\.sqlite: cannot open the database: .*a-file/,
		],
	];
	if (reachable(REDIS.host, REDIS.port) || process.env.CI === 'true')
		failures.push([
			'Redis refusing the user and password',
			() => new RedisStore({ ...REDIS, username: 'no-such-user', password }),
			/^Redis at 127\.0\.0\.1:6379: claim failed: .*WRONGPASS/,
		]);

	it.each(failures)(
		'%s: a StoreError naming the store, never the password',
		async (_, make, message) => {
			const store = make();
			try {
				const error = await store.claim('ns', 'k', { leaseMs: MIN }).then(
					() => undefined,
					(e: unknown) => e as Error,
				);
				expect(error).toBeInstanceOf(StoreError);
				expect(error!.message).toMatch(message);
				expect(
					JSON.stringify({ ...error, message: error!.message, stack: error!.stack }),
				).not.toContain(password);
			} finally {
				await store.close();
			}
		},
	);
});
