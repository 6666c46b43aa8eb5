import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { IDataObject } from 'n8n-workflow';

import { closeAllStores, getStore } from '../../lib/stores';
import { startSimulator, type Simulator } from '../../simulator';
import { logLines } from '../harness';
import { describeWithService, reachable, REDIS } from '../stores/backends';
import { pairedIndexes, runNode } from './helpers';

let sim: Simulator;
const dir = mkdtempSync(join(tmpdir(), 'ai-state-'));
let n = 0;
const freshSqlite = () => join(dir, `state-${++n}.sqlite`);

beforeAll(async () => {
	sim = await startSimulator({ seed: 3 });
});
afterAll(async () => {
	await closeAllStores(); // the node's pooled connections outlive executions, as in n8n
	await sim.close();
	rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => sim.reset());

const FAST = { maxRetries: 0, baseDelayMs: 5, maxDelayMs: 50 };
function ai(
	params: Record<string, unknown>,
	items: IDataObject[],
	extraCredentials: IDataObject = {},
) {
	return runNode(
		'aiCall',
		{
			model: { mode: 'id', value: 'sim-standard' },
			userPrompt: '={{ $json.text }}',
			...params,
			options: { ...FAST, ...(params.options as object) },
		} as never,
		items,
		{
			credentials: {
				p: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: 'sim-key' },
				...extraCredentials,
			} as never,
			nodeCredentials: {
				aiServiceApi: { id: 'p', name: 'AI' },
				...(extraCredentials.r ? { redis: { id: 'r', name: 'Redis' } } : {}),
			},
		},
	);
}
const resultOf = (item: { json: IDataObject }) => item.json.ai as IDataObject;
const errorOf = (item: { json: IDataObject }) => item.json.error as IDataObject;

/** Runs breaker-worker.js in another OS process and returns what it printed. */
function worker(job: Record<string, unknown>): unknown {
	const out = execFileSync(process.execPath, [
		join(__dirname, '../stores/breaker-worker.js'),
		JSON.stringify(job),
	]);
	return JSON.parse(out.toString());
}

describe('AI Call: response cache', () => {
	it('answers a repeated request from the cache: no call, no cost, cached: true', async () => {
		const sqlitePath = freshSqlite();
		const params = { responseCache: 'exact', store: 'local', sqlitePath };
		const first = await ai(params, [{ text: 'Please pay the invoice' }]);
		expect(resultOf(first.out[0][0])).toMatchObject({ cached: false });
		const second = await ai(params, [
			{ text: 'Please pay the invoice' },
			{ text: 'Something else' },
		]);
		expect(pairedIndexes(second.out)).toEqual([[0, 1], []]);
		expect(resultOf(second.out[0][0])).toMatchObject({
			cached: true,
			attempts: 0,
			text: resultOf(first.out[0][0]).text,
			cost: { totalUsd: 0 },
			usage: { totalTokens: 0 },
		});
		expect(resultOf(second.out[0][0]).latencyMs).toBeLessThan(20);
		expect(resultOf(second.out[0][1]).cached).toBe(false);
		expect(sim.counters().requests).toBe(2);
	});

	it('keys by an expression when asked, and force refresh calls again', async () => {
		const params = {
			responseCache: 'key',
			cacheKey: '={{ $json.docId }}',
			store: 'memory',
			options: { cacheNamespace: `ns-${Date.now()}` },
		};
		await ai(params, [{ docId: 'd1', text: 'first wording' }]);
		const again = await ai(params, [{ docId: 'd1', text: 'other wording, same document' }]);
		expect(resultOf(again.out[0][0])).toMatchObject({ cached: true });
		const refreshed = await ai({ ...params, options: { ...params.options, forceRefresh: true } }, [
			{ docId: 'd1', text: 'other wording, same document' },
		]);
		expect(resultOf(refreshed.out[0][0])).toMatchObject({ cached: false });
		expect(sim.counters().requests).toBe(2);
	});

	it('a cache hit is seen across two OS processes sharing one SQLite file', async () => {
		const sqlitePath = freshSqlite();
		const params = {
			responseCache: 'key',
			cacheKey: '={{ $json.doc }}',
			store: 'local',
			sqlitePath,
		};
		const config = { kind: 'local', path: sqlitePath };
		// this process answers and caches; the other process reads the entry
		const { out } = await ai(params, [{ doc: 'd-1', text: 'Shared answer' }]);
		expect(worker({ config, action: 'get', namespace: 'ai-call', key: 'd-1' })).toMatchObject({
			text: resultOf(out[0][0]).text,
		});
		// the other process caches an answer; this process serves it without a call
		worker({
			config,
			action: 'set',
			namespace: 'ai-call',
			key: 'd-2',
			value: { text: 'from the other worker', model: 'sim-standard', storedAt: Date.now() },
		});
		sim.reset();
		const hit = await ai(params, [{ doc: 'd-2', text: 'anything' }]);
		expect(resultOf(hit.out[0][0])).toMatchObject({ cached: true, text: 'from the other worker' });
		expect(sim.counters().requests).toBe(0);
	});

	it('keeps the last good answer for the Fallback Router, and tells failed items where it is', async () => {
		const params = { keepLastGood: true, store: 'memory', options: { cacheNamespace: 'lg-test' } };
		await ai(params, [{ text: 'Classify me' }]);
		const { out } = await ai(params, [{ text: 'Classify me [[sim:status=503]]' }]);
		// the directive is part of the prompt text, so this is another request: look up by the failed item's key instead
		const ref = errorOf(out[1][0]).cache as { namespace: string; key: string };
		expect(ref.namespace).toBe('lg-test');
		expect(await getStore({ kind: 'memory' }).get('lg-test:last-good', ref.key)).toBeUndefined();
		const ok = await ai({ ...params, responseCache: 'key', cacheKey: 'k-1' }, [
			{ text: 'Classify me' },
		]);
		expect(resultOf(ok.out[0][0]).cached).toBe(false);
		const stored = await getStore({ kind: 'memory' }).get<IDataObject>('lg-test:last-good', 'k-1');
		expect(stored).toMatchObject({
			text: resultOf(ok.out[0][0]).text,
			storedAt: expect.any(Number),
		});
	});

	it('goes on without the cache when the store is down, with a warning in the log', async () => {
		logLines.length = 0;
		const { out } = await ai({ responseCache: 'exact', store: 'redis' }, [{ text: 'hello' }], {
			r: { host: '127.0.0.1', port: 1, database: 0 },
		});
		expect(resultOf(out[0][0])).toMatchObject({ cached: false });
		// the identifiers and the store's error follow in parentheses
		expect(logLines.map((l) => l.message.replace(/ \(.*\)$/, ''))).toEqual(
			expect.arrayContaining([
				'AI Call: cache read skipped, the store failed',
				'AI Call: cache write skipped, the store failed',
			]),
		);
	});
});

describe('AI Call: circuit breaker', () => {
	const breaker = (sqlitePath: string, extra: IDataObject = {}) => ({
		circuitBreaker: true,
		store: 'local',
		sqlitePath,
		options: {
			maxConcurrency: 1,
			breakerConsecutiveFailures: 3,
			breakerCooldownSeconds: 1,
			...extra,
		},
	});

	it('opens after consecutive failures: later items fail as circuit_open without a call', async () => {
		const items = Array.from({ length: 6 }, (_, i) => ({ text: `x${i} [[sim:status=503]]` }));
		const { out } = await ai(breaker(freshSqlite()), items);
		expect(pairedIndexes(out)).toEqual([[], [0, 1, 2, 3, 4, 5]]);
		expect(out[1].map((it) => errorOf(it).class)).toEqual([
			'overloaded',
			'overloaded',
			'overloaded',
			'circuit_open',
			'circuit_open',
			'circuit_open',
		]);
		expect(errorOf(out[1][3])).toMatchObject({ attempts: 0, retryAfterMs: expect.any(Number) });
		expect(sim.counters().requests).toBe(3);
	});

	it('after the cooldown one probe goes through; its success closes the breaker', async () => {
		const sqlitePath = freshSqlite();
		await ai(
			breaker(sqlitePath),
			Array.from({ length: 3 }, () => ({ text: 'down [[sim:status=503]]' })),
		);
		const stillOpen = await ai(breaker(sqlitePath), [{ text: 'hello' }]);
		expect(errorOf(stillOpen.out[1][0]).class).toBe('circuit_open');
		await new Promise((r) => setTimeout(r, 1100));
		sim.reset();
		const recovered = await ai(breaker(sqlitePath), [{ text: 'a' }, { text: 'b' }, { text: 'c' }]);
		expect(pairedIndexes(recovered.out)).toEqual([[0, 1, 2], []]);
		expect(sim.counters().requests).toBe(3);
	});

	it('does not count answers such as 400 against the service', async () => {
		const items = Array.from({ length: 5 }, () => ({ text: 'bad [[sim:status=400]]' }));
		const { out } = await ai(breaker(freshSqlite()), items);
		expect(out[1].map((it) => errorOf(it).class)).toEqual(Array(5).fill('bad_request'));
	});

	it('is shared with another OS process through the same SQLite file', async () => {
		const sqlitePath = freshSqlite();
		const name = `${sim.baseUrl}:sim-standard`;
		expect(
			worker({ config: { kind: 'local', path: sqlitePath }, action: 'fail', name, failures: 3 }),
		).toBe('open');
		const { out } = await ai(breaker(sqlitePath, { breakerCooldownSeconds: 60 }), [
			{ text: 'hello' },
		]);
		expect(errorOf(out[1][0]).class).toBe('circuit_open');
		expect(sim.counters().requests).toBe(0);
	});
});

describeWithService(
	'Redis',
	reachable(REDIS.host, REDIS.port),
	'AI Call state across processes on Redis',
	() => {
		const redis = {
			kind: 'redis',
			host: REDIS.host,
			port: REDIS.port,
			keyPrefix: `aip-test-${process.pid}`,
		};

		// a cooldown of seconds: each worker is a process start, which takes hundreds of ms on a loaded machine
		it('a breaker opened by one process is open for another, and only one of them gets the half-open probe', async () => {
			const name = `svc-${Date.now()}`;
			expect(worker({ config: redis, action: 'fail', name, failures: 3, cooldownMs: 3000 })).toBe(
				'open',
			);
			expect(worker({ config: redis, action: 'allow', name, cooldownMs: 3000 })).toEqual({
				allowed: false,
				retryAfterMs: expect.any(Number),
			});
			await new Promise((r) => setTimeout(r, 3100));
			const verdicts = [
				worker({ config: redis, action: 'allow', name, cooldownMs: 3000 }),
				worker({ config: redis, action: 'allow', name, cooldownMs: 3000 }),
			];
			expect(verdicts.filter((v) => (v as { allowed: boolean }).allowed)).toEqual([
				{ allowed: true, probe: true },
			]);
		});

		it('a cache entry written by the node is read by another process', async () => {
			const key = `doc-${Date.now()}`;
			const { out } = await ai(
				{
					responseCache: 'key',
					cacheKey: key,
					store: 'redis',
					options: { cacheNamespace: 'x-proc' },
				},
				[{ text: 'hello' }],
				{ r: { host: REDIS.host, port: REDIS.port, database: 0 } },
			);
			expect(resultOf(out[0][0]).cached).toBe(false);
			const seen = worker({
				config: { kind: 'redis', host: REDIS.host, port: REDIS.port },
				action: 'get',
				namespace: 'x-proc',
				key,
			});
			expect(seen).toMatchObject({ text: resultOf(out[0][0]).text, storedAt: expect.any(Number) });
		});
	},
);
