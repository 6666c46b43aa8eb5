'use strict';
/**
 * npm run bench:n8n — calling an AI service from real n8n 2.41.1 (regular mode, SQLite, the package
 * from its npm tarball), side by side in one run, against the simulator over HTTP and over HTTPS
 * (a self-signed certificate the bench makes; n8n trusts it through NODE_EXTRA_CA_CERTS):
 *   - the AI Call through the package's keep-alive pool (the default),
 *   - the AI Call through n8n's request helper (N8N_AI_PATTERNS_TRANSPORT=helper; what runs where
 *     n8n offers no egress hook),
 *   - n8n's HTTP Request node with Batching (50 items per batch, an interval of the latency),
 *   - n8n's OpenAI node (Message a Model, the Responses API; one item after another),
 *   - a keep-alive undici pool outside n8n (bench/pool-client.js): the limit.
 * Each workflow is Webhook → Code (n items) → the contender; the wall time is the webhook's round
 * trip (n8n's own work around the node included: the Code node, saving the execution), the node's
 * time is what n8n records for it in the execution. 50 calls in flight; % of ideal is (items × latency / 50) / wall. TCP
 * connections and TLS handshakes are what the simulator accepted in the measured run (after a
 * warm-up of 50 calls); CPU per call is n8n's whole process tree (task runners included, less its
 * idle rate measured first) or the pool client's. HTTP Request's Batching starts a batch every
 * interval without waiting for the last one: the interval is the latency, so that about 50 are in
 * flight (at 0 ms all start at once). Writes bench/results/n8n.json.
 * BENCH_ITEMS (default 1,000) and BENCH_OPENAI_ITEMS (default 50: it is sequential) set the items.
 */
const { spawn } = require('node:child_process');
const { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { createInterface } = require('node:readline');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const {
	ensureN8n,
	installPackage,
	startN8n,
	N8nApi,
	REPO_ROOT,
	PACKAGE_NAME,
} = require('../scripts/n8n-runtime');
const { startSimulator, selfSignedCertificate } = require(join(REPO_ROOT, 'dist/simulator'));

const ITEMS = Number(process.env.BENCH_ITEMS ?? 1000);
const OPENAI_ITEMS = Number(process.env.BENCH_OPENAI_ITEMS ?? 50);
const IN_FLIGHT = 50;
const LATENCIES = { http: [0, 100, 1000], https: [0, 100, 200, 1000] };
const KEY = 'sk-bench-n8n';
const CLK_TCK = 100; // Linux USER_HZ

const CONTENDERS = {
	aiPool: 'AI Call (keep-alive pool)',
	aiHelper: "AI Call (n8n's request helper)",
	httpRequest: 'HTTP Request, Batching 50',
	openAi: "n8n's OpenAI node",
	outside: 'keep-alive pool outside n8n (the limit)',
};

/** The node under test, given its credential ids for this scheme. */
const contenderNode = {
	ai: (cred) => ({
		type: `${PACKAGE_NAME}.aiCall`,
		typeVersion: 1.1,
		parameters: {
			model: { __rl: true, mode: 'id', value: 'sim-standard' },
			userPrompt: '={{ $json.text }}',
			timeoutPreset: 'custom',
			timeoutMs: 30000,
			options: { maxConcurrency: IN_FLIGHT, maxRetries: 0 },
		},
		credentials: { aiServiceApi: { id: cred.ai, name: 'AI Service' } },
	}),
	httpRequest: (cred, sim) => ({
		type: 'n8n-nodes-base.httpRequest',
		typeVersion: 4.2,
		parameters: {
			method: 'POST',
			url: `${sim.baseUrl}/chat/completions`,
			sendHeaders: true,
			headerParameters: { parameters: [{ name: 'authorization', value: `Bearer ${KEY}` }] },
			sendBody: true,
			specifyBody: 'json',
			jsonBody:
				'={{ JSON.stringify({ model: "sim-standard", messages: [{ role: "user", content: $json.text }], temperature: 0.2, max_tokens: 1024 }) }}',
			// Batching starts 50 requests every interval and waits for none of them: an interval of
			// the latency is how it keeps about 50 in flight
			options: {
				batching: { batch: { batchSize: IN_FLIGHT, batchInterval: '={{ $json.interval }}' } },
			},
		},
	}),
	openAi: (cred) => ({
		type: '@n8n/n8n-nodes-langchain.openAi',
		typeVersion: 2.3,
		parameters: {
			resource: 'text',
			operation: 'response',
			modelId: { __rl: true, mode: 'id', value: 'sim-standard' },
			responses: { values: [{ type: 'text', role: 'user', content: '={{ $json.text }}' }] },
			options: {},
		},
		credentials: { openAiApi: { id: cred.openAi, name: 'OpenAI' } },
	}),
};

function workflow(kind, scheme, cred, sim) {
	const path = `bench/${kind}/${scheme}`;
	const node = (name, position, spec, extra = {}) => ({
		id: name,
		name,
		position,
		...spec,
		...extra,
	});
	const code = (jsCode) => ({
		type: 'n8n-nodes-base.code',
		typeVersion: 2,
		parameters: { jsCode },
	});
	return {
		path,
		json: {
			name: `bench: ${kind} over ${scheme}`,
			nodes: [
				node(
					'Webhook',
					[0, 0],
					{
						type: 'n8n-nodes-base.webhook',
						typeVersion: 2.1,
						parameters: { httpMethod: 'POST', path, responseMode: 'lastNode', options: {} },
					},
					{ webhookId: `bench-${kind}-${scheme}` },
				),
				node(
					'Items',
					[200, 0],
					code(
						'const { n, interval } = $input.first().json.body;\nreturn Array.from({ length: n }, (_, i) => ({ json: { text: `Question ${i}: where is my order?`, interval } }));',
					),
				),
				node('Call', [400, 0], contenderNode[kind](cred, sim)),
			],
			connections: {
				Webhook: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
				Items: { main: [[{ node: 'Call', type: 'main', index: 0 }]] },
			},
			settings: { executionOrder: 'v1' },
		},
	};
}

/** CPU seconds (user + system) of these processes so far. */
function cpuSeconds(pids) {
	let ticks = 0;
	for (const pid of pids) {
		try {
			const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
		} catch {
			// exited
		}
	}
	return ticks / CLK_TCK;
}

/** n8n's CPU per millisecond while it runs nothing (its timers, the task runners' heartbeats). */
async function idleCpuRate(n8n) {
	const cpu0 = cpuSeconds(n8n.pids());
	const t0 = performance.now();
	await new Promise((r) => setTimeout(r, 10_000));
	return ((cpuSeconds(n8n.pids()) - cpu0) * 1000) / (performance.now() - t0);
}

/** The newest execution of a workflow with its data (n8n saves it as the webhook answers). */
async function newestExecution(api, workflowId, after) {
	for (let i = 0; i < 200; i++) {
		const { data } = await api.public(
			'GET',
			`/executions?workflowId=${workflowId}&includeData=true&limit=1`,
		);
		if (data[0] && data[0].id !== after && data[0].finished) return data[0];
		await new Promise((r) => setTimeout(r, 50));
	}
	throw new Error(`bench: no new execution of workflow ${workflowId}`);
}

/**
 * Runs one workflow over its webhook with n items; resolves with { wallMs, nodeMs, cpuMs }: the
 * webhook's round trip, the contender node's own time as n8n records it in the execution, and the
 * CPU less what n8n spends idle over the same time (else a 1 s latency shows idle as cost per call).
 */
function n8nRunner(n8n, api, workflowId, path, idleRate) {
	let last;
	return async (n, latency) => {
		const cpu0 = cpuSeconds(n8n.pids());
		const t0 = performance.now();
		const res = await fetch(`${n8n.url}/webhook/${path}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ n, interval: latency }),
		});
		const body = await res.text();
		const wallMs = performance.now() - t0;
		const cpuMs = (cpuSeconds(n8n.pids()) - cpu0) * 1000 - idleRate * wallMs;
		if (res.status !== 200) throw new Error(`bench ${path}: ${res.status} ${body.slice(0, 300)}`);
		const execution = await newestExecution(api, workflowId, last);
		last = execution.id;
		const [run] = execution.data.resultData.runData.Call;
		const answered = run.data.main[0]?.length ?? 0;
		if (answered !== n) throw new Error(`bench ${path}: ${answered} of ${n} items answered`);
		return { wallMs, nodeMs: run.executionTime, cpuMs: Math.max(0, cpuMs) };
	};
}

/** The pool client as a process of its own; resolves with a runner like n8nRunner's. */
function startPoolClient(sim, caPath) {
	const child = spawn(
		process.execPath,
		[
			join(__dirname, 'pool-client.js'),
			JSON.stringify({ url: `${sim.baseUrl}/chat/completions`, key: KEY, inFlight: IN_FLIGHT }),
		],
		{ env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath }, stdio: ['pipe', 'pipe', 'inherit'] },
	);
	const lines = createInterface({ input: child.stdout });
	const waiting = [];
	lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
	const run = (n) =>
		new Promise((resolve) => {
			waiting.push(resolve);
			child.stdin.write(`run ${n}\n`);
		});
	run.stop = () => child.kill();
	return run;
}

async function measure(contender, scheme, latency, sim, runner, items) {
	sim.setFault(latency ? `latency=${latency}` : undefined);
	await runner(Math.min(IN_FLIGHT, items), latency); // warm-up: JIT, the pool's connections
	sim.reset();
	const { wallMs, nodeMs, cpuMs } = await runner(items, latency);
	const idealMs = (items * latency) / IN_FLIGHT;
	const percent = (ms) => (latency ? Math.round((idealMs / ms) * 1000) / 10 : null);
	const c = sim.counters();
	const row = {
		contender,
		scheme,
		latencyMs: latency,
		items,
		inFlight: IN_FLIGHT,
		wallMs: Math.round(wallMs),
		nodeMs: Math.round(nodeMs),
		idealMs,
		percentOfIdeal: percent(wallMs),
		nodePercentOfIdeal: percent(nodeMs),
		tcpConnections: c.connections,
		tlsHandshakes: c.tlsHandshakes,
		peakOpenConnections: c.peakOpenConnections,
		cpuMsPerCall: Math.round((cpuMs / items) * 100) / 100,
	};
	process.stdout.write(`${JSON.stringify(row)}\n`);
	return row;
}

/** One n8n (pool or helper transport) and the contenders it runs, over both schemes. */
async function measureN8n(transport, sims, caPath) {
	const userFolder = mkdtempSync(join(tmpdir(), `n8n-bench-${transport}-`));
	await installPackage(userFolder, { mode: 'pack' });
	const n8n = await startN8n({
		userFolder,
		env: {
			NODE_EXTRA_CA_CERTS: caPath,
			...(transport === 'helper' ? { N8N_AI_PATTERNS_TRANSPORT: 'helper' } : {}),
		},
	});
	const kinds =
		transport === 'helper'
			? [['aiHelper', 'ai']]
			: [
					['aiPool', 'ai'],
					['httpRequest', 'httpRequest'],
					['openAi', 'openAi'],
				];
	const rows = [];
	try {
		const api = new N8nApi(n8n.url);
		await api.setupOwner();
		const idleRate = await idleCpuRate(n8n);
		process.stdout.write(
			`n8n (${transport}) idle: ${(idleRate * 1000).toFixed(1)} ms CPU per second\n`,
		);
		for (const [scheme, sim] of Object.entries(sims)) {
			const cred = {
				ai: (
					await api.createCredential(`AI Service ${scheme}`, 'aiServiceApi', {
						provider: 'openai',
						baseUrl: sim.baseUrl,
						apiKey: KEY,
					})
				).id,
				openAi: (
					await api.createCredential(`OpenAI ${scheme}`, 'openAiApi', {
						apiKey: KEY,
						url: sim.baseUrl,
					})
				).id,
			};
			const runners = {};
			for (const [contender, kind] of kinds) {
				const wf = workflow(kind, scheme, cred, sim);
				const { id } = await api.importWorkflow(wf.json);
				runners[contender] = n8nRunner(n8n, api, id, wf.path, idleRate);
			}
			for (const latency of LATENCIES[scheme])
				for (const [contender] of kinds)
					rows.push(
						await measure(
							contender,
							scheme,
							latency,
							sim,
							runners[contender],
							contender === 'openAi' ? OPENAI_ITEMS : ITEMS,
						),
					);
		}
	} finally {
		await n8n.stop();
		rmSync(userFolder, { recursive: true, force: true });
	}
	return rows;
}

async function measureOutside(sims, caPath) {
	const rows = [];
	for (const [scheme, sim] of Object.entries(sims)) {
		const run = startPoolClient(sim, caPath);
		try {
			for (const latency of LATENCIES[scheme])
				rows.push(await measure('outside', scheme, latency, sim, run, ITEMS));
		} finally {
			run.stop();
		}
	}
	return rows;
}

function table(rows) {
	const line = (cells) => `| ${cells.join(' | ')} |`;
	return [
		line([
			'contender',
			'scheme',
			'latency',
			'items',
			'wall (webhook)',
			'% of ideal',
			'node',
			'% of ideal (node)',
			'TCP connections',
			'TLS handshakes',
			'CPU per call',
		]),
		line(Array(11).fill('---')),
		...rows.map((r) =>
			line([
				CONTENDERS[r.contender],
				r.scheme.toUpperCase(),
				`${r.latencyMs} ms`,
				String(r.items),
				`${(r.wallMs / 1000).toFixed(2)} s`,
				r.percentOfIdeal === null ? '—' : `${r.percentOfIdeal} %`,
				r.contender === 'outside' ? '—' : `${(r.nodeMs / 1000).toFixed(2)} s`,
				r.nodePercentOfIdeal === null || r.contender === 'outside'
					? '—'
					: `${r.nodePercentOfIdeal} %`,
				String(r.tcpConnections),
				r.scheme === 'https' ? String(r.tlsHandshakes) : '—',
				`${r.cpuMsPerCall} ms`,
			]),
		),
	].join('\n');
}

async function main() {
	await ensureN8n();
	const tls = selfSignedCertificate();
	const sims = {
		http: await startSimulator({ apiKeys: [KEY] }),
		https: await startSimulator({ apiKeys: [KEY], tls }),
	};
	const rows = [];
	try {
		rows.push(...(await measureN8n('pool', sims, tls.certPath)));
		rows.push(...(await measureN8n('helper', sims, tls.certPath)));
		rows.push(...(await measureOutside(sims, tls.certPath)));
	} finally {
		for (const sim of Object.values(sims)) await sim.close();
	}
	const order = Object.keys(CONTENDERS);
	rows.sort(
		(a, b) =>
			a.scheme.localeCompare(b.scheme) ||
			a.latencyMs - b.latencyMs ||
			order.indexOf(a.contender) - order.indexOf(b.contender),
	);
	process.stdout.write(
		`\n${ITEMS} items (n8n's OpenAI node: ${OPENAI_ITEMS}), ${IN_FLIGHT} in flight, real n8n 2.41.1:\n${table(rows)}\n`,
	);
	mkdirSync(join(__dirname, 'results'), { recursive: true });
	writeFileSync(
		join(__dirname, 'results', 'n8n.json'),
		`${JSON.stringify({ at: new Date().toISOString(), items: ITEMS, openAiItems: OPENAI_ITEMS, inFlight: IN_FLIGHT, rows }, null, '\t')}\n`,
	);
}

main().catch((error) => {
	process.stderr.write(`${error.stack ?? error}\n`);
	process.exit(1);
});
