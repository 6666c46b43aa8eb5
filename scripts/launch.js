'use strict';
// `npm run demo` and `npm run dev`: real n8n 2.41.1 with this package, the AI service simulator,
// an owner account, the credentials, and the sample workflows imported and activated.
//   demo: the package installed from its npm tarball, a fresh user folder each time; then one
//         request through each pattern, printed, and curl lines to try.
//   dev:  the checkout symlinked, a user folder kept in .n8n-dev/ (rebuild and restart to see changes).
// A real AI service instead of the simulator: AI_PROVIDER (openai | anthropic), AI_BASE_URL,
// AI_API_KEY and AI_MODEL in the environment. The simulator still runs: the freshness monitor and
// the async callbacks use its stand-in index status and inbox.
const { randomBytes } = require('node:crypto');
const { mkdtempSync, mkdirSync, rmSync } = require('node:fs');
const { createConnection } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const { installPackage, startN8n, N8nApi, importSamples, REPO_ROOT } = require('./n8n-runtime');

const dev = process.argv.includes('--dev');
const n8nPort = Number(process.env.N8N_PORT ?? 5678);
const simPort = Number(process.env.AI_SIM_PORT ?? 8787);
const out = (msg = '') => process.stdout.write(`${msg}\n`);

function reachable(host, port) {
	return new Promise((resolve) => {
		const socket = createConnection({ host, port, timeout: 1000 });
		socket.once('connect', () => (socket.destroy(), resolve(true)));
		socket.once('error', () => resolve(false));
		socket.once('timeout', () => (socket.destroy(), resolve(false)));
	});
}

/** The AI credential: the simulator, or the provider the environment names (the key is never printed). */
function aiService(sim) {
	const { AI_PROVIDER, AI_BASE_URL, AI_API_KEY, AI_MODEL } = process.env;
	if (!AI_API_KEY) {
		return {
			label: `simulator ${sim.baseUrl}`,
			name: 'AI Service (simulator)',
			data: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: 'sim-key' },
		};
	}
	const provider = AI_PROVIDER === 'anthropic' ? 'anthropic' : 'openai';
	const baseUrl =
		AI_BASE_URL ??
		(provider === 'anthropic' ? 'https://api.anthropic.com/v1' : 'https://api.openai.com/v1');
	return {
		label: `${provider} ${baseUrl}, model ${AI_MODEL ?? '(set AI_MODEL)'}`,
		name: 'AI Service',
		model: AI_MODEL,
		data: { provider, baseUrl, apiKey: AI_API_KEY },
	};
}

async function send(base, method, path, body, headers = {}) {
	const res = await fetch(`${base}/webhook/${path}`, {
		method,
		headers: { 'content-type': 'application/json', ...headers },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	const shown = [...res.headers]
		.filter(([k]) => ['x-fallback', 'retry-after', 'idempotent-replayed'].includes(k))
		.map(([k, v]) => `${k}: ${v} `)
		.join('');
	out(`  ${method} /webhook/${path} → ${res.status} ${shown}${text.slice(0, 300)}`);
	return text;
}

const CONTRACT = {
	documentId: 'doc-1',
	title: 'Supply agreement',
	text: '# Summary\nThis contract covers the supply of parts between the parties for two years.\n# Parties\nAcme GmbH and Widget Ltd.\n# Terms\nRenewal each year unless cancelled in writing.',
};

/** One request through each pattern, so the demo shows what the samples do. */
async function tour(base, sim, rabbitActive) {
	out('\nOne request through each pattern:');
	out('\n[sync-request-response]');
	await send(base, 'POST', 'ai/sync', { question: 'How do I reset my password?' });
	out('\n[support-agent] the AI Agent with the AI Call Chat Model and its order tool');
	await send(base, 'POST', 'ai/support', { customer: 'acme', question: 'Where is my order 12345?' });
	await send(base, 'GET', 'ai/support/cost');
	out('\n[webhook-pipeline] the same delivery twice, then without its sections');
	const key = `demo-${Date.now()}`;
	await send(base, 'POST', 'ai/documents', CONTRACT, { 'idempotency-key': key });
	await send(base, 'POST', 'ai/documents', CONTRACT, { 'idempotency-key': key });
	await send(
		base,
		'POST',
		'ai/documents',
		{ documentId: 'doc-2', title: 'Memo', text: '# Summary\nOnly a summary.' },
		{ 'idempotency-key': `${key}-2` },
	);
	out('\n[async-queue] a job, its callback, its status');
	const job = JSON.parse(
		await send(base, 'POST', 'ai/jobs', {
			text: 'The customer cannot log in since the update.',
			callbackUrl: `${sim.url}/_sim/inbox/callbacks`,
		}),
	);
	// the job runs after its 202: wait up to 15 s for the callback
	for (let i = 0; i < 60 && !sim.inbox('callbacks').length; i++)
		await new Promise((r) => setTimeout(r, 250));
	out(`  callback received: ${JSON.stringify(sim.inbox('callbacks')[0]?.body ?? 'none yet')}`);
	await send(base, 'GET', `ai/jobs/${job.jobId}`);
	out('\n[freshness-monitor] the stand-in index was updated 2 hours ago');
	sim.setIndexUpdatedAt(new Date(Date.now() - 2 * 3_600_000));
	await send(base, 'GET', 'ai/freshness');
	out('\n[fallback-drill]');
	await send(base, 'GET', 'ai/drill');
	if (rabbitActive) {
		out('\n[async-queue-rabbitmq] three jobs to the queue');
		await send(base, 'POST', 'ai/rabbitmq/jobs', {
			jobs: [{ text: 'First job' }, { text: 'Second job' }, { text: 'Third job' }],
		});
	}
}

let cleanup = async () => undefined;

async function main() {
	const { startSimulator } = require(join(REPO_ROOT, 'dist/simulator'));
	const userFolder = dev
		? join(REPO_ROOT, '.n8n-dev')
		: mkdtempSync(join(tmpdir(), 'n8n-ai-patterns-demo-'));
	mkdirSync(userFolder, { recursive: true });
	await installPackage(userFolder, { mode: dev ? 'link' : 'pack' });
	const sim = await startSimulator({ port: simPort, apiKeys: ['sim-key'] });
	cleanup = () => sim.close();
	const n8n = await startN8n({ userFolder, port: n8nPort });

	let stopping = false;
	cleanup = async () => {
		if (stopping) return;
		stopping = true;
		await n8n.stop();
		await sim.close();
		if (!dev) rmSync(userFolder, { recursive: true, force: true });
	};
	const stop = () => cleanup().then(() => process.exit(0));
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);

	const api = new N8nApi(n8n.url);
	const owner = await api.setupOwner();
	const ai = aiService(sim);
	const aiCredential = await api.ensureCredential(ai.name, 'aiServiceApi', ai.data);
	const credentials = { aiServiceApi: { id: aiCredential.id, name: ai.name } };
	// RabbitMQ is not an embedded default: its sample is activated only when one answers.
	const rabbitUrl = new URL(process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
	const rabbit = await reachable(rabbitUrl.hostname, Number(rabbitUrl.port || 5672));
	if (rabbit) {
		const { id } = await api.ensureCredential('RabbitMQ', 'rabbitmq', {
			hostname: rabbitUrl.hostname,
			port: Number(rabbitUrl.port || 5672),
			username: decodeURIComponent(rabbitUrl.username || 'guest'),
			password: decodeURIComponent(rabbitUrl.password || 'guest'),
			vhost: decodeURIComponent(rabbitUrl.pathname.slice(1)) || '/',
		});
		credentials.rabbitmq = { id, name: 'RabbitMQ' };
	}
	// The observability sample's metrics webhook wants a Header Auth credential: a token made
	// for this demo (printed below for curl and Prometheus; choose your own when you adopt it).
	const scrapeToken = randomBytes(18).toString('base64url');
	const scrape = await api.ensureCredential('Metrics scrape', 'httpHeaderAuth', {
		name: 'Authorization',
		value: `Bearer ${scrapeToken}`,
	});
	credentials.httpHeaderAuth = { id: scrape.id, name: 'Metrics scrape' };
	const imported = await importSamples(api, {
		credentials,
		simUrl: sim.url,
		model: ai.model,
		activate: (file) => rabbit || file !== 'async-queue-rabbitmq.json',
	});
	out('\nSample workflows:');
	for (const w of imported)
		out(
			`  ${w.file.padEnd(30)} ${w.error ? `NOT IMPORTED: ${w.error}` : w.active ? 'active' : `imported, inactive (no RabbitMQ at ${rabbitUrl.host})`}`,
		);

	if (!dev) await tour(n8n.url, sim, rabbit);

	const hook = `${n8n.url}/webhook`;
	const json = "-H 'content-type: application/json'";
	out(`
n8n ${dev ? '(dev, package linked from the checkout)' : '(demo, package installed from its npm tarball)'} is running:
  editor:     ${n8n.url}   login ${owner.email} / ${owner.password}
  AI service: ${ai.label}
  simulator:  ${sim.url}   counters ${sim.url}/_sim/counters, inbox ${sim.url}/_sim/inbox
  n8n log:    ${n8n.logFile}

Try:
  curl -i ${json} -d '{"question":"How do I reset my password?"}' ${hook}/ai/sync
  curl -X PUT -d '{"fault":"status=500"}' ${sim.url}/_sim/fault     # the AI fails from now on; repeat the line above (X-Fallback: cached)
  curl -X PUT -d '{"fault":null}' ${sim.url}/_sim/fault             # and recovers
  curl -i ${json} -d '{"customer":"acme","question":"Where is my order 12345?"}' ${hook}/ai/support
  curl -i ${json} -H 'Idempotency-Key: k-1' -d '${JSON.stringify(CONTRACT).replace(/'/g, '')}' ${hook}/ai/documents
  curl -i ${json} -d '{"text":"Summarize this","callbackUrl":"${sim.url}/_sim/inbox/callbacks"}' ${hook}/ai/jobs
  curl -i ${hook}/ai/jobs/<jobId>
  curl -i ${hook}/ai/freshness
  curl -H 'Authorization: Bearer ${scrapeToken}' ${hook}/ai/metrics   # Prometheus metrics
  open ${hook}/ai/dashboard in a browser                             # the usage dashboard
  curl -i ${hook}/ai/drill${rabbit ? `\n  curl -i ${json} -d '{"jobs":[{"text":"one"},{"text":"two"}]}' ${hook}/ai/rabbitmq/jobs` : ''}
Stop with Ctrl+C.`);
}

main().catch(async (error) => {
	process.stderr.write(`${error.stack ?? error.message}\n`);
	await cleanup().catch(() => undefined);
	process.exit(1);
});
