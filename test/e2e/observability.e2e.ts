/* eslint-disable @typescript-eslint/no-explicit-any -- Prometheus's JSON answers, read field by field */
/**
 * The observability sample (#16) in real n8n with the package from its npm tarball: the sync
 * sample calls the simulator (with a 429 retried, a 500 storm that opens the breaker), the metrics
 * webhook is scraped by Debian's Prometheus and queried through its HTTP API, the dashboard opens
 * in Chromium, and the state-change watch alerts once per change.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
	importSamples,
	installPackage,
	N8nApi,
	startN8n,
	type RunningN8n,
} from '../../scripts/n8n-runtime';
import { launchEditorBrowser } from '../../scripts/editor-browser';
import { startSimulator, type Simulator } from '../../simulator';
import { eventually, printLogsOnFailure } from './helpers';

const TOKEN = 'e2e-scrape-token-7f3a';
const PROMETHEUS = '/usr/bin/prometheus';
// the screenshot for the README, written there with UPDATE_SCREENSHOTS=1
const SCREENSHOT = join(__dirname, '../../docs/dashboard.png');

let n8n: RunningN8n;
let sim: Simulator;
let userFolder: string;
let prometheus: ChildProcess | undefined;
let promUrl: string;

type Node = { name: string; disabled?: boolean; parameters: Record<string, any> };

beforeAll(async () => {
	userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-observability-'));
	await installPackage(userFolder, { mode: 'pack' });
	sim = await startSimulator({ apiKeys: ['sk-e2e-obs'] });
	n8n = await startN8n({ userFolder });
	const api = new N8nApi(n8n.url);
	await api.setupOwner();
	const ai = await api.createCredential('AI Service', 'aiServiceApi', {
		provider: 'openai',
		baseUrl: sim.baseUrl,
		apiKey: 'sk-e2e-obs',
	});
	const scrape = await api.createCredential('Metrics scrape', 'httpHeaderAuth', {
		name: 'Authorization',
		value: `Bearer ${TOKEN}`,
	});
	const samples = await importSamples(api, {
		credentials: {
			aiServiceApi: { id: ai.id, name: 'AI Service' },
			httpHeaderAuth: { id: scrape.id, name: 'Metrics scrape' },
		},
		simUrl: sim.url,
		only: ['sync-request-response', 'freshness-monitor', 'observability'],
		patch: (workflow: { nodes: Node[] }, file: string) => {
			for (const node of workflow.nodes) {
				// watch every 2 s instead of every minute; the freshness schedule stays out of the way
				if (node.name === 'Every minute')
					node.parameters.rule = { interval: [{ field: 'seconds', secondsInterval: 2 }] };
				if (node.name === 'Every 15 minutes') node.disabled = true;
				// a breaker on the sync sample's AI Call, so a 500 storm opens it (and a probe closes it)
				if (file === 'sync-request-response.json' && node.name === 'Answer (AI Call)') {
					node.parameters.circuitBreaker = true;
					Object.assign(node.parameters.options, {
						breakerConsecutiveFailures: 3,
						breakerCooldownSeconds: 2,
					});
				}
			}
		},
	});
	for (const s of samples) if (s.error) throw new Error(`${s.file}: ${s.error}`);
}, 900_000);

afterAll(async () => {
	prometheus?.kill('SIGKILL');
	await n8n?.stop();
	await sim?.close();
	if (userFolder) rmSync(userFolder, { recursive: true, force: true });
});

printLogsOnFailure(() => n8n);

async function call(method: string, path: string, body?: unknown, headers = {}) {
	const res = await fetch(`${n8n.url}/webhook/${path}`, {
		method,
		headers: { 'content-type': 'application/json', ...headers },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	return { status: res.status, headers: res.headers, text: await res.text() };
}
const ask = (question: string) => call('POST', 'ai/sync', { question });
const metrics = () => call('GET', 'ai/metrics', undefined, { authorization: `Bearer ${TOKEN}` });

/** The value of one sample line (name and labels exactly), or undefined. */
function sample(
	text: string,
	name: string,
	labels: Record<string, string> = {},
): number | undefined {
	for (const line of text.split('\n')) {
		if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
		const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
		if (!m) continue;
		const got = Object.fromEntries(
			[...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
		);
		if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
	}
	return undefined;
}

const freePort = () =>
	new Promise<number>((resolve, reject) => {
		const srv = createServer();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address() as { port: number };
			srv.close(() => resolve(port));
		});
	});

async function query(
	promql: string,
): Promise<Array<{ metric: Record<string, string>; value: number }>> {
	const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
	const body: any = await res.json();
	if (body.status !== 'success') throw new Error(`${promql}: ${JSON.stringify(body)}`);
	return body.data.result.map((r: any) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

describe('observability sample: metrics, dashboard and alerts from a real run', () => {
	it('the sync sample runs: answers, a 429 retried, a 500 storm that opens the breaker', async () => {
		for (const q of ['How do I reset my password?', 'Where is my order?', 'Can I pay by invoice?'])
			expect((await ask(q)).status).toBe(200);
		sim.setFault('fail-first=1;status=429;retry-after=0');
		expect(JSON.parse((await ask('Do you ship abroad?')).text).answer).toEqual(expect.any(String));
		sim.setFault('status=500');
		for (let i = 0; i < 4; i++) await ask(`Storm question ${i}?`);
		sim.setFault(undefined);
	});

	it('GET /webhook/ai/metrics wants the Header Auth credential', async () => {
		const anonymous = await call('GET', 'ai/metrics');
		const wrong = await call('GET', 'ai/metrics', undefined, { authorization: 'Bearer nope' });
		expect([anonymous.status, wrong.status]).toEqual([403, 403]);
		expect(anonymous.text).not.toContain('ai_patterns_');
	});

	it('serves the run in the Prometheus text format, clean by promtool check metrics', async () => {
		const res = await metrics();
		expect(res.status).toBe(200);
		expect(res.headers.get('content-type')).toMatch(/^text\/plain;.*\bversion=0\.0\.4/);
		const text = res.text;
		const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
		process.stderr.write(
			`promtool check metrics (${text.split('\n').length} lines): exit ${check.status}${check.stdout}${check.stderr}\n`,
		);
		expect({ status: check.status, out: `${check.stdout}${check.stderr}`.trim() }).toEqual({
			status: 0,
			out: '',
		});
		const calls = { provider: 'openai', model: 'sim-standard', tag: 'question-answered' };
		expect(sample(text, 'ai_patterns_calls_total', { ...calls, outcome: 'success' })).toBe(4);
		expect(sample(text, 'ai_patterns_retries_total', { class: 'rate_limited' })).toBe(1);
		expect(
			sample(text, 'ai_patterns_call_failures_total', { class: 'server_error' }),
		).toBeGreaterThan(0);
		expect(
			sample(text, 'ai_patterns_call_failures_total', { class: 'circuit_open' }),
		).toBeGreaterThan(0);
		expect(
			sample(text, 'ai_patterns_budget_spent_usd', { budget: 'sync-answers-daily' }),
		).toBeGreaterThan(0);
		expect(sample(text, 'ai_patterns_breaker_state', { state: 'open' })).toBe(1);
		// no execution ids as labels: every label value comes from a bounded set
		expect(text).not.toMatch(/execution/);
	});

	it('a real Prometheus scrapes it with the bearer token and answers PromQL', async () => {
		if (!existsSync(PROMETHEUS))
			throw new Error(`no ${PROMETHEUS}: apt-get install -y prometheus`);
		const dir = mkdtempSync(join(tmpdir(), 'prometheus-e2e-'));
		const port = await freePort();
		promUrl = `http://127.0.0.1:${port}`;
		const target = new URL(n8n.url).host;
		writeFileSync(
			join(dir, 'prometheus.yml'),
			[
				'global: { scrape_interval: 1s, scrape_timeout: 1s }',
				'scrape_configs:',
				'  - job_name: n8n-ai',
				'    metrics_path: /webhook/ai/metrics',
				`    authorization: { credentials: ${TOKEN} }`,
				`    static_configs: [{ targets: ['${target}'] }]`,
				'',
			].join('\n'),
		);
		prometheus = spawn(
			PROMETHEUS,
			[
				`--config.file=${join(dir, 'prometheus.yml')}`,
				`--storage.tsdb.path=${join(dir, 'data')}`,
				`--web.listen-address=127.0.0.1:${port}`,
			],
			{ stdio: ['ignore', 'ignore', 'pipe'] },
		);
		let log = '';
		prometheus.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
		try {
			const up = await eventually(
				'Prometheus to scrape n8n',
				async () => {
					const r = await query('up{job="n8n-ai"}').catch(() => []);
					return r[0]?.value === 1 ? r : undefined;
				},
				60_000,
			);
			const results: Record<string, unknown> = { 'up{job="n8n-ai"}': up[0].value };
			for (const promql of [
				'sum by (outcome) (ai_patterns_calls_total)',
				'sum by (class) (ai_patterns_retries_total)',
				'sum(ai_patterns_cost_usd_total)',
				'ai_patterns_breaker_state == 1',
				'histogram_quantile(0.95, sum by (le) (ai_patterns_call_duration_seconds_bucket))',
			])
				results[promql] = (await query(promql)).map((r) => ({
					...Object.fromEntries(
						Object.entries(r.metric).filter(([k]) => k !== 'job' && k !== 'instance'),
					),
					value: r.value,
				}));
			process.stderr.write(
				`Prometheus ${PROMETHEUS} queried at ${promUrl}:\n${JSON.stringify(results, null, 1)}\n`,
			);
			const byOutcome = Object.fromEntries(
				(await query('sum by (outcome) (ai_patterns_calls_total)')).map((r) => [
					r.metric.outcome,
					r.value,
				]),
			);
			expect(byOutcome.success).toBe(4);
			expect(byOutcome.failed).toBeGreaterThan(0);
			expect(
				(await query('sum by (class) (ai_patterns_retries_total)')).find(
					(r) => r.metric.class === 'rate_limited',
				)?.value,
			).toBe(1);
			expect((await query('sum(ai_patterns_cost_usd_total)'))[0].value).toBeGreaterThan(0);
			const p95 = (
				await query(
					'histogram_quantile(0.95, sum by (le) (ai_patterns_call_duration_seconds_bucket))',
				)
			)[0].value;
			expect(p95).toBeGreaterThan(0);
		} catch (error) {
			process.stderr.write(`prometheus log:\n${log}\n`);
			throw error;
		} finally {
			prometheus.kill('SIGKILL');
			prometheus = undefined;
			rmSync(dir, { recursive: true, force: true });
		}
	}, 120_000);

	it('alerts once per change of state: breaker open and closed, a source stale and fresh again', async () => {
		const alerts = () => sim.inbox('state-alerts').map((e) => e.body as any);
		// the breaker the storm opened: one critical alert, not one per watch
		await eventually('the breaker alert', () =>
			alerts().some((a) => a.kind === 'breaker' && a.state === 'open') ? true : undefined,
		);
		// the freshness monitor publishes its check: stale, then fresh again
		sim.setIndexUpdatedAt(new Date(Date.now() - 8 * 3_600_000));
		expect((await call('GET', 'ai/freshness')).status).toBe(200);
		await eventually('the stale alert', () =>
			alerts().some((a) => a.kind === 'freshness' && a.state === 'stale') ? true : undefined,
		);
		// after the cooldown a probe answers: the breaker closes
		await new Promise((r) => setTimeout(r, 2_500));
		expect((await ask('Are you back?')).status).toBe(200);
		sim.setIndexUpdatedAt(new Date());
		expect((await call('GET', 'ai/freshness')).status).toBe(200);
		await eventually('both recoveries', () =>
			alerts().filter((a) => a.severity === 'resolved').length >= 2 ? true : undefined,
		);
		// several more watches, nothing changed: nothing more
		await new Promise((r) => setTimeout(r, 6_000));
		const got = alerts();
		process.stderr.write(
			`state alerts:\n  ${got.map((a) => `${a.severity}: ${a.message}`).join('\n  ')}\n`,
		);
		// (a change the watch did not see the state before has no previous state)
		expect(got.map((a) => `${a.kind} → ${a.state} (${a.severity})`).sort()).toEqual([
			'breaker → closed (resolved)',
			'breaker → open (critical)',
			'freshness → fresh (resolved)',
			'freshness → stale (critical)',
		]);
	}, 120_000);

	it('GET /webhook/ai/dashboard renders the run in Chromium, offline and without console errors', async () => {
		const res = await call('GET', 'ai/dashboard');
		expect(res.status).toBe(200);
		expect(res.headers.get('content-type')).toMatch(/^text\/html/);
		const browser = await launchEditorBrowser({ viewport: { width: 1280, height: 900 } });
		try {
			const { page } = browser;
			const url = `${n8n.url}/webhook/ai/dashboard`;
			const problems: string[] = [];
			const others: string[] = [];
			page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
			page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
			// offline: anything but the page itself (and the browser's own favicon try) is refused
			await page.route('**/*', (route) => {
				const req = route.request().url();
				if (req === url) return route.continue();
				if (!req.endsWith('/favicon.ico')) others.push(req);
				return route.abort();
			});
			await page.goto(url);
			expect({ problems, others }).toEqual({ problems: [], others: [] });
			for (const id of [
				'summary',
				'tiles',
				'cost-by-day',
				'calls-by-outcome',
				'latency',
				'cost-per-outcome',
				'budgets',
				'breakers',
				'freshness',
			])
				expect(await page.locator(`#${id}`).count()).toBe(1);
			// the run's data is drawn: bars in the cost chart, the budget, the breaker (closed again) and the source listed
			expect(await page.locator('#cost-by-day svg rect').count()).toBeGreaterThan(0);
			await expect(page.locator('#budgets').innerText()).resolves.toContain('sync-answers-daily');
			await expect(page.locator('#breakers').innerText()).resolves.toMatch(/closed/);
			await expect(page.locator('#freshness').innerText()).resolves.toContain('search-index');
			const png = join(userFolder, 'dashboard.png');
			await page.screenshot({ path: png, fullPage: true });
			if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(png, SCREENSHOT);
		} finally {
			await browser.close();
		}
	}, 120_000);
});
