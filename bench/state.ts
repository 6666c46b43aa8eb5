/**
 * npm run bench:state — the AI Call node's state features (issue 6), in n8n's real engine against
 * the simulator in its own process.
 *  1. Cache hits per store (memory, local SQLite in a temp file, Redis, Postgres): the store's own
 *     `get` of a cached AI Call result (p50/p95/p99 over GETS sequential gets), and the node answering
 *     ITEMS items all from the cache beside the same items answered by the simulator at 0 ms latency.
 *     Target: a hit takes well under a millisecond on the memory and local stores.
 *  2. Calls saved by the circuit breaker: one execution per request at RPS for OUTAGE_SECONDS while
 *     the simulator answers 503 to everything, then it recovers; with the breaker (local SQLite,
 *     maxRetries 0, BREAKER_FAILURES consecutive failures, BREAKER_COOLDOWN_SECONDS) and without.
 * Prints a table and writes bench/results/state.json. Env: ITEMS, GETS, OUTAGE_SECONDS, RPS,
 * BREAKER_FAILURES, BREAKER_COOLDOWN_SECONDS. Redis and Postgres are skipped when not reachable.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import {
	closeAllStores,
	getStore,
	postgresConfigFromCredentials,
	redisConfigFromCredentials,
	type StoreConfig,
} from '../lib/stores';
import { DEFAULT_POSTGRES_TABLE } from '../lib/stores/postgres';
import { runNode } from '../test/nodes/helpers';

const ITEMS = Number(process.env.ITEMS ?? 1000);
const GETS = Number(process.env.GETS ?? 5000);
const OUTAGE_SECONDS = Number(process.env.OUTAGE_SECONDS ?? 30);
const RPS = Number(process.env.RPS ?? 20);
const BREAKER_FAILURES = Number(process.env.BREAKER_FAILURES ?? 5);
const BREAKER_COOLDOWN_SECONDS = Number(process.env.BREAKER_COOLDOWN_SECONDS ?? 5);
const NODE_RUNS = 3; // node timings are the median of this many runs
const NAMESPACE = `bench-state-${process.pid}`;
const REDIS_CRED = {
	host: '127.0.0.1',
	port: 6379,
	database: 0,
	user: '',
	password: '',
	ssl: false,
};
const PG_CRED = {
	host: '127.0.0.1',
	port: 5432,
	database: 'test',
	user: 'postgres',
	password: '',
	maxConnections: 10,
	allowUnauthorizedCerts: false,
	ssl: 'disable',
};

const dir = mkdtempSync(join(tmpdir(), 'aip-bench-state-'));

interface RemoteSim {
	baseUrl: string;
	requests(): Promise<number>;
	reset(): Promise<void>;
	fault(spec: string | null): Promise<void>;
	close(): void;
}

/** The simulator in its own process, as a real service would be: it must not share our event loop. */
function startRemoteSimulator(): Promise<RemoteSim> {
	const child = spawn(process.execPath, [join(__dirname, '../simulator/cli.js'), '--port', '0'], {
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	return new Promise((resolve, reject) => {
		let out = '';
		child.on('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
		child.stdout!.on('data', (d: Buffer) => {
			out += d.toString();
			const m = /listening on (http:\/\/\S+)/.exec(out);
			if (!m) return;
			const url = m[1];
			child.stdout!.removeAllListeners('data').resume();
			resolve({
				baseUrl: `${url}/v1`,
				requests: async () =>
					((await (await fetch(`${url}/_sim/counters`)).json()) as { requests: number }).requests,
				reset: async () => void (await fetch(`${url}/_sim/reset`, { method: 'POST' })),
				fault: async (fault) => {
					const res = await fetch(`${url}/_sim/fault`, {
						method: 'PUT',
						headers: { 'content-type': 'application/json' },
						body: JSON.stringify({ fault }),
					});
					if (!res.ok) throw new Error(`PUT /_sim/fault: ${res.status} ${await res.text()}`);
				},
				close: () => {
					child.removeAllListeners('exit');
					child.kill();
				},
			});
		});
	});
}

const tcp = (host: string, port: number) =>
	new Promise<boolean>((resolve) => {
		const socket = createConnection(port, host);
		socket.once('connect', () => {
			socket.end();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});

function aiCall(sim: RemoteSim, params: IDataObject, items: IDataObject[]) {
	return runNode(
		'aiCall',
		{
			model: { mode: 'id', value: 'sim-standard' },
			userPrompt: '={{ $json.text }}',
			timeoutPreset: 'realtime',
			...params,
			options: { maxRetries: 0, ...(params.options as IDataObject) },
		},
		items,
		{
			name: 'AI Call',
			credentials: {
				c: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: 'sim-key' },
				r: REDIS_CRED,
				p: PG_CRED,
			},
			nodeCredentials: {
				aiServiceApi: { id: 'c', name: 'sim' },
				...(params.store === 'redis' ? { redis: { id: 'r', name: 'Redis' } } : {}),
				...(params.store === 'postgres' ? { postgres: { id: 'p', name: 'Postgres' } } : {}),
			},
		},
	);
}

/** Output items of one run, or the run's error. */
async function outputs(run: ReturnType<typeof aiCall>): Promise<INodeExecutionData[][]> {
	const r = await run;
	if (r.error) throw r.error;
	return r.outputs['AI Call'];
}

const percentile = (sorted: number[], p: number) =>
	sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface Backend {
	name: string;
	params: IDataObject;
	config: StoreConfig;
	reachable: () => Promise<boolean>;
	cleanup: () => Promise<void>;
}

const backends: Backend[] = [
	{
		name: 'memory',
		params: { store: 'memory' },
		config: { kind: 'memory' },
		reachable: async () => true,
		cleanup: async () => undefined,
	},
	{
		name: 'local (SQLite)',
		params: { store: 'local', sqlitePath: join(dir, 'cache.sqlite') },
		config: { kind: 'local', path: join(dir, 'cache.sqlite') },
		reachable: async () => true,
		cleanup: async () => undefined, // the temp dir goes at the end
	},
	{
		name: 'Redis',
		params: { store: 'redis' },
		config: redisConfigFromCredentials(REDIS_CRED),
		reachable: () => tcp(REDIS_CRED.host, REDIS_CRED.port),
		cleanup: async () => {
			const client = new IORedis({ host: REDIS_CRED.host, port: REDIS_CRED.port });
			try {
				const keys: string[] = [];
				let cursor = '0';
				do {
					const [next, found] = await client.scan(
						cursor,
						'MATCH',
						`ai-patterns:*:${NAMESPACE}:*`,
						'COUNT',
						1000,
					);
					cursor = next;
					keys.push(...found);
				} while (cursor !== '0');
				for (let i = 0; i < keys.length; i += 1000) await client.del(...keys.slice(i, i + 1000));
			} finally {
				client.disconnect();
			}
		},
	},
	{
		name: 'Postgres',
		params: { store: 'postgres' },
		config: postgresConfigFromCredentials(PG_CRED),
		reachable: () => tcp(PG_CRED.host, PG_CRED.port),
		cleanup: async () => {
			const client = new Client({
				host: PG_CRED.host,
				port: PG_CRED.port,
				database: PG_CRED.database,
				user: PG_CRED.user,
			});
			await client.connect();
			try {
				await client.query(`DELETE FROM "${DEFAULT_POSTGRES_TABLE}" WHERE namespace LIKE $1`, [
					`${NAMESPACE}%`,
				]);
			} finally {
				await client.end();
			}
		},
	},
];

const docs = Array.from({ length: ITEMS }, (_, i) => ({
	id: `doc-${i}`,
	text: `Document ${i}: please pay the invoice`,
}));

/** Median wall time of NODE_RUNS runs of the node over all docs; checks every item succeeded. */
async function timeNode(sim: RemoteSim, params: IDataObject, expectCached: boolean) {
	const walls: number[] = [];
	for (let r = 0; r < NODE_RUNS; r++) {
		const t0 = performance.now();
		const [ok, failed] = await outputs(aiCall(sim, params, docs));
		walls.push(performance.now() - t0);
		const cached = ok.filter((it) => (it.json.ai as IDataObject).cached === true).length;
		if (failed.length || ok.length !== ITEMS || cached !== (expectCached ? ITEMS : 0))
			throw new Error(
				`expected ${ITEMS} ${expectCached ? 'cached' : 'called'} items, got ${ok.length} ok (${cached} cached), ${failed.length} failed`,
			);
	}
	const ms = median(walls);
	return {
		wallMs: round(ms, 1),
		itemsPerSecond: Math.round((ITEMS / ms) * 1000),
		msPerItem: round(ms / ITEMS, 4),
	};
}

interface Rate {
	itemsPerSecond: number;
	msPerItem: number;
}
type CacheRow =
	| { store: string; skipped: string }
	| {
			store: string;
			skipped?: undefined;
			getP50Ms: number;
			getP95Ms: number;
			getP99Ms: number;
			fill: Rate;
			hits: Rate & { wallMs: number };
			callsDuringHits: number;
			speedUp: number;
	  };

async function cacheHits(sim: RemoteSim) {
	const cacheParams = {
		responseCache: 'key',
		cacheKey: '={{ $json.id }}',
		options: { cacheNamespace: NAMESPACE },
	};
	// warm-up (engine, JIT), then the baseline: no cache, every item answered by the simulator
	await outputs(aiCall(sim, {}, docs.slice(0, 100)));
	await sim.reset();
	const called = await timeNode(sim, {}, false);
	const baseline = { ...called, simulatorCalls: await sim.requests() };

	const rows: CacheRow[] = [];
	for (const b of backends) {
		if (!(await b.reachable())) {
			rows.push({ store: b.name, skipped: 'not reachable' });
			continue;
		}
		try {
			// fill the cache (each item a miss, a call and a write), then read it back
			const params = { ...cacheParams, ...b.params };
			await sim.reset();
			const t0 = performance.now();
			const [filled] = await outputs(aiCall(sim, params, docs));
			const fillMs = performance.now() - t0;
			if (filled.length !== ITEMS)
				throw new Error(`${b.name}: the fill run answered ${filled.length}`);
			const hits = await timeNode(sim, params, true);
			const callsDuringHits = (await sim.requests()) - ITEMS;

			const store = getStore(b.config); // the instance the node uses (same settings)
			for (let i = 0; i < 200; i++) await store.get(NAMESPACE, docs[i % ITEMS].id); // warm-up
			const lat = new Float64Array(GETS);
			for (let i = 0; i < GETS; i++) {
				const key = docs[(i * 7919) % ITEMS].id;
				const t = process.hrtime.bigint();
				const value = await store.get<IDataObject>(NAMESPACE, key);
				lat[i] = Number(process.hrtime.bigint() - t) / 1e6;
				if (!value?.text) throw new Error(`${b.name}: no cached answer for ${key}`);
			}
			const sorted = [...lat].sort((x, y) => x - y);
			rows.push({
				store: b.name,
				getP50Ms: round(percentile(sorted, 50), 4),
				getP95Ms: round(percentile(sorted, 95), 4),
				getP99Ms: round(percentile(sorted, 99), 4),
				fill: {
					itemsPerSecond: Math.round((ITEMS / fillMs) * 1000),
					msPerItem: round(fillMs / ITEMS, 4),
				},
				hits,
				callsDuringHits,
				speedUp: round(baseline.wallMs / hits.wallMs, 1),
			});
		} finally {
			await b.cleanup();
		}
	}
	return { items: ITEMS, gets: GETS, nodeRuns: NODE_RUNS, baseline, stores: rows };
}

/** One execution per request at RPS through an outage of OUTAGE_SECONDS, then until the first success. */
async function outage(sim: RemoteSim, breaker: boolean) {
	const params = {
		circuitBreaker: breaker,
		store: 'local',
		sqlitePath: join(dir, `breaker-${breaker ? 'on' : 'off'}.sqlite`),
		options: {
			maxRetries: 0,
			breakerConsecutiveFailures: BREAKER_FAILURES,
			breakerCooldownSeconds: BREAKER_COOLDOWN_SECONDS,
		},
	};
	const interval = 1000 / RPS;
	const request = async (k: number) => {
		const t = performance.now();
		const [ok, failed] = await outputs(aiCall(sim, params, [{ text: `request ${k}` }]));
		const outcome = ok.length ? 'ok' : String((failed[0].json.error as IDataObject).class);
		return { outcome, ms: performance.now() - t, doneAt: performance.now() };
	};
	const tally = (xs: Array<{ outcome: string }>) =>
		xs.reduce<Record<string, number>>(
			(acc, x) => ((acc[x.outcome] = (acc[x.outcome] ?? 0) + 1), acc),
			{},
		);

	await sim.reset();
	await sim.fault('status=503');
	const total = Math.round(OUTAGE_SECONDS * RPS);
	const t0 = performance.now();
	const pending: Array<ReturnType<typeof request>> = [];
	for (let k = 0; k < total; k++) {
		await sleep(t0 + k * interval - performance.now());
		pending.push(request(k));
	}
	const during = await Promise.all(pending);
	const calls = await sim.requests();
	await sim.fault(null);
	const outageMs = performance.now() - t0;

	// the service is back: keep the same rate until the first request succeeds (60 s at most)
	const tOff = performance.now();
	const after: Array<ReturnType<typeof request>> = [];
	let firstOk: number | undefined;
	for (let k = 0; firstOk === undefined && performance.now() - tOff < 60_000; k++) {
		await sleep(tOff + k * interval - performance.now());
		after.push(
			request(total + k).then((r) => {
				if (r.outcome === 'ok') firstOk = Math.min(firstOk ?? Infinity, r.doneAt - tOff);
				return r;
			}),
		);
	}
	const recovered = await Promise.all(after);
	const outcomes = tally(during);
	const nodeCalls = during.length - (outcomes.circuit_open ?? 0);
	return {
		breaker,
		requests: during.length,
		outageMs: Math.round(outageMs),
		achievedRps: round((during.length / outageMs) * 1000, 1),
		callsReachingService: calls,
		callsPerNode: nodeCalls, // items that made a call (maxRetries 0: one call each)
		callsSaved: during.length - calls,
		outcomes,
		medianRequestMs: round(median(during.map((r) => r.ms)), 2),
		recoveryMs: firstOk === undefined ? null : Math.round(firstOk),
		requestsAfterRecovery: recovered.length,
		turnedAwayAfterRecovery: recovered.filter((r) => r.outcome === 'circuit_open').length,
	};
}

async function main() {
	const sim = await startRemoteSimulator();
	const lines: string[] = [];
	const results: Record<string, unknown> = { node: process.version };
	try {
		const cache = await cacheHits(sim);
		results.cache = cache;
		const b = cache.baseline;
		lines.push(
			`1. Cache hits: ${ITEMS} items (key expression), node default parallelism (5); store get over ${GETS} sequential gets`,
			'store            get p50 ms  get p95 ms  get p99 ms  node fill items/s  node hits items/s  ms/item  × vs calls',
		);
		lines.push(
			`${'no cache: simulator 0 ms'.padEnd(56)}${String(b.itemsPerSecond).padStart(19)}${String(b.msPerItem).padStart(9)}`,
		);
		let met = true;
		for (const r of cache.stores) {
			if (r.skipped !== undefined) {
				lines.push(`${r.store.padEnd(16)} skipped: ${r.skipped}`);
				if (r.store === 'memory' || r.store.startsWith('local')) met = false;
				continue;
			}
			lines.push(
				[
					r.store.padEnd(16),
					String(r.getP50Ms).padStart(10),
					String(r.getP95Ms).padStart(10),
					String(r.getP99Ms).padStart(10),
					String(r.fill.itemsPerSecond).padStart(17),
					String(r.hits.itemsPerSecond).padStart(17),
					String(r.hits.msPerItem).padStart(7),
					String(r.speedUp).padStart(10),
				].join('  '),
			);
			if (r.callsDuringHits !== 0)
				throw new Error(`${r.store}: ${r.callsDuringHits} calls during the cached runs`);
			if (
				(r.store === 'memory' || r.store.startsWith('local')) &&
				(r.getP99Ms >= 1 || r.hits.msPerItem >= 1)
			)
				met = false;
		}
		results.cacheTargetMet = met;
		lines.push(
			`target (memory and local: a hit well under 1 ms — get p99 and node ms/item both < 1 ms): ${met ? 'met' : 'NOT met'}`,
		);

		const runs = [];
		for (const breaker of [true, false]) runs.push(await outage(sim, breaker));
		results.outage = {
			seconds: OUTAGE_SECONDS,
			rps: RPS,
			breakerConsecutiveFailures: BREAKER_FAILURES,
			breakerCooldownSeconds: BREAKER_COOLDOWN_SECONDS,
			runs,
		};
		lines.push(
			'',
			`2. Outage of ${OUTAGE_SECONDS} s at ${RPS} requests/s (503 to every call), one execution per request, maxRetries 0, local SQLite`,
			`   breaker: ${BREAKER_FAILURES} consecutive failures, cooldown ${BREAKER_COOLDOWN_SECONDS} s (failure-rate rule at its defaults)`,
			'breaker  requests  achieved/s  calls to service  calls saved  overloaded  circuit_open  median ms/request  recovered after ms  turned away after recovery',
		);
		for (const r of runs) {
			if (r.callsPerNode !== r.callsReachingService)
				lines.push(
					`   (note: the node made ${r.callsPerNode} calls, the simulator counted ${r.callsReachingService})`,
				);
			lines.push(
				[
					(r.breaker ? 'on' : 'off').padEnd(7),
					String(r.requests).padStart(8),
					String(r.achievedRps).padStart(10),
					String(r.callsReachingService).padStart(16),
					String(r.callsSaved).padStart(11),
					String(r.outcomes.overloaded ?? 0).padStart(10),
					String(r.outcomes.circuit_open ?? 0).padStart(12),
					String(r.medianRequestMs).padStart(17),
					String(r.recoveryMs ?? 'never').padStart(18),
					String(r.turnedAwayAfterRecovery).padStart(26),
				].join('  '),
			);
		}
	} finally {
		sim.close();
		await closeAllStores();
		rmSync(dir, { recursive: true, force: true });
	}

	process.stdout.write(`\nNode ${process.version}\n${lines.join('\n')}\n`);
	const out = join(__dirname, '../../bench/results');
	mkdirSync(out, { recursive: true });
	writeFileSync(join(out, 'state.json'), JSON.stringify(results, null, 2));
	process.stdout.write(`\nwritten: bench/results/state.json\n`);
}

main().catch((error: Error) => {
	process.stderr.write(`${error.stack ?? error.message}\n`);
	process.exit(1);
});
