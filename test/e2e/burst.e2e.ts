import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

import { RedisStore } from '../../lib/stores/redis';
import {
	freePort,
	importSamples,
	installPackage,
	N8nApi,
	startN8n,
	type RunningN8n,
} from '../../scripts/n8n-runtime';
import { startSimulator, type RequestLogEntry, type Simulator } from '../../simulator';
import { describeWithService, POSTGRES, REDIS, reachable } from '../stores/backends';
import { eventually, printLogsOnFailure } from './helpers';

// Backpressure across the fleet (#15): a burst of jobs to the n8n-native async sample in queue mode,
// two workers, one shared limit for every execution. The service must never see more than the
// limit, and every job accepted with 202 must end done (none with a person: waiting for the limit
// uses no attempt).
const services = reachable(REDIS.host, REDIS.port) && reachable(POSTGRES.host, POSTGRES.port);
const run = `${process.pid}_${Date.now().toString(36)}`;
const database = `n8n_burst_${run}`;
/** n8n's queue Redis database here, so also the samples' Auto store (this suite deletes its keys). */
const STORE_DB = 9;
const QUEUE = `burst-${run}`;
const JOBS = Number(process.env.BURST_JOBS ?? 1000);
const RPM = 600; // the shared limit for this run (the sample ships 60: 1,000 jobs would take 17 min)
const IN_FLIGHT = 5;
const LATENCY_MS = 300;

let main: RunningN8n;
const workers: RunningN8n[] = [];
let sim: Simulator;
let userFolder: string;

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
	const client = new Client({ ...POSTGRES, database: 'postgres' });
	await client.connect();
	try {
		return await fn(client);
	} finally {
		await client.end();
	}
}

/** The most requests that started within any 60 s. */
function peakPerMinute(starts: number[]): number {
	const sorted = [...starts].sort((a, b) => a - b);
	let peak = 0;
	for (let i = 0, j = 0; i < sorted.length; i++) {
		while (sorted[i] - sorted[j] >= 60_000) j++;
		peak = Math.max(peak, i - j + 1);
	}
	return peak;
}

describeWithService('Redis and Postgres', services, 'a burst of async jobs in queue mode', () => {
	printLogsOnFailure(
		() => main,
		() => workers[0],
		() => workers[1],
	);

	beforeAll(async () => {
		await admin((c) => c.query(`CREATE DATABASE ${database}`));
		userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-burst-'));
		await installPackage(userFolder, { mode: 'pack' });
		sim = await startSimulator({ apiKeys: ['sk-burst-0042'] });
		const env = {
			EXECUTIONS_MODE: 'queue',
			QUEUE_BULL_REDIS_HOST: REDIS.host,
			QUEUE_BULL_REDIS_PORT: String(REDIS.port),
			QUEUE_BULL_REDIS_DB: String(STORE_DB),
			QUEUE_BULL_PREFIX: `bull_burst_${run}`,
			N8N_REDIS_KEY_PREFIX: `n8n_burst_${run}`,
			DB_TYPE: 'postgresdb',
			DB_POSTGRESDB_HOST: POSTGRES.host,
			DB_POSTGRESDB_PORT: String(POSTGRES.port),
			DB_POSTGRESDB_DATABASE: database,
			DB_POSTGRESDB_USER: POSTGRES.user,
			// n8n's own pool (2 by default) fails deliveries under a burst: see the README
			DB_POSTGRESDB_POOL_SIZE: '10',
			N8N_ENCRYPTION_KEY: `e2e-burst-${run}`,
		};
		main = await startN8n({ userFolder, env });
		for (let i = 0; i < 2; i++)
			workers.push(
				await startN8n({
					userFolder,
					env,
					command: 'worker',
					port: await freePort(),
					concurrency: 10,
				}),
			);
		const api = new N8nApi(main.url);
		await api.setupOwner();
		const ai = await api.createCredential('AI Service', 'aiServiceApi', {
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: 'sk-burst-0042',
		});
		await importSamples(api, {
			credentials: { aiServiceApi: { id: ai.id, name: 'AI Service' } },
			simUrl: sim.url,
			only: ['async-queue'],
			patch: (workflow: {
				nodes: Array<{ name: string; type: string; parameters: Record<string, unknown> }>;
			}) => {
				for (const node of workflow.nodes) {
					if (node.type === 'n8n-nodes-ai-patterns.jobQueue') node.parameters.queue = QUEUE;
					if (node.name === 'Summarize (AI Call)') {
						node.parameters.sharedLimitName = `burst-${run}`;
						node.parameters.sharedRequestsPerMinute = RPM;
						node.parameters.sharedMaxInFlight = IN_FLIGHT;
					}
					if (node.name === 'Every minute')
						node.parameters.rule = { interval: [{ field: 'seconds', secondsInterval: 5 }] };
				}
			},
		});
	}, 900_000);

	afterAll(async () => {
		for (const w of workers) await w.stop();
		await main?.stop();
		await sim?.close();
		if (userFolder) rmSync(userFolder, { recursive: true, force: true });
		await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(
			() => undefined,
		);
		const redis = new Redis({ ...REDIS, db: STORE_DB });
		for (const pattern of [`bull_burst_${run}*`, `n8n_burst_${run}*`, 'ai-patterns:*']) {
			const keys = await redis.keys(pattern);
			if (keys.length) await redis.del(...keys);
		}
		redis.disconnect();
	});

	it(`${JOBS} jobs at once: the service sees at most the shared limit, and every accepted job ends done`, async () => {
		sim.setFault(`latency=${LATENCY_MS}`);
		// what the service saw: the simulator keeps its newest 1,000 requests, so read it as we go
		const seen = new Map<string, RequestLogEntry>();
		const collect = () => {
			for (const e of sim.requestLog())
				if (e.route.includes('chat')) seen.set(`${e.startedAt}:${e.remotePort}:${e.key}`, e);
		};
		const collector = setInterval(collect, 1000);

		const started = Date.now();
		// a burst from 100 clients at once (n8n's own database pool is the limit of what it takes in)
		const statuses: number[] = [];
		let next = 0;
		await Promise.all(
			Array.from({ length: 100 }, async () => {
				while (next < JOBS) {
					const i = next++;
					const res = await fetch(`${main.url}/webhook/ai/jobs`, {
						method: 'POST',
						headers: { 'content-type': 'application/json' },
						body: JSON.stringify({ text: `Burst job ${i}: the customer cannot log in.` }),
					}).catch(() => undefined);
					statuses.push(res?.status ?? 0);
					await res?.text();
				}
			}),
		);
		const accepted = statuses.filter((s) => s === 202).length;
		const submitMs = Date.now() - started;

		const store = new RedisStore({ host: REDIS.host, port: REDIS.port, database: STORE_DB });
		try {
			const counts = await eventually(
				`all ${accepted} accepted jobs final`,
				async () => {
					const c = await store.countRecords(`jobs:${QUEUE}`);
					const final = (c.done ?? 0) + (c.failed ?? 0) + (c.human ?? 0) + (c.rejected_stale ?? 0);
					return final >= accepted ? c : undefined;
				},
				// at RPM 600 the jobs alone take JOBS / 10 s; slack for a busy machine
				JOBS * 100 + 240_000,
			);
			clearInterval(collector);
			collect();
			const calls = [...seen.values()];
			const figures = {
				submitted: JOBS,
				accepted,
				refusedByN8n: statuses.filter((s) => s !== 202).length,
				submitSeconds: submitMs / 1000,
				doneSeconds: (Date.now() - started) / 1000,
				counts,
				aiCalls: calls.length,
				peakInFlight: sim.counters().peakInFlight,
				peakPerMinute: peakPerMinute(calls.map((c) => c.startedAt)),
			};
			process.stderr.write(`\nburst figures: ${JSON.stringify(figures)}\n`);
			expect(accepted).toBeGreaterThan(JOBS * 0.9);
			expect(counts).toEqual({ done: accepted });
			expect(figures.peakInFlight).toBeLessThanOrEqual(IN_FLIGHT);
			expect(figures.peakPerMinute).toBeLessThanOrEqual(RPM);
			expect(calls.length).toBeGreaterThanOrEqual(accepted);
		} finally {
			clearInterval(collector);
			await store.close();
		}
	}, 1_800_000);
});
