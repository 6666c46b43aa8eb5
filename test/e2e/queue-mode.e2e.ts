import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

import {
	freePort,
	importSamples,
	installPackage,
	N8nApi,
	startN8n,
	type ImportedSample,
	type RunningN8n,
} from '../../scripts/n8n-runtime';
import { startSimulator, type Simulator } from '../../simulator';
import { describeWithService, POSTGRES, REDIS, reachable } from '../stores/backends';
import { eventually, printLogsOnFailure, resetSimulatorBeforeEach } from './helpers';

// n8n queue mode as the README describes it: a main process takes the webhooks, two workers run
// the executions (Bull on Redis), n8n's database is Postgres. The samples are imported as they
// ship: their stateful nodes' Store is Auto, which in queue mode is n8n's own Redis (no credential).
const services = reachable(REDIS.host, REDIS.port) && reachable(POSTGRES.host, POSTGRES.port);
const run = `${process.pid}_${Date.now().toString(36)}`;
const database = `n8n_e2e_${run}`;
/**
 * n8n's queue Redis database here (QUEUE_BULL_REDIS_DB), so also the samples' Auto store: its
 * ai-patterns:* keys are this suite's to delete.
 */
const STORE_DB = 3;

let main: RunningN8n;
const workers: RunningN8n[] = [];
let api: N8nApi;
let sim: Simulator;
let userFolder: string;
let samples: ImportedSample[];

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
	const client = new Client({ ...POSTGRES, database: 'postgres' });
	await client.connect();
	try {
		return await fn(client);
	} finally {
		await client.end();
	}
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
	const res = await fetch(`${main.url}/webhook/${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...headers },
		body: JSON.stringify(body),
	});
	return {
		status: res.status,
		headers: res.headers,
		body: (await res.json()) as Record<string, unknown>,
	};
}

describeWithService(
	'Redis and Postgres',
	services,
	'the samples in n8n queue mode (main + 2 workers)',
	() => {
		beforeAll(async () => {
			await admin((c) => c.query(`CREATE DATABASE ${database}`));
			userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-queue-'));
			// one host: main and workers share the user folder, so the package sits in one .n8n/nodes
			await installPackage(userFolder, { mode: 'pack' });
			sim = await startSimulator({ apiKeys: ['sk-e2e-key-0042'] });
			const env = {
				EXECUTIONS_MODE: 'queue',
				QUEUE_BULL_REDIS_HOST: REDIS.host,
				QUEUE_BULL_REDIS_PORT: String(REDIS.port),
				QUEUE_BULL_REDIS_DB: String(STORE_DB),
				// its own Redis keys (n8n's cache remembers webhooks by path across databases)
				QUEUE_BULL_PREFIX: `bull_e2e_${run}`,
				N8N_REDIS_KEY_PREFIX: `n8n_e2e_${run}`,
				DB_TYPE: 'postgresdb',
				DB_POSTGRESDB_HOST: POSTGRES.host,
				DB_POSTGRESDB_PORT: String(POSTGRES.port),
				DB_POSTGRESDB_DATABASE: database,
				DB_POSTGRESDB_USER: POSTGRES.user,
				N8N_ENCRYPTION_KEY: `e2e-queue-${run}`,
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
			api = new N8nApi(main.url);
			await api.setupOwner();
			const ai = await api.createCredential('AI Service', 'aiServiceApi', {
				provider: 'openai',
				baseUrl: sim.baseUrl,
				apiKey: 'sk-e2e-key-0042',
			});
			// no store switch and no Redis credential: the samples as they ship
			samples = await importSamples(api, {
				credentials: { aiServiceApi: { id: ai.id, name: 'AI Service' } },
				simUrl: sim.url,
				only: ['sync-request-response', 'webhook-pipeline', 'async-queue', 'support-agent'],
				// the async sample's sweeper runs every minute on a worker: it would add executions to
				// the workers' counts below (no test here needs it; crash.e2e.ts drills it)
				patch: (workflow: { nodes: Array<{ name: string; disabled?: boolean }> }, file: string) => {
					if (file === 'async-queue.json')
						workflow.nodes.find((n) => n.name === 'Every minute')!.disabled = true;
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
			for (const db of [0, STORE_DB]) {
				const redis = new Redis({ ...REDIS, db });
				for (const pattern of [`bull_e2e_${run}*`, `n8n_e2e_${run}*`]) {
					const keys = await redis.keys(pattern);
					if (keys.length) await redis.del(...keys);
				}
				redis.disconnect();
			}
			const store = new Redis({ ...REDIS, db: STORE_DB });
			const stored = await store.keys('ai-patterns:*');
			if (stored.length) await store.del(...stored);
			store.disconnect();
		});

		resetSimulatorBeforeEach(() => sim);
		printLogsOnFailure(
			() => main,
			() => workers[0],
			() => workers[1],
		);

		/** Executions the workers ran, from their logs ("Worker started execution <id>"). */
		const workerExecutions = () =>
			workers.map((w) => (w.logTail(100_000).match(/Worker started execution/g) ?? []).length);

		/** Waits until the workers' logs show `count` more executions than `before`; returns the counts. */
		async function executedOnWorkers(before: number[], count: number): Promise<number[]> {
			const deadline = Date.now() + 10_000;
			for (;;) {
				const now = workerExecutions();
				const added = now[0] + now[1] - before[0] - before[1];
				if (added >= count || Date.now() > deadline) {
					expect(added).toBe(count);
					return now;
				}
				await new Promise((r) => setTimeout(r, 100));
			}
		}

		it('imports and activates the samples as they ship, every stateful node on Auto', async () => {
			expect(samples.map((s) => [s.file, s.active, s.error])).toEqual([
				['async-queue.json', true, undefined],
				['support-agent.json', true, undefined],
				['sync-request-response.json', true, undefined],
				['webhook-pipeline.json', true, undefined],
			]);
			const stateful = [];
			for (const sample of samples) {
				const workflow = await api.public<{
					nodes: Array<{ type: string; typeVersion: number; parameters: Record<string, unknown> }>;
				}>('GET', `/workflows/${sample.id}`);
				for (const node of workflow.nodes)
					if (/\.(aiCall|fallbackRouter|idempotencyGuard|jobQueue)$/.test(node.type))
						stateful.push([node.type.split('.')[1], node.typeVersion, node.parameters.store]);
			}
			// Auto is the default, so n8n saved no "store" at all
			expect(stateful.length).toBeGreaterThanOrEqual(10);
			for (const [type, version, store] of stateful) {
				expect(store).toBeUndefined();
				expect(version).toBe(type === 'jobQueue' ? 1 : 1.1);
			}
		});

		it('sync: the answer comes back from a worker, and the last good answer is served from Redis', async () => {
			const before = workerExecutions();
			const question = 'Queue mode question';
			const good = await post('ai/sync', { question });
			expect(good.status).toBe(200);
			sim.setFault('status=500');
			const cached = await post('ai/sync', { question });
			expect(cached.status).toBe(200);
			expect(cached.headers.get('x-fallback')).toBe('cached');
			expect(cached.body.answer).toBe(good.body.answer);
			// the workers' logs are written through a pipe: give them a moment
			await executedOnWorkers(before, 2);
		});

		it("support agent: n8n's AI Agent runs on the workers with the AI Call Chat Model; its calls, retries and cost per answer come back from the shared ledger", async () => {
			const before = workerExecutions();
			sim.setFault('fail-first=1;status=429;retry-after=0');
			const replies = await Promise.all(
				['acme', 'globex'].map((customer) =>
					post('ai/support', { customer, question: `Where is order 9${customer.length}01?` }),
				),
			);
			expect(replies.map((r) => r.status)).toEqual([200, 200]);
			expect(replies[0].body.answer).toContain('shipped, arrives on Friday');
			await executedOnWorkers(before, 2);
			const cost = await eventually('both answers in the ledger', async () => {
				const r = await fetch(`${main.url}/webhook/ai/support/cost`);
				const body = (await r.json()) as {
					calls: number;
					retries: number;
					outcomes?: Record<string, number>;
				};
				return body.calls >= 4 && (body.outcomes?.['support-answer'] ?? 0) >= 2 ? body : undefined;
			});
			expect(cost).toMatchObject({ calls: 4, succeeded: 4, retries: 1, store: 'redis' });
		});

		it('webhook pipeline: 20 concurrent deliveries over two workers, one classification, 20 equal answers', async () => {
			const key = `queue-${run}`;
			const doc = {
				documentId: 'doc-q',
				title: 'Invoice 77',
				text: '# Summary\nInvoice for the payment of parts delivered in October, amount due in 30 days.\n# Parties\nAcme GmbH and Widget Ltd.\n# Terms\nNet 30, no discount.',
			};
			const before = workerExecutions();
			const replies = await Promise.all(
				Array.from({ length: 20 }, () => post('ai/documents', doc, { 'idempotency-key': key })),
			);
			expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
			for (const r of replies) expect(r.body).toEqual(replies[0].body);
			expect(replies[0].body).toEqual(
				expect.objectContaining({ category: 'invoice', filedUnder: 'finance' }),
			);
			expect(sim.counters().byModel['sim-standard']).toBe(1);
			const tables = await api.public<{ data: Array<{ id: string; name: string }> }>(
				'GET',
				'/data-tables',
			);
			const documents = tables.data.find((t) => t.name === 'ai_documents')!;
			const rows = await api.public<{ data: Array<{ idempotencyKey: string }> }>(
				'GET',
				`/data-tables/${documents.id}/rows?limit=250`,
			);
			expect(rows.data.filter((r) => r.idempotencyKey === key)).toHaveLength(1);
			// both workers took deliveries: the guard's claim held across processes
			const after = await executedOnWorkers(before, 20);
			expect(after[0]).toBeGreaterThan(before[0]);
			expect(after[1]).toBeGreaterThan(before[1]);
		});

		it("Idempotency Guard on Auto, no store configured: 10 concurrent duplicates over both workers claim once, in n8n's queue Redis", async () => {
			const key = `auto-${run}`;
			const doc = {
				documentId: 'doc-auto',
				title: 'Invoice 78',
				text: '# Summary\nInvoice for the payment of spare parts delivered in November, amount due in 14 days.\n# Parties\nAcme GmbH and Widget Ltd.\n# Terms\nNet 14, no discount.',
			};
			const before = workerExecutions();
			const replies = await Promise.all(
				Array.from({ length: 10 }, () => post('ai/documents', doc, { 'idempotency-key': key })),
			);
			expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200));
			for (const r of replies) expect(r.body).toEqual(replies[0].body);
			expect(replies[0].body).toEqual(expect.objectContaining({ category: 'invoice' }));
			// one delivery classified, the other nine were duplicates that got its result
			expect(sim.counters().byModel['sim-standard']).toBe(1);
			const after = await executedOnWorkers(before, 10);
			expect(after[0]).toBeGreaterThan(before[0]);
			expect(after[1]).toBeGreaterThan(before[1]);
			// the claim sits in n8n's own queue Redis (QUEUE_BULL_REDIS_DB), completed
			const redis = new Redis({ ...REDIS, db: STORE_DB });
			try {
				const claims = await redis.keys(`ai-patterns:c:documents:${key}`);
				expect(claims).toHaveLength(1);
				expect(await redis.hget(claims[0], 's')).toBe('completed');
			} finally {
				redis.disconnect();
			}
			// each worker chose it by itself from its environment, and said so once
			for (const w of workers)
				expect(w.logTail(100_000)).toMatch(
					/Store "Auto" uses Redis at 127\.0\.0\.1:\d+ \(database 3\) \(queue mode: n8n's queue Redis\)/,
				);
		});

		it('async queue: 202 at once, the job runs on a worker, callback and status endpoint agree', async () => {
			const reply = await post('ai/jobs', {
				text: 'Queue mode job: the customer cannot log in.',
				callbackUrl: `${sim.url}/_sim/inbox/queue-callbacks`,
			});
			expect(reply.status).toBe(202);
			const jobId = String(reply.body.jobId);
			const [callback] = await eventually('the callback', () => {
				const got = sim.inbox('queue-callbacks');
				return got.length ? got : undefined;
			});
			expect(callback.body).toEqual(expect.objectContaining({ jobId, status: 'done' }));
			expect(callback.headers['idempotency-key']).toBe(`${jobId}:1`);
			const status = await fetch(`${main.url}/webhook/ai/jobs/${jobId}`);
			expect(status.status).toBe(200);
			expect(await status.json()).toEqual(expect.objectContaining({ jobId, status: 'done' }));
		});
	},
);
