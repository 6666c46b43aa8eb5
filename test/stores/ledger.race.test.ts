/**
 * The usage ledger under load from many n8n workers: 8 OS processes, each with its own connection,
 * write 500 batches each into the same few buckets, keys and fields at the same moment. No add may
 * be lost: the sums must be the exact totals of what was sent, and every event must be there once.
 * Redis uses database 11 and Postgres tables named ai_patterns_ledger_test_race_…, both removed
 * afterwards.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import type { CounterAdd, StoredEvent } from '../../lib/stores/types';
import { backends, describeWithService, type Backend } from './backends';
import { transpileStores, type Sources } from './sources';
import { waitFor as waitForMessage } from './workers';

const WORKERS = 8;
const BATCHES = 500;
/** Batches each worker has in flight at once (SQLite's calls are synchronous: one at a time there). */
const IN_FLIGHT = 4;
const TTL_MS = 3_600_000;
const REDIS_DB = 11;

const runId = `${process.pid}_${Date.now().toString(36)}`;
const keyPrefix = `aip-ledger-race-${runId}`;
const table = `ai_patterns_ledger_test_race_${runId}`;

type Message =
	| { type: 'ready' }
	| { type: 'done'; written: number }
	| { type: 'error'; message: string };

const waitFor = <T extends Message['type']>(child: ChildProcess, type: T) =>
	waitForMessage<Message, T>(child, type);

/** SQLite, and Redis and Postgres moved to this suite's database and tables. */
function shared(): Backend[] {
	return backends({ redisDb: REDIS_DB, keyPrefix, table }).flatMap((backend): Backend[] => {
		switch (backend.kind) {
			case 'local':
				// Eight processes queue for one write lock: give them longer than the 5 s default.
				return [
					{
						...backend,
						workerConfig: () => ({ ...backend.workerConfig(), busyTimeoutMs: 60_000 }),
					},
				];
			case 'redis':
			case 'postgres':
				return [backend];
			default:
				return [];
		}
	});
}

const HOSTILE = `"quoted"\n${'long '.repeat(500)}ключ 🔑 \\ {slot}`;

/**
 * Worker w's batch i: the same hot row in every batch (twice, so repeats within a batch are summed
 * too), a hostile key, one of three rows spread over three buckets, and two events — one equal in
 * every batch of every worker (duplicates must all be kept) and one naming its writer.
 */
function batch(
	w: number,
	i: number,
	bucket: number,
	at: number,
): { adds: CounterAdd[]; events: StoredEvent[] } {
	return {
		adds: [
			{ bucket, key: 'hot', fields: { calls: 1, tokens: w * 1000 + i, half: 0.6 } },
			{ bucket, key: HOSTILE, fields: { calls: 1 } },
			{
				bucket: bucket + (i % 3) * 60_000,
				key: `k${i % 3}`,
				fields: { calls: 1, cost_nusd: 1_000_000_007 },
			},
			{ bucket, key: 'hot', fields: { calls: 1 } },
		],
		events: [
			{ at, value: 'same' },
			{ at: at + (i % 10), value: { w, i } },
		],
	};
}

describe.each(shared())('$name under concurrent ledger writes', (backend: Backend) => {
	describeWithService(
		backend.service ?? '',
		backend.available,
		`${backend.name}: ${WORKERS} processes write ${BATCHES} batches each into the same rows`,
		() => {
			const children: ChildProcess[] = [];
			let sources: Sources;
			beforeAll(() => {
				sources = transpileStores();
			});
			afterAll(async () => {
				for (const child of children) if (child.exitCode === null) child.kill();
				sources?.cleanup();
				await backend.cleanup();
			});

			it('sums to the exact totals and keeps every event', async () => {
				const namespace = `ledger-race-${Date.now()}`;
				const bucket = Math.floor(Date.now() / 60_000) * 60_000;
				const at = Date.now();
				const plans = Array.from({ length: WORKERS }, (_, w) =>
					Array.from({ length: BATCHES }, (_, i) => batch(w, i, bucket, at)),
				);

				// The totals, from the plans: per bucket and key, per field, each value rounded.
				const expected = new Map<string, Record<string, number>>();
				for (const { adds } of plans.flat())
					for (const add of adds) {
						const id = JSON.stringify([add.bucket, add.key]);
						const sums = expected.get(id) ?? {};
						for (const [field, value] of Object.entries(add.fields))
							sums[field] = (sums[field] ?? 0) + Math.round(value);
						expected.set(id, sums);
					}

				for (let w = 0; w < WORKERS; w++)
					children.push(
						fork(join(__dirname, 'ledger-worker.js'), [], {
							execArgv: ['--disable-warning=ExperimentalWarning'],
							env: sources.env,
						}),
					);
				const ready = children.map((child) => waitFor(child, 'ready'));
				const done = children.map((child) => waitFor(child, 'done'));
				children.forEach((child, w) =>
					child.send({
						type: 'init',
						config: backend.workerConfig(),
						sourceDir: sources.dir,
						namespace,
						batches: plans[w],
						ttlMs: TTL_MS,
						inFlight: IN_FLIGHT,
					}),
				);
				await Promise.all(ready);
				for (const child of children) child.send({ type: 'go' });
				const results = await Promise.all(done);
				expect(results.map((r) => r.written)).toEqual(Array(WORKERS).fill(BATCHES));

				const store = backend.make();
				try {
					const rows = await store.readCounters(namespace, bucket, bucket + 3 * 60_000);
					const got = new Map(rows.map((r) => [JSON.stringify([r.bucket, r.key]), r.fields]));
					expect(got).toEqual(expected);
					// Spelled out for the hot row, so a wrong total cannot hide behind a wrong plan.
					expect(got.get(JSON.stringify([bucket, 'hot']))).toEqual({
						calls: 2 * WORKERS * BATCHES,
						tokens:
							(BATCHES * WORKERS * (WORKERS - 1) * 1000) / 2 +
							(WORKERS * BATCHES * (BATCHES - 1)) / 2,
						half: WORKERS * BATCHES,
					});

					const events = await store.readEvents(namespace, at, at + 10, 10_000);
					expect(events).toHaveLength(2 * WORKERS * BATCHES);
					expect(events.filter((e) => e.value === 'same')).toHaveLength(WORKERS * BATCHES);
					const writers = events
						.filter((e) => e.value !== 'same')
						.map((e) => JSON.stringify(e.value));
					expect(new Set(writers).size).toBe(WORKERS * BATCHES);
					expect(events.map((e) => e.at)).toEqual(
						[...events.map((e) => e.at)].sort((a, b) => a - b),
					);
				} finally {
					await store.close();
				}
			}, 120_000);
		},
	);
});
