'use strict';
/**
 * npm run bench:workflows — the sample workflows in real n8n 2.41.1 (regular mode, SQLite, the
 * package from its npm tarball), against the simulator at 0 ms latency, side by side with the
 * smallest webhook workflow n8n can run (Webhook → Respond to Webhook): what the patterns add to
 * n8n's own cost per request. Sequential requests (latency) and 10 in flight (throughput).
 * Writes bench/results/workflows.json. BENCH_REQUESTS changes the count (default 200).
 * Plain JS: it drives n8n through scripts/n8n-runtime.js like the demo does.
 */
const { mkdirSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const {
	installPackage,
	startN8n,
	N8nApi,
	importSamples,
	REPO_ROOT,
} = require('../scripts/n8n-runtime');

const N = Number(process.env.BENCH_REQUESTS ?? 200);
const WARMUP = 20;

const BASELINE = {
	name: 'bench: baseline',
	nodes: [
		{
			id: 'b1',
			name: 'Webhook',
			type: 'n8n-nodes-base.webhook',
			typeVersion: 2.1,
			position: [0, 0],
			webhookId: 'bench-baseline',
			parameters: {
				httpMethod: 'POST',
				path: 'bench/baseline',
				responseMode: 'responseNode',
				options: {},
			},
		},
		{
			id: 'b2',
			name: 'Respond',
			type: 'n8n-nodes-base.respondToWebhook',
			typeVersion: 1.5,
			position: [240, 0],
			parameters: { respondWith: 'json', responseBody: '={{ { ok: true } }}', options: {} },
		},
	],
	connections: { Webhook: { main: [[{ node: 'Respond', type: 'main', index: 0 }]] } },
	settings: { executionOrder: 'v1' },
};

const CONTRACT = {
	title: 'Supply agreement',
	text: '# Summary\nThis contract covers the supply of parts between the parties for two years.\n# Parties\nAcme GmbH and Widget Ltd.\n# Terms\nRenewal each year unless cancelled in writing.',
};

function percentile(sorted, p) {
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(base, request, { inFlight = 1 } = {}) {
	const send = async (i) => {
		const { path, body, headers = {}, expect } = request(i);
		const started = performance.now();
		const res = await fetch(`${base}/webhook/${path}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', ...headers },
			body: JSON.stringify(body),
		});
		await res.arrayBuffer();
		if (res.status !== expect) throw new Error(`${path}: ${res.status}, expected ${expect}`);
		return performance.now() - started;
	};
	for (let i = 0; i < WARMUP; i++) await send(-1 - i);
	const times = [];
	const started = performance.now();
	let next = 0;
	await Promise.all(
		Array.from({ length: inFlight }, async () => {
			while (next < N) times.push(await send(next++));
		}),
	);
	const seconds = (performance.now() - started) / 1000;
	times.sort((a, b) => a - b);
	const round = (x) => Math.round(x * 10) / 10;
	return {
		p50Ms: round(percentile(times, 50)),
		p95Ms: round(percentile(times, 95)),
		p99Ms: round(percentile(times, 99)),
		perSecond: Math.round(N / seconds),
	};
}

async function main() {
	const { startSimulator } = require(join(REPO_ROOT, 'dist/simulator'));
	const userFolder = mkdtempSync(join(tmpdir(), 'n8n-bench-'));
	let sim;
	let n8n;
	try {
		await installPackage(userFolder, { mode: 'pack' });
		sim = await startSimulator({ apiKeys: ['sim-key'] });
		n8n = await startN8n({ userFolder });
		const api = new N8nApi(n8n.url);
		await api.setupOwner();
		const ai = await api.createCredential('AI Service', 'aiServiceApi', {
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: 'sim-key',
		});
		const imported = await importSamples(api, {
			credentials: { aiServiceApi: { id: ai.id, name: 'AI Service' } },
			simUrl: sim.url,
			only: ['sync-request-response', 'webhook-pipeline', 'async-queue'],
		});
		for (const w of imported)
			if (w.error || !w.active) throw new Error(`${w.file}: ${w.error ?? 'not active'}`);
		await api.importWorkflow(BASELINE, { activate: true });

		const run = Date.now().toString(36);
		const cases = [
			[
				'baseline: Webhook → Respond (n8n alone)',
				() => ({ path: 'bench/baseline', body: {}, expect: 200 }),
			],
			[
				'sync: Completeness → AI Call → Respond',
				(i) => ({ path: 'ai/sync', body: { question: `Question ${run} ${i}` }, expect: 200 }),
			],
			['sync: bad request → 400 (no AI call)', () => ({ path: 'ai/sync', body: {}, expect: 400 })],
			[
				'pipeline: new document (Guard, 2 AI Calls, Data Table)',
				(i) => ({
					path: 'ai/documents',
					body: { ...CONTRACT, documentId: `d-${i}` },
					headers: { 'idempotency-key': `bench-${run}-${i}` },
					expect: 200,
				}),
			],
			[
				'pipeline: duplicate → replay of the stored answer',
				() => ({
					path: 'ai/documents',
					body: { ...CONTRACT, documentId: 'd-dup' },
					headers: { 'idempotency-key': `bench-${run}-dup` },
					expect: 200,
				}),
			],
			[
				'async: POST /ai/jobs → 202 (the work runs after)',
				(i) => ({ path: 'ai/jobs', body: { text: `Job ${run} ${i}` }, expect: 202 }),
			],
		];
		const results = [];
		for (const [name, request] of cases) {
			const sequential = await measure(n8n.url, request);
			// other ids, so "new document" stays new
			const tenInFlight = await measure(n8n.url, (i) => request(i + 1_000_000), { inFlight: 10 });
			results.push({ name, sequential, tenInFlight });
		}
		const base = results[0].sequential.p50Ms;
		process.stdout.write(
			`\n${N} requests each after ${WARMUP} warm-up, simulator at 0 ms, this machine:\n\n` +
				'| Request | p50 / p95 / p99 ms (one at a time) | + p50 vs baseline | req/s, 10 in flight |\n' +
				'| --- | --- | --- | --- |\n',
		);
		for (const r of results) {
			const s = r.sequential;
			process.stdout.write(
				`| ${r.name} | ${s.p50Ms} / ${s.p95Ms} / ${s.p99Ms} | ${r === results[0] ? '—' : `+${Math.round((s.p50Ms - base) * 10) / 10} ms`} | ${r.tenInFlight.perSecond} |\n`,
			);
		}
		mkdirSync(join(__dirname, 'results'), { recursive: true });
		writeFileSync(
			join(__dirname, 'results', 'workflows.json'),
			`${JSON.stringify({ requests: N, node: process.version, results }, null, 2)}\n`,
		);
	} finally {
		await n8n?.stop();
		await sim?.close();
		rmSync(userFolder, { recursive: true, force: true });
	}
}

main().catch((error) => {
	process.stderr.write(`${error.stack ?? error.message}\n`);
	process.exit(1);
});
