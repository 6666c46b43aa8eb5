'use strict';
/**
 * npm run bench:n8n — the AI Call in real n8n 2.41.1 (regular mode, SQLite, the package from its
 * npm tarball), side by side in one run: through the package's keep-alive pool and through n8n's
 * request helper (N8N_AI_PATTERNS_TRANSPORT=helper), over HTTP against the simulator at 0, 100 and
 * 1,000 ms latency, 50 calls in flight. Reports % of the ideal (items × latency / parallelism),
 * the TCP connections the simulator accepted, and n8n's CPU per call (its process tree, from
 * /proc). Writes bench/results/n8n.json. BENCH_ITEMS changes the item count (default 1,000).
 *
 * Not yet here (issue #17): HTTPS with a self-signed certificate, n8n's HTTP Request and OpenAI
 * nodes, and a keep-alive pool outside n8n as the limit.
 */
const { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const {
	installPackage,
	startN8n,
	N8nApi,
	REPO_ROOT,
	PACKAGE_NAME,
} = require('../scripts/n8n-runtime');
const { startSimulator } = require(join(REPO_ROOT, 'dist/simulator'));

const ITEMS = Number(process.env.BENCH_ITEMS ?? 1000);
const IN_FLIGHT = 50;
const LATENCIES = [0, 100, 1000];
const KEY = 'sk-bench-n8n';
const CLK_TCK = 100; // Linux USER_HZ

function workflow(model) {
	const node = (name, type, typeVersion, position, parameters, extra = {}) => ({
		id: name,
		name,
		type,
		typeVersion,
		position,
		parameters,
		...extra,
	});
	return {
		name: 'bench: AI Call',
		nodes: [
			node(
				'Webhook',
				'n8n-nodes-base.webhook',
				2.1,
				[0, 0],
				{
					httpMethod: 'POST',
					path: 'bench/ai',
					responseMode: 'lastNode',
					options: {},
				},
				{ webhookId: 'bench-ai-call' },
			),
			node('Items', 'n8n-nodes-base.code', 2, [200, 0], {
				jsCode:
					'const n = $input.first().json.body.n;\nreturn Array.from({ length: n }, (_, i) => ({ json: { text: `Question ${i}: where is my order?` } }));',
			}),
			node(
				'AI Call',
				`${PACKAGE_NAME}.aiCall`,
				1.1,
				[400, 0],
				{
					model: { __rl: true, mode: 'id', value: model },
					userPrompt: '={{ $json.text }}',
					timeoutPreset: 'custom',
					timeoutMs: 30000,
					options: { maxConcurrency: IN_FLIGHT, maxRetries: 0 },
				},
				{ credentials: { aiServiceApi: { id: 'x', name: 'AI Service' } } },
			),
			node('Count', 'n8n-nodes-base.code', 2, [600, 0], {
				jsCode: 'return [{ json: { answered: $input.all().length } }];',
			}),
		],
		connections: {
			Webhook: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
			Items: { main: [[{ node: 'AI Call', type: 'main', index: 0 }]] },
			'AI Call': { main: [[{ node: 'Count', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
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

async function run(n8n, sim, items) {
	const res = await fetch(`${n8n.url}/webhook/bench/ai`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ n: items }),
	});
	const body = await res.json();
	if (res.status !== 200 || body.answered !== items)
		throw new Error(`bench run: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
}

async function measureTransport(transport, sim) {
	// a user folder of its own: a fresh n8n, owner and credential for each transport
	const userFolder = mkdtempSync(join(tmpdir(), `n8n-bench-${transport}-`));
	await installPackage(userFolder, { mode: 'pack' });
	const n8n = await startN8n({
		userFolder,
		env: transport === 'helper' ? { N8N_AI_PATTERNS_TRANSPORT: 'helper' } : {},
	});
	const rows = [];
	try {
		const api = new N8nApi(n8n.url);
		await api.setupOwner();
		const cred = await api.createCredential('AI Service', 'aiServiceApi', {
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: KEY,
		});
		const wf = workflow('sim-standard');
		wf.nodes.find((n) => n.name === 'AI Call').credentials.aiServiceApi.id = cred.id;
		await api.importWorkflow(wf);
		for (const latency of LATENCIES) {
			sim.setFault(latency ? `latency=${latency}` : undefined);
			await run(n8n, sim, IN_FLIGHT * 2); // warm-up: JIT, the pool
			sim.reset();
			const cpu0 = cpuSeconds(n8n.pids());
			const t0 = performance.now();
			await run(n8n, sim, ITEMS);
			const wallMs = performance.now() - t0;
			const cpuMs = (cpuSeconds(n8n.pids()) - cpu0) * 1000;
			const idealMs = (ITEMS * latency) / IN_FLIGHT;
			const c = sim.counters();
			const row = {
				transport,
				latencyMs: latency,
				items: ITEMS,
				inFlight: IN_FLIGHT,
				wallMs: Math.round(wallMs),
				idealMs,
				percentOfIdeal: latency ? Math.round((idealMs / wallMs) * 1000) / 10 : null,
				tcpConnections: c.connections,
				peakOpenConnections: c.peakOpenConnections,
				n8nCpuMsPerCall: Math.round((cpuMs / ITEMS) * 100) / 100,
			};
			rows.push(row);
			process.stdout.write(`${JSON.stringify(row)}\n`);
		}
	} finally {
		await n8n.stop();
		rmSync(userFolder, { recursive: true, force: true });
	}
	return rows;
}

async function main() {
	const sim = await startSimulator({ apiKeys: [KEY] });
	const rows = [];
	try {
		for (const transport of ['helper', 'pool'])
			rows.push(...(await measureTransport(transport, sim)));
	} finally {
		await sim.close();
	}
	const line = (cells) => `| ${cells.join(' | ')} |`;
	const table = [
		line(['transport', 'latency', 'wall', '% of ideal', 'TCP connections', 'n8n CPU per call']),
		line(['---', '---', '---', '---', '---', '---']),
		...rows.map((r) =>
			line([
				r.transport === 'pool' ? 'keep-alive pool' : "n8n's request helper",
				`${r.latencyMs} ms`,
				`${(r.wallMs / 1000).toFixed(2)} s`,
				r.percentOfIdeal === null ? '—' : `${r.percentOfIdeal} %`,
				String(r.tcpConnections),
				`${r.n8nCpuMsPerCall} ms`,
			]),
		),
	].join('\n');
	process.stdout.write(
		`\n${ITEMS} items, ${IN_FLIGHT} in flight, real n8n 2.41.1, HTTP:\n${table}\n`,
	);
	mkdirSync(join(__dirname, 'results'), { recursive: true });
	writeFileSync(
		join(__dirname, 'results', 'n8n.json'),
		`${JSON.stringify({ at: new Date().toISOString(), rows }, null, '\t')}\n`,
	);
}

main().catch((error) => {
	process.stderr.write(`${error.stack ?? error}\n`);
	process.exit(1);
});
