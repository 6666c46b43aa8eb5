/* eslint-disable @typescript-eslint/no-explicit-any -- the JSON answers of the sample workflows, asserted field by field */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
	importSamples,
	installPackage,
	N8nApi,
	startN8n,
	type ImportedSample,
	type RunningN8n,
} from '../../scripts/n8n-runtime';
import { startSimulator, type Simulator } from '../../simulator';
import { describeWithService, reachable } from '../stores/backends';
import { eventually, printLogsOnFailure, resetSimulatorBeforeEach } from './helpers';
import amqp from 'amqplib';

// The sample workflows, as a user imports them, in a real n8n with the package from its npm
// tarball, driven over HTTP against the simulator.
const RABBITMQ = { host: '127.0.0.1', port: 5672 };
const rabbitmq = reachable(RABBITMQ.host, RABBITMQ.port) || process.env.CI === 'true';
const RABBIT_QUEUE = `ai-jobs-e2e-${process.pid}-${Date.now()}`;

let n8n: RunningN8n;
let api: N8nApi;
let sim: Simulator;
let userFolder: string;
let samples: ImportedSample[];

beforeAll(async () => {
	userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-workflows-'));
	await installPackage(userFolder, { mode: 'pack' });
	sim = await startSimulator({ apiKeys: ['sk-e2e-key-0042'] });
	n8n = await startN8n({ userFolder });
	api = new N8nApi(n8n.url);
	await api.setupOwner();
	const ai = await api.createCredential('AI Service', 'aiServiceApi', {
		provider: 'openai',
		baseUrl: sim.baseUrl,
		apiKey: 'sk-e2e-key-0042',
	});
	const credentials: Record<string, { id: string; name: string }> = {
		aiServiceApi: { id: ai.id, name: 'AI Service' },
	};
	const scrape = await api.createCredential('Metrics scrape', 'httpHeaderAuth', {
		name: 'Authorization',
		value: 'Bearer e2e-scrape-token',
	});
	credentials.httpHeaderAuth = { id: scrape.id, name: 'Metrics scrape' };
	if (rabbitmq) {
		const { id } = await api.createCredential('RabbitMQ', 'rabbitmq', {
			hostname: RABBITMQ.host,
			port: RABBITMQ.port,
			username: 'guest',
			password: 'guest',
			vhost: '/',
		});
		credentials.rabbitmq = { id, name: 'RabbitMQ' };
	}
	samples = await importSamples(api, {
		credentials,
		simUrl: sim.url,
		// the queue monitor alerts into the inbox the freshness tests count: imported, not running
		activate: (file) =>
			file !== 'queue-monitor.json' && (rabbitmq || file !== 'async-queue-rabbitmq.json'),
		// a queue of this run's own (set once, in the trigger), so a demo on the same broker takes none of its messages
		patch: (workflow, file) => {
			if (file !== 'async-queue-rabbitmq.json') return;
			const trigger = workflow.nodes.find((n) => n.type === 'n8n-nodes-base.rabbitmqTrigger');
			trigger!.parameters.queue = RABBIT_QUEUE;
		},
	});
}, 900_000);

afterAll(async () => {
	if (!rabbitmq) return;
	// the trigger declared it durable: take it away again
	const connection = await amqp.connect(`amqp://guest:guest@${RABBITMQ.host}:${RABBITMQ.port}`);
	try {
		const channel = await connection.createChannel();
		await channel.deleteQueue(RABBIT_QUEUE);
	} finally {
		await connection.close();
	}
});

afterAll(async () => {
	await n8n?.stop();
	await sim?.close();
	if (userFolder) rmSync(userFolder, { recursive: true, force: true });
});

resetSimulatorBeforeEach(() => sim);
printLogsOnFailure(() => n8n);

interface Reply {
	status: number;
	headers: Headers;
	body: any;
	ms: number;
}

async function call(
	method: string,
	path: string,
	body?: unknown,
	headers: Record<string, string> = {},
): Promise<Reply> {
	const started = Date.now();
	const res = await fetch(`${n8n.url}/webhook/${path}`, {
		method,
		headers: { 'content-type': 'application/json', ...headers },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	let parsed: unknown = text;
	try {
		parsed = JSON.parse(text);
	} catch {
		// not JSON: kept as text for the assertion message
	}
	return { status: res.status, headers: res.headers, body: parsed, ms: Date.now() - started };
}

/** All rows of an n8n Data Table, through the public API. */
async function tableRows(name: string): Promise<Array<Record<string, any>>> {
	const tables = await api.public<{ data: Array<{ id: string; name: string }> }>(
		'GET',
		'/data-tables?limit=100',
	);
	const table = tables.data.find((t) => t.name === name);
	if (!table) return [];
	const rows: Array<Record<string, any>> = [];
	let cursor: string | undefined;
	do {
		const page = await api.public<{ data: Array<Record<string, any>>; nextCursor?: string }>(
			'GET',
			`/data-tables/${table.id}/rows?limit=250${cursor ? `&cursor=${cursor}` : ''}`,
		);
		rows.push(...page.data);
		cursor = page.nextCursor ?? undefined;
	} while (cursor);
	return rows;
}

describe('every sample workflow', () => {
	it('imports and activates in n8n without an error', () => {
		const files = readdirSync(join(__dirname, '../../workflows')).filter((f) =>
			f.endsWith('.json'),
		);
		expect(samples.map((s) => s.file).sort()).toEqual(files.sort());
		for (const sample of samples) {
			expect({ file: sample.file, error: sample.error }).toEqual({
				file: sample.file,
				error: undefined,
			});
			// the queue monitor is kept inactive here (monitor.e2e.ts activates and drives it)
			const activated =
				sample.file !== 'queue-monitor.json' &&
				(sample.file !== 'async-queue-rabbitmq.json' || rabbitmq);
			expect({ file: sample.file, active: sample.active }).toEqual({
				file: sample.file,
				active: activated,
			});
		}
	});
});

describe('sync-request-response: POST /webhook/ai/sync', () => {
	it('answers 200 with the AI answer, its usage and cost', async () => {
		const reply = await call('POST', 'ai/sync', { question: 'How do I reset my password?' });
		expect(reply.status).toBe(200);
		expect(reply.headers.get('x-fallback')).toBeNull();
		expect(reply.body).toEqual({
			answer: expect.stringContaining('Category: support'),
			model: 'sim-standard',
			usage: expect.objectContaining({ totalTokens: expect.any(Number) }),
			costUsd: expect.any(Number),
		});
	});

	it('answers 400 naming the missing question, without calling the AI', async () => {
		const reply = await call('POST', 'ai/sync', { text: 'no question field' });
		expect(reply.status).toBe(400);
		expect(reply.body.problems).toContainEqual(
			expect.objectContaining({ path: 'body.question', rule: 'question given' }),
		);
		expect(sim.counters().requests).toBe(0);
	});

	it('serves the last good answer with X-Fallback: cached when the AI fails', async () => {
		const question = 'What are the delivery times to Austria?';
		const good = await call('POST', 'ai/sync', { question });
		expect(good.status).toBe(200);
		sim.setFault('status=500');
		const reply = await call('POST', 'ai/sync', { question });
		expect(reply.status).toBe(200);
		expect(reply.headers.get('x-fallback')).toBe('cached');
		expect(reply.body).toEqual(
			expect.objectContaining({ answer: good.body.answer, fallback: 'cached' }),
		);
		expect(sim.counters().byStatus['500']).toBe(2); // the attempt and its one retry
	});

	it('answers degraded with X-Fallback: degraded when the AI fails and nothing is cached', async () => {
		sim.setFault('status=500');
		const reply = await call('POST', 'ai/sync', { question: 'A question never asked before' });
		expect(reply.status).toBe(200);
		expect(reply.headers.get('x-fallback')).toBe('degraded');
		expect(reply.body.answer).toMatch(/could not process this automatically/);
	});

	it('answers 503 with Retry-After when the service is rate limited', async () => {
		sim.setFault('status=429;retry-after=2');
		const reply = await call('POST', 'ai/sync', { question: 'Rate limited question' });
		expect(reply.status).toBe(503);
		expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
		expect(reply.body).toEqual(
			expect.objectContaining({ error: 'busy', retryAt: expect.any(String) }),
		);
	});

	it('answers 202 when a person has to answer (content filter)', async () => {
		sim.setFault('content-filter');
		const reply = await call('POST', 'ai/sync', { question: 'Filtered question' });
		expect(reply.status).toBe(202);
		expect(reply.body).toEqual(
			expect.objectContaining({
				status: 'accepted',
				reason: expect.stringContaining('content_filter'),
			}),
		);
	});
});

describe("support-agent: POST /webhook/ai/support (n8n's AI Agent with the AI Call Chat Model)", () => {
	it('answers 200: the agent looked the order up with its tool, and the answer is counted in the cost per answer', async () => {
		const reply = await call('POST', 'ai/support', {
			customer: 'acme',
			question: 'Where is my order 12345?',
		});
		expect(reply.status).toBe(200);
		expect(reply.body.answer).toContain('Order 12345: shipped, arrives on Friday.');
		expect(sim.counters().toolCalls).toBe(1);
		const cost = await eventually('the answer in the cost report', async () => {
			const r = await call('GET', 'ai/support/cost');
			return r.body?.outcomes?.['support-answer'] >= 1 && r.body.calls >= 2 ? r.body : undefined;
		});
		expect(cost.costUsd).toBeGreaterThan(0);
		expect(cost.costPerOutcome['support-answer']).toBeGreaterThan(0);
	});

	it('answers 503 with Retry-After when the AI stays rate limited (the chat model retried first)', async () => {
		sim.setFault('status=429;retry-after=1');
		const reply = await call('POST', 'ai/support', { customer: 'acme', question: 'Hello?' });
		expect(reply.status).toBe(503);
		expect(reply.body.error).toBe('busy');
		expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
		// 1 attempt + 2 retries (Max Retries 2); the fallback model is only for server errors
		expect(sim.counters().byEndpoint['POST /v1/chat/completions']).toBe(3);
	});

	it('answers degraded when the AI is broken: the fallback model failed too', async () => {
		sim.setFault('status=500');
		const reply = await call('POST', 'ai/support', { customer: 'acme', question: 'Hello?' });
		expect(reply.status).toBe(200);
		expect(reply.headers.get('x-fallback')).toBe('degraded');
		expect(reply.body.fallback).toBe('degraded');
	});

	it('answers 400 without a customer, without calling the AI', async () => {
		const reply = await call('POST', 'ai/support', { question: 'Hello?' });
		expect(reply.status).toBe(400);
		expect(JSON.stringify(reply.body.problems)).toContain('customer');
		expect(sim.counters().requests).toBe(0);
	});
});

describe('webhook-pipeline: POST /webhook/ai/documents', () => {
	const contract = (id: string) => ({
		documentId: id,
		title: 'Supply agreement',
		text: '# Summary\nThis contract covers the supply of parts between the parties for two years.\n# Parties\nAcme GmbH and Widget Ltd.\n# Terms\nRenewal each year unless cancelled in writing.',
	});
	const send = (doc: unknown, key?: string) =>
		call('POST', 'ai/documents', doc, key ? { 'idempotency-key': key } : {});

	it('20 concurrent deliveries with one key: one classification, 20 equal answers', async () => {
		const key = `e2e-${Date.now()}`;
		const replies = await Promise.all(
			Array.from({ length: 20 }, () => send(contract('doc-20'), key)),
		);
		expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
		for (const r of replies) expect(r.body).toEqual(replies[0].body);
		expect(replies[0].body).toEqual(
			expect.objectContaining({ documentId: 'doc-20', category: 'contract', filedUnder: 'legal' }),
		);
		expect(replies.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
		const { byModel } = sim.counters();
		expect(byModel['sim-standard']).toBe(1); // classify
		expect(byModel['sim-large']).toBe(1); // enrich
		// the side effect happened once: one stored row
		const stored = (await tableRows('ai_documents')).filter((r) => r.idempotencyKey === key);
		expect(stored).toEqual([
			expect.objectContaining({ documentId: 'doc-20', category: 'contract' }),
		]);
	});

	it('counts each stored document and answers the cost per document from the usage ledger', async () => {
		const before = await call('GET', 'ai/documents/cost');
		expect(before.status).toBe(200);
		const was = before.body as { documents?: number; costUsd: number };
		const keys = [`e2e-cost-a-${Date.now()}`, `e2e-cost-b-${Date.now()}`];
		const replies = await Promise.all(keys.map((k, i) => send(contract(`doc-cost-${i}`), k)));
		expect(replies.map((r) => r.status)).toEqual([200, 200]);
		const paid = replies.reduce((sum, r) => sum + (r.body as { costUsd: number }).costUsd, 0);
		expect(paid).toBeGreaterThan(0);
		// the ledger is written within a second of the calls
		await new Promise((resolve) => setTimeout(resolve, 1500));
		const after = await call('GET', 'ai/documents/cost');
		const now = after.body as {
			documents: number;
			costUsd: number;
			costPerDocumentUsd: number;
			calls: number;
		};
		// the sample run's report, for the issue note and the README
		console.log(`GET /webhook/ai/documents/cost → ${JSON.stringify(now)}`);
		expect(now.documents - (was.documents ?? 0)).toBe(2);
		expect(now.costUsd - was.costUsd).toBeCloseTo(paid, 8);
		expect(now.costPerDocumentUsd).toBeCloseTo(now.costUsd / now.documents, 9);
	});

	it('the same key with a changed document answers 422', async () => {
		const key = `e2e-conflict-${Date.now()}`;
		expect((await send(contract('doc-a'), key)).status).toBe(200);
		const reply = await send(contract('doc-b'), key);
		expect(reply.status).toBe(422);
		expect(reply.body.error).toBe('idempotency_key_reused');
	});

	it('a delivery without Idempotency-Key answers 400', async () => {
		const reply = await send(contract('doc-x'));
		expect(reply.status).toBe(400);
		expect(reply.body.error).toBe('missing_idempotency_key');
	});

	it('a document missing sections goes to a person: 202, no AI call', async () => {
		const reply = await send(
			{
				documentId: 'doc-short',
				title: 'Memo',
				text: '# Summary\nOnly a summary here, nothing else at all in this one.',
			},
			`e2e-incomplete-${Date.now()}`,
		);
		expect(reply.status).toBe(202);
		expect(reply.body.status).toBe('needs_review');
		expect(reply.body.problems).toContainEqual(
			expect.objectContaining({ reason: expect.stringContaining('Parties, Terms') }),
		);
		expect(sim.counters().requests).toBe(0);
	});

	it('an AI failure that may pass answers 503 and releases the key, so the retry is processed', async () => {
		const key = `e2e-retry-${Date.now()}`;
		sim.setFault('status=503');
		const failed = await send(contract('doc-r'), key);
		expect(failed.status).toBe(503);
		expect(failed.headers.get('retry-after')).toBe('30');
		sim.setFault(undefined);
		const retried = await send(contract('doc-r'), key);
		expect(retried.status).toBe(200);
		expect(retried.headers.get('idempotent-replayed')).toBeNull();
	});
});

describe('webhook-pipeline: failures a retry cannot fix', () => {
	it('a document the AI refuses (content filter) goes to a person: 202, not 503', async () => {
		sim.setFault('content-filter');
		const reply = await call(
			'POST',
			'ai/documents',
			{
				documentId: 'doc-cf',
				title: 'Supply agreement',
				text: '# Summary\nThis contract covers the supply of parts between the parties for two years.\n# Parties\nAcme GmbH and Widget Ltd.\n# Terms\nRenewal each year.',
			},
			{ 'idempotency-key': `e2e-cf-${Date.now()}` },
		);
		expect(reply.status).toBe(202);
		expect(reply.body).toEqual(
			expect.objectContaining({ status: 'needs_review', reason: 'content_filter' }),
		);
	});
});

describe('async-queue: POST /webhook/ai/jobs, GET /webhook/ai/jobs/:id', () => {
	it('answers 202 with a job id before the AI works; the status shows the running attempt and its lease; the callback carries its key', async () => {
		sim.setFault('latency=3000');
		const reply = await call('POST', 'ai/jobs', {
			text: 'The customer cannot log in since the update.',
			callbackUrl: `${sim.url}/_sim/inbox/e2e-callbacks`,
		});
		expect(reply.status).toBe(202);
		expect(reply.ms).toBeLessThan(2500); // answered while the AI is still thinking
		const { jobId, statusUrl } = reply.body as { jobId: string; statusUrl: string };
		expect(statusUrl).toBe(`/webhook/ai/jobs/${jobId}`);
		const running = (await call('GET', `ai/jobs/${jobId}`)).body as Record<string, unknown>;
		expect(running).toMatchObject({ status: 'running', attempt: 1, maxAttempts: 3 });
		expect(Date.parse(String(running.leaseUntil))).toBeGreaterThan(Date.now());

		const [callback] = await eventually('the callback', () => {
			const got = sim.inbox('e2e-callbacks');
			return got.length ? got : undefined;
		});
		expect(callback.body).toEqual({
			jobId,
			status: 'done',
			result: expect.stringContaining('Category: support'),
			error: null,
			attempt: 1,
		});
		expect(callback.headers['idempotency-key']).toBe(`${jobId}:1`);
		// acknowledged right after the callback: then nothing is owed and the lease is gone
		const status = await eventually('the delivery acknowledged', async () => {
			const got = await call('GET', `ai/jobs/${jobId}`);
			return got.body.leaseUntil === null ? got : undefined;
		});
		expect(status.status).toBe(200);
		expect(status.body).toEqual(
			expect.objectContaining({
				jobId,
				status: 'done',
				attempt: 1,
				result: (callback.body as { result: string }).result,
				error: null,
			}),
		);
	});

	it('takes a job id from the caller once: the same id again answers 200 with its status, without new work', async () => {
		const jobId = `e2e-once-${Date.now()}`;
		const first = await call('POST', 'ai/jobs', { jobId, text: 'Once only' });
		expect(first.status).toBe(202);
		expect(first.body).toMatchObject({ jobId, status: 'running' });
		await eventually('the job done', async () =>
			(await call('GET', `ai/jobs/${jobId}`)).body.status === 'done' ? true : undefined,
		);
		const calls = sim.counters().requests;
		const again = await call('POST', 'ai/jobs', { jobId, text: 'Once only' });
		expect(again.status).toBe(200);
		expect(again.body).toMatchObject({ jobId, status: 'done' });
		expect(sim.counters().requests).toBe(calls);
	});

	it('rejects a job whose data is too old, without an AI call', async () => {
		const reply = await call('POST', 'ai/jobs', {
			text: 'Summarize last year',
			asOf: '2020-01-01T00:00:00Z',
			callbackUrl: `${sim.url}/_sim/inbox/e2e-stale`,
		});
		expect(reply.status).toBe(202);
		const [callback] = await eventually('the callback', () => {
			const got = sim.inbox('e2e-stale');
			return got.length ? got : undefined;
		});
		expect(callback.body).toEqual(
			expect.objectContaining({
				status: 'rejected_stale',
				error: expect.stringMatching(/^stale data: error_after_exceeded \(age \d+d/),
			}),
		);
		expect(sim.counters().requests).toBe(0);
	});

	it('answers 404 for an unknown job, 400 for a job without text or with a job id that is no id', async () => {
		expect((await call('GET', 'ai/jobs/job-does-not-exist')).status).toBe(404);
		expect((await call('POST', 'ai/jobs', { callbackUrl: 'http://x' })).status).toBe(400);
		const hostile = await call('POST', 'ai/jobs', { text: 'x', jobId: { $ne: null } });
		expect(hostile.status).toBe(400);
		expect(hostile.body).toEqual({
			error: 'invalid_job',
			problems: [expect.stringMatching(/^"Job ID" must be text or a number/)],
		});
	});
});

describe('freshness-monitor: GET /webhook/ai/freshness', () => {
	it.each([
		[0, 'fresh', false],
		[2, 'warn', true],
		[8, 'stale', true],
	])('index updated %d h ago: %s, alert sent: %s', async (hours, status, alerted) => {
		sim.setIndexUpdatedAt(new Date(Date.now() - hours * 3_600_000 - 60_000));
		const reply = await call('GET', 'ai/freshness');
		expect(reply.status).toBe(200);
		expect(reply.body).toEqual(expect.objectContaining({ index: 'documents', status, alerted }));
		// the alert is sent after the answer: wait for the execution to end
		await eventually('the execution to end', async () => {
			const id = samples.find((s) => s.file === 'freshness-monitor.json')!.id;
			const { data } = await api.public<{ data: Array<{ status: string }> }>(
				'GET',
				`/executions?workflowId=${id}&limit=1`,
			);
			return data[0] && !['new', 'running'].includes(data[0].status) ? true : undefined;
		});
		const alerts = sim.inbox('alerts');
		expect(alerts).toHaveLength(alerted ? 1 : 0);
		if (alerted) expect(alerts[0].body).toEqual(expect.objectContaining({ status }));
	});

	it('alerts when the index status cannot be read', async () => {
		sim.setIndexUpdatedAt(new Date(), { down: true });
		const reply = await call('GET', 'ai/freshness');
		expect(reply.status).toBe(200);
		expect(reply.body).toEqual(expect.objectContaining({ status: 'unknown', alerted: true }));
		const alerts = await eventually('the alert', () => {
			const got = sim.inbox('alerts');
			return got.length ? got : undefined;
		});
		expect(alerts).toEqual([
			expect.objectContaining({
				body: expect.objectContaining({ text: expect.stringContaining('could not be read') }),
			}),
		]);
		sim.setIndexUpdatedAt(new Date());
	});
});

describe('fallback-drill: GET /webhook/ai/drill', () => {
	it('reaches every branch of the Fallback Router', async () => {
		const reply = await call('GET', 'ai/drill');
		expect(reply.status).toBe(200);
		expect(reply.body).toEqual(
			expect.objectContaining({
				ok: true,
				missing: [],
				reached: ['cached', 'queue', 'human', 'degraded'],
			}),
		);
		expect(sim.counters().requests).toBe(1); // only the warm-up calls the AI
	});
});

describeWithService('RabbitMQ', rabbitmq, 'async-queue-rabbitmq: producer and worker', () => {
	it('200 jobs with 30% of AI calls failing: every job ends processed or with a person, none lost', async () => {
		sim.setFault('status=500;rate=0.3;latency=20-80');
		const run = `e2e-${Date.now().toString(36)}`;
		const jobs = Array.from({ length: 200 }, (_, i) => ({
			jobId: `${run}-${i + 1}`,
			// every 20th job is refused by the content filter: a person must look at it
			text: `${(i + 1) % 20 === 0 ? '[[sim: content-filter]] ' : ''}Job ${i + 1}: summarize the order status.`,
		}));
		expect((await call('POST', 'ai/rabbitmq/jobs', { jobs: [] })).status).toBe(400);
		const reply = await call('POST', 'ai/rabbitmq/jobs', { jobs });
		expect(reply.status).toBe(202);
		expect(reply.body.accepted).toBe(200);

		const rows = await eventually(
			'200 outcomes',
			async () => {
				const mine = (await tableRows('ai_queue_outcomes')).filter((r) =>
					String(r.jobId).startsWith(`${run}-`),
				);
				return mine.length >= 200 ? mine : undefined;
			},
			180_000,
		);
		const ids = rows.map((r) => r.jobId);
		expect(new Set(ids).size).toBe(200);
		expect(ids.sort()).toEqual(jobs.map((j) => j.jobId).sort());
		const human = rows.filter((r) => r.outcome === 'human').map((r) => r.jobId);
		const filtered = jobs.filter((j) => j.text.includes('content-filter')).map((j) => j.jobId);
		expect(human).toEqual(expect.arrayContaining(filtered));
		for (const r of rows) expect(['processed', 'human']).toContain(r.outcome);
		const counters = sim.counters();
		expect(counters.byStatus['500']).toBeGreaterThan(0);
		// some jobs went back to the queue and were processed on a later delivery
		expect(rows.some((r) => r.outcome === 'processed' && Number(r.attempts) > 1)).toBe(true);
		// the worker's parallel limit (5) is the most calls the AI saw at once
		expect(counters.peakInFlight).toBeLessThanOrEqual(5);
	}, 300_000);

	it('a message that is not a job goes to a person instead of stalling the worker', async () => {
		const connection = await amqp.connect(`amqp://guest:guest@${RABBITMQ.host}:${RABBITMQ.port}`);
		try {
			const channel = await connection.createChannel();
			const marker = `not-a-job-${Date.now()}`;
			channel.sendToQueue(RABBIT_QUEUE, Buffer.from(marker), { persistent: true });
			await channel.close();
			const row = await eventually('the outcome of the bad message', async () =>
				(await tableRows('ai_queue_outcomes')).find((r) => r.detail === `not a job: ${marker}`),
			);
			expect(row).toEqual(
				expect.objectContaining({
					jobId: expect.stringMatching(/^invalid-message-/),
					outcome: 'human',
					detail: `not a job: ${marker}`,
				}),
			);
			expect(sim.counters().requests).toBe(0); // an empty job makes no AI call
		} finally {
			await connection.close();
		}
	});
});
