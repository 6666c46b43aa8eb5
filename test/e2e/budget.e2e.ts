import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

import {
	freePort,
	installPackage,
	N8nApi,
	startN8n,
	webhooksServed,
	type RunningN8n,
} from '../../scripts/n8n-runtime';
import { startSimulator, type Simulator } from '../../simulator';
import { describeWithService, POSTGRES, REDIS, reachable } from '../stores/backends';
import { printLogsOnFailure, resetSimulatorBeforeEach } from './helpers';

// Budgets held across executions and queue-mode workers, and the usage ledger that the AI Usage
// node reads: real n8n 2.41.1 in queue mode (main + 2 workers, Postgres, Bull on Redis), the
// package from its npm tarball, every Store on Auto (so n8n's queue Redis, database STORE_DB).
// Calendar boundaries (hour/day/week/month in a time zone, DST days) are covered by
// test/lib/budget.test.ts with a fake clock; here only a short rolling window passes for real.
const services = reachable(REDIS.host, REDIS.port) && reachable(POSTGRES.host, POSTGRES.port);
const run = `${process.pid}_${Date.now().toString(36)}`;
const database = `n8n_budget_${run}`;
/** n8n's queue Redis database, so also the Auto store: its ai-patterns:* keys are this suite's. */
const STORE_DB = 5;
const API_KEY = 'sk-e2e-budget-0042';
const DAILY = `e2e-daily-${run}`;
const ROLLING = `e2e-rolling-${run}`;
/** 0.01 h = 36 s. */
const ROLLING_HOURS = 0.01;
const EXECUTIONS = 40;
const ITEMS_PER_EXECUTION = 10;
const CALLS = EXECUTIONS * ITEMS_PER_EXECUTION;
/**
 * The simulator answers in about 30 tokens: with the default cap of 1,024 each call would hold
 * ~27 times what it costs, and the holds, not the spend, would refuse. A cap near the answer makes
 * the worst case close to the real cost, so the spend itself runs into the limit.
 */
const MAX_TOKENS = 48;
/** sim-standard, USD per token (lib/ai/pricing.ts: 1 in / 4 out per million). */
const PRICE = { input: 1e-6, output: 4e-6 };

type Json = Record<string, unknown>;
interface ItemResult {
	id: string;
	ok: boolean;
	cost: number;
	class: string | null;
	retryAfterMs: number | null;
	message: string | null;
}
interface BudgetView {
	name: string;
	status: string;
	spentUsd: number;
	reservedUsd: number;
	limitUsd: number | null;
	remainingUsd: number | null;
	percent: number;
	resetAt: string | null;
}

let main: RunningN8n;
let workers: RunningN8n[] = [];
let api: N8nApi;
let sim: Simulator;
let userFolder: string;
let aiCredentialId: string;
const imported: Array<{ nodes: Json[] }> = [];
/** Measured on the probe: the most one call really costs. */
let callUsd: number;
/** The daily budget's limit, sized so that about half of CALLS fit. */
let limitUsd: number;
let rollingLimitUsd: number;
/** Test 1's final spend, for test 2. */
let dailySpent: number | undefined;

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
	const client = new Client({ ...POSTGRES, database: 'postgres' });
	await client.connect();
	try {
		return await fn(client);
	} finally {
		await client.end();
	}
}

async function deleteStoreKeys(): Promise<void> {
	const redis = new Redis({ ...REDIS, db: STORE_DB });
	try {
		for (const pattern of ['ai-patterns:*', `bull_budget_${run}*`, `n8n_budget_${run}*`]) {
			const keys = await redis.keys(pattern);
			if (keys.length) await redis.del(...keys);
		}
	} finally {
		redis.disconnect();
	}
}

const text = (id: string) =>
	`Budget drill ${id}: summarise the invoice for spare parts delivered in October, amount due in 30 days.`;
/** What the AI Call reserves for a prompt (sharedLimit.ts estimateTokens at the model's price). */
const worstCaseUsd = (prompt: string) =>
	Math.ceil(prompt.length / 4) * PRICE.input + MAX_TOKENS * PRICE.output;
/** The most and the least any call here holds (the ids run from 5 to 14 characters). */
const WORST = worstCaseUsd(text('x'.repeat(14)));
const LEAST = worstCaseUsd(text('x'.repeat(5)));

/** POSTs items to a drill workflow; returns one result per item, as the workflow collected them. */
async function drill(path: string, ids: string[]): Promise<ItemResult[]> {
	const res = await fetch(`${main.url}/webhook/${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ items: ids.map((id) => ({ id, text: text(id) })) }),
	});
	const body = await res.text();
	if (res.status !== 200)
		throw new Error(`POST ${path}: ${res.status} ${body}\n${await lastExecutionError()}`);
	const parsed = JSON.parse(body) as ItemResult[] | ItemResult;
	return Array.isArray(parsed) ? parsed : [parsed];
}

/** The newest failed execution's error, from n8n's public API: what "Workflow execution failed" hides. */
async function lastExecutionError(): Promise<string> {
	try {
		const { data } = await api.public<{ data: Array<{ id: string; data?: Json }> }>(
			'GET',
			'/executions?status=error&includeData=true&limit=1',
		);
		const result = (data[0]?.data as { resultData?: { error?: Json; lastNodeExecuted?: string } })
			?.resultData;
		const error = result?.error ?? {};
		return `last failed execution ${data[0]?.id}: node ${result?.lastNodeExecuted}: ${String(error.message)} ${String(error.description ?? '')}`;
	} catch (error) {
		return `(no execution error: ${(error as Error).message})`;
	}
}

async function getJson<T>(path: string): Promise<T> {
	const res = await fetch(`${main.url}/webhook/${path}`);
	const body = await res.text();
	if (res.status !== 200)
		throw new Error(`GET ${path}: ${res.status} ${body}\n${await lastExecutionError()}`);
	return JSON.parse(body) as T;
}

const check = (which: 'daily' | 'rolling') =>
	getJson<BudgetView>(which === 'daily' ? 'budget-test/check' : 'budget-test/check-rolling');

const chatRequests = () => sim.counters().byEndpoint['POST /v1/chat/completions'] ?? 0;

// --- the workflows -------------------------------------------------------------------------

const T = {
	webhook: ['n8n-nodes-base.webhook', 2.1],
	respond: ['n8n-nodes-base.respondToWebhook', 1.5],
	code: ['n8n-nodes-base.code', 2],
	merge: ['n8n-nodes-base.merge', 3.2],
	aiCall: ['n8n-nodes-ai-patterns.aiCall', 1.1],
	aiUsage: ['n8n-nodes-ai-patterns.aiUsage', 1],
} as const;

function node(name: string, [type, typeVersion]: readonly [string, number], parameters: Json) {
	return {
		id: randomUUID(),
		name,
		type,
		typeVersion,
		position: [0, 0],
		parameters,
		...(type === T.webhook[0] ? { webhookId: randomUUID() } : {}),
	};
}
const to = (target: string, index = 0) => ({ node: target, type: 'main', index });

/** One budget, in the fields both the AI Call and Check Budget take. */
function budgetFields(period: 'day' | 'rolling', name: string, limit: number): Json {
	return {
		budgetName: name,
		budgetScope: 'all',
		budgetPeriod: period,
		...(period === 'rolling' ? { budgetRollingHours: ROLLING_HOURS } : { budgetTimeZone: 'UTC' }),
		budgetLimitUsd: limit,
		budgetWarnPercent: 80,
	};
}

/**
 * Webhook POST {items: [{id, text}]} → one item each → AI Call (both outputs) → one result per
 * item {id, ok, cost, class, retryAfterMs} → Respond with them all.
 */
function drillWorkflow(name: string, path: string, costTag: string, budget?: Json) {
	const aiCall = node('AI Call', T.aiCall, {
		model: { __rl: true, mode: 'id', value: 'sim-standard' },
		userPrompt: '={{ $json.text }}',
		...(budget ? { budgets: { budget: [budget] } } : {}),
		options: { costTag, maxRetries: 0, maxConcurrency: 5, maxTokens: MAX_TOKENS },
	});
	(aiCall as Json).credentials = { aiServiceApi: { id: aiCredentialId, name: 'AI Service' } };
	return {
		name,
		nodes: [
			node('POST', T.webhook, {
				httpMethod: 'POST',
				path,
				responseMode: 'responseNode',
				options: {},
			}),
			node('Split items', T.code, {
				jsCode: 'return $input.first().json.body.items.map((json) => ({ json }));',
			}),
			aiCall,
			// both outputs into one list (append; it runs when only one of them has items)
			node('Both outputs', T.merge, {}),
			node('Collect', T.code, {
				jsCode: [
					'return $input.all().map(({ json }) => {',
					'  const ok = !json.error && json.ai !== undefined;',
					'  const e = json.error ?? {};',
					'  return { json: {',
					'    id: json.id, ok,',
					'    cost: ok ? json.ai.cost.totalUsd : e.cost?.totalUsd ?? null,',
					'    class: ok ? null : e.class ?? null,',
					'    retryAfterMs: ok ? null : e.retryAfterMs ?? null,',
					'    message: ok ? null : e.message ?? null,',
					'  } };',
					'});',
				].join('\n'),
			}),
			node('Respond', T.respond, { respondWith: 'allIncomingItems', options: {} }),
		],
		connections: {
			POST: { main: [[to('Split items')]] },
			'Split items': { main: [[to('AI Call')]] },
			'AI Call': { main: [[to('Both outputs', 0)], [to('Both outputs', 1)]] },
			'Both outputs': { main: [[to('Collect')]] },
			Collect: { main: [[to('Respond')]] },
		},
	};
}

/** GET report → AI Usage Report; GET check(-rolling) → Check Budget → its budget, whichever output. */
function usageWorkflow() {
	const checkNode = (name: string, budget: Json) =>
		node(name, T.aiUsage, { operation: 'checkBudget', ...budget });
	const respondBudget = (name: string) =>
		node(name, T.respond, {
			respondWith: 'json',
			responseBody: '={{ $json.budget }}',
			options: {},
		});
	const anyOutput = (target: string) => ({ main: [0, 1, 2, 3].map(() => [to(target)]) });
	return {
		name: 'budget usage',
		nodes: [
			node('GET report', T.webhook, {
				path: 'budget-test/report',
				responseMode: 'responseNode',
				options: {},
			}),
			node('Report', T.aiUsage, {
				operation: 'report',
				window: 'lastHour',
				groupBy: 'tag',
				filterTag: 'doc',
			}),
			node('Respond report', T.respond, { respondWith: 'allIncomingItems', options: {} }),
			node('GET check', T.webhook, {
				path: 'budget-test/check',
				responseMode: 'responseNode',
				options: {},
			}),
			checkNode('Check daily', budgetFields('day', DAILY, limitUsd)),
			respondBudget('Respond daily'),
			node('GET check rolling', T.webhook, {
				path: 'budget-test/check-rolling',
				responseMode: 'responseNode',
				options: {},
			}),
			checkNode('Check rolling', budgetFields('rolling', ROLLING, rollingLimitUsd)),
			respondBudget('Respond rolling'),
		],
		connections: {
			'GET report': { main: [[to('Report')]] },
			Report: { main: [[to('Respond report')]] },
			'GET check': { main: [[to('Check daily')]] },
			'Check daily': anyOutput('Respond daily'),
			'GET check rolling': { main: [[to('Check rolling')]] },
			'Check rolling': anyOutput('Respond rolling'),
		},
	};
}

async function importWorkflow(workflow: { name: string; nodes: Json[]; connections: Json }) {
	await api.importWorkflow(workflow);
	imported.push(workflow);
}

const nextUtcMidnight = (at: number) => {
	const d = new Date(at);
	return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
};
const usd = (n: number) => `$${n.toFixed(6)}`;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describeWithService(
	'Redis and Postgres',
	services,
	'budgets and the usage ledger in n8n queue mode (main + 2 workers)',
	() => {
		beforeAll(async () => {
			await deleteStoreKeys();
			await admin((c) => c.query(`CREATE DATABASE ${database}`));
			userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-budget-'));
			await installPackage(userFolder, { mode: 'pack' });
			sim = await startSimulator({ apiKeys: [API_KEY] });
			const env = {
				EXECUTIONS_MODE: 'queue',
				QUEUE_BULL_REDIS_HOST: REDIS.host,
				QUEUE_BULL_REDIS_PORT: String(REDIS.port),
				QUEUE_BULL_REDIS_DB: String(STORE_DB),
				QUEUE_BULL_PREFIX: `bull_budget_${run}`,
				N8N_REDIS_KEY_PREFIX: `n8n_budget_${run}`,
				DB_TYPE: 'postgresdb',
				DB_POSTGRESDB_HOST: POSTGRES.host,
				DB_POSTGRESDB_PORT: String(POSTGRES.port),
				DB_POSTGRESDB_DATABASE: database,
				DB_POSTGRESDB_USER: POSTGRES.user,
				// 40 executions at once: n8n's pool of 2 would fail deliveries (see the README)
				DB_POSTGRESDB_POOL_SIZE: '10',
				N8N_ENCRYPTION_KEY: `e2e-budget-${run}`,
			};
			main = await startN8n({ userFolder, env });
			workers = await Promise.all(
				[0, 1].map(async () =>
					startN8n({ userFolder, env, command: 'worker', port: await freePort(), concurrency: 10 }),
				),
			);
			api = new N8nApi(main.url);
			await api.setupOwner();
			aiCredentialId = (
				await api.createCredential('AI Service', 'aiServiceApi', {
					provider: 'openai',
					baseUrl: sim.baseUrl,
					apiKey: API_KEY,
				})
			).id;

			// One call's real cost, on a workflow of its own (tag "probe": not in the report below).
			await importWorkflow(drillWorkflow('budget probe', 'budget-test/probe', 'probe'));
			const probe = await drill(
				'budget-test/probe',
				Array.from({ length: 5 }, (_, i) => `probe-${i}`),
			);
			expect(probe.map((p) => p.ok)).toEqual(Array(5).fill(true));
			callUsd = Math.max(...probe.map((p) => p.cost));
			expect(callUsd).toBeGreaterThan(0);
			expect(callUsd).toBeLessThanOrEqual(WORST);
			// about half of the calls fit the day; the rolling window a handful
			limitUsd = Math.round((CALLS / 2) * callUsd * 1e6) / 1e6;
			rollingLimitUsd = Math.ceil(3 * WORST * 1e6) / 1e6;

			await importWorkflow(
				drillWorkflow(
					'budget drill',
					'budget-test/run',
					'doc',
					budgetFields('day', DAILY, limitUsd),
				),
			);
			await importWorkflow(
				drillWorkflow(
					'budget drill (rolling)',
					'budget-test/run-rolling',
					'doc',
					budgetFields('rolling', ROLLING, rollingLimitUsd),
				),
			);
			await importWorkflow(usageWorkflow());
		}, 900_000);

		afterAll(async () => {
			for (const w of workers) await w.stop();
			await main?.stop();
			await sim?.close();
			if (userFolder) rmSync(userFolder, { recursive: true, force: true });
			await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(
				() => undefined,
			);
			await deleteStoreKeys();
		});

		resetSimulatorBeforeEach(() => sim);
		printLogsOnFailure(
			() => main,
			() => workers[0],
			() => workers[1],
		);

		it(`${CALLS} calls from ${EXECUTIONS} parallel executions against a daily budget: it holds, and the report and Check Budget agree with the items`, async () => {
			// the day's record must not change under this test and the next
			const toMidnight = nextUtcMidnight(Date.now()) - Date.now();
			if (toMidnight < 300_000) await new Promise((r) => setTimeout(r, toMidnight + 1000));
			const started = Date.now();
			const ids = Array.from({ length: EXECUTIONS }, (_, e) =>
				Array.from({ length: ITEMS_PER_EXECUTION }, (_, i) => `d-${e}-${i}`),
			);
			const replies = await Promise.all(ids.map((batch) => drill('budget-test/run', batch)));
			const ended = Date.now();
			const items = replies.flat();
			await sim.idle(5000);

			const ok = items.filter((i) => i.ok);
			const refused = items.filter((i) => i.class === 'budget_exceeded');
			const spent = sum(items.map((i) => Number(i.cost ?? NaN)));
			const overshoot = spent - limitUsd;
			const figures: Record<string, unknown> = {
				calls: items.length,
				succeeded: ok.length,
				refused: refused.length,
				'other failures': items.length - ok.length - refused.length,
				'simulator requests': chatRequests(),
				'spent USD (sum of items)': usd(spent),
				'limit USD': usd(limitUsd),
				'one call: real / worst case USD': `${usd(callUsd)} / ${usd(WORST)}`,
				'overshoot USD': usd(Math.max(0, overshoot)),
				'overshoot calls': Math.max(0, Math.ceil(overshoot / callUsd - 1e-9)),
				'wall time': `${((ended - started) / 1000).toFixed(1)} s`,
			};
			try {
				// every item came back exactly once
				expect(items.map((i) => i.id).sort()).toEqual(ids.flat().sort());
				const other = items.filter((i) => !i.ok && i.class !== 'budget_exceeded');
				expect(other).toEqual([]);
				expect(refused.length).toBeGreaterThan(0);
				expect(ok.length).toBeGreaterThan(0);
				// the budget held across both workers: past the limit by at most one estimate's error
				expect(spent).toBeLessThanOrEqual(limitUsd + WORST);
				for (const r of refused) {
					expect(r.cost).toBe(0);
					// room comes back at the next UTC midnight
					expect(r.retryAfterMs).toBeGreaterThanOrEqual(nextUtcMidnight(ended) - ended - 5000);
					expect(r.retryAfterMs).toBeLessThanOrEqual(nextUtcMidnight(started) - started + 5000);
				}
				// a refused call never reached the service
				expect(chatRequests()).toBe(ok.length);

				// the workers' ledgers flush within 0.5 s
				await new Promise((r) => setTimeout(r, 1500));
				const report = await getJson<Json[] | Json>('budget-test/report');
				const rows = Array.isArray(report) ? report : [report];
				figures['report rows'] = rows.length;
				const row = rows[0] as {
					group: Json;
					calls: number;
					succeeded: number;
					failed: number;
					costUsd: number;
					failuresByClass: Json;
				};
				figures['report cost USD'] = usd(row?.costUsd ?? NaN);
				figures['report calls'] = row?.calls;
				expect(rows).toHaveLength(1);
				expect(row.group).toEqual(expect.objectContaining({ tag: 'doc' }));
				expect(row.calls).toBe(CALLS);
				expect(row.succeeded).toBe(ok.length);
				expect(row.failuresByClass).toEqual({ budget_exceeded: refused.length });
				expect(Math.abs(row.costUsd - spent)).toBeLessThanOrEqual(CALLS * 1e-9);
				dailySpent = spent;

				const state = await check('daily');
				figures['Check Budget'] =
					`${state.status}, spent ${usd(state.spentUsd)}, reserved ${usd(state.reservedUsd)}, remaining ${usd(state.remainingUsd ?? NaN)}`;
				expect(state.name).toBe(DAILY);
				expect(Math.abs(state.spentUsd - spent)).toBeLessThanOrEqual(CALLS * 1e-9);
				expect(state.reservedUsd).toBe(0);
				expect(state.limitUsd).toBe(limitUsd);
				expect(state.remainingUsd).toBeCloseTo(Math.max(0, limitUsd - state.spentUsd), 9);
				// exceeded at 100 %, or while less is left than the smallest call it refused; warn from 80 %
				const percent = (state.spentUsd / limitUsd) * 100;
				expect(state.percent).toBeCloseTo(percent, 1);
				if (percent >= 100 - 1e-9 || state.remainingUsd! < LEAST)
					expect(state.status).toBe('exceeded');
				else if (state.remainingUsd! >= WORST)
					// only holds refused: a call still fits
					expect(state.status).toBe(percent >= 80 ? 'warn' : 'within');
				else expect(['warn', 'exceeded']).toContain(state.status);
				// demand was twice the limit
				expect(state.status).not.toBe('within');
				expect(new Date(state.resetAt!).getTime()).toBe(nextUtcMidnight(ended));
			} finally {
				console.log(
					`budget drill (${EXECUTIONS} × ${ITEMS_PER_EXECUTION} items, 2 workers):\n${table(figures)}`,
				);
			}
		});

		it("a restart (kill -9 of main and both workers) keeps the day's spend, and a spent budget still refuses without a call", async () => {
			expect(dailySpent).toBeDefined();
			// Holds in flight may have refused calls that would have fitted after all: spend what is
			// left one call at a time (no other call holds anything), until a call alone is refused.
			let spent = dailySpent!;
			let topUp = 0;
			let last: ItemResult | undefined;
			for (; topUp < 50; topUp++) {
				[last] = await drill('budget-test/run', [`top-${topUp}`]);
				if (!last.ok) break;
				spent += last.cost;
			}
			expect(last).toEqual(expect.objectContaining({ ok: false, class: 'budget_exceeded' }));
			expect(spent).toBeLessThanOrEqual(limitUsd + WORST);
			sim.reset();

			const started = Date.now();
			await Promise.all([main, ...workers].map((p) => p.kill9()));
			main = await main.restart();
			workers = await Promise.all(workers.map((w) => w.restart()));
			for (const w of imported) await webhooksServed(main.url, w);
			const restartedMs = Date.now() - started;

			const askedAt = Date.now();
			const [refused] = await drill('budget-test/run', ['after-restart']);
			await sim.idle(2000);
			const figures: Record<string, unknown> = {
				'top-up calls before the kill (until one was refused)': topUp,
				'spent before the kill (items)': usd(spent),
				'kill → all three ready': `${(restartedMs / 1000).toFixed(1)} s`,
				'next call': `${refused.class ?? 'succeeded'} (retry in ${Math.round((refused.retryAfterMs ?? 0) / 1000)} s), simulator requests ${chatRequests()}`,
			};
			try {
				expect(refused).toEqual(
					expect.objectContaining({ ok: false, class: 'budget_exceeded', cost: 0 }),
				);
				// the day's record, not a fresh one: room comes back at midnight UTC
				expect(Math.abs(refused.retryAfterMs! - (nextUtcMidnight(askedAt) - askedAt))).toBeLessThan(
					60_000,
				);
				expect(chatRequests()).toBe(0);

				const after = await check('daily');
				figures['Check Budget after'] =
					`${after.status}, spent ${usd(after.spentUsd)}, reserved ${usd(after.reservedUsd)}`;
				expect(Math.abs(after.spentUsd - spent)).toBeLessThanOrEqual((CALLS + topUp) * 1e-9);
				expect(after.reservedUsd).toBe(0);
				expect(after.remainingUsd!).toBeLessThan(WORST);
				// a call alone was refused: less is left than it, so the budget reads as exceeded
				expect(after.status).toBe('exceeded');
			} finally {
				console.log(`after the restart:\n${table(figures)}`);
			}
		});

		it('a rolling window of 36 s: spent down to refusals, it is empty again 40 s after the last success', async () => {
			let lastSuccessAt = 0;
			let succeeded = 0;
			let refusals = 0;
			let spent = 0;
			let spentDown = false;
			const tally = (results: ItemResult[]) => {
				const ok = results.filter((r) => r.ok);
				if (ok.length) lastSuccessAt = Date.now();
				succeeded += ok.length;
				spent += sum(results.map((r) => r.cost));
				refusals += results.filter((r) => r.class === 'budget_exceeded').length;
				expect(results.filter((r) => !r.ok && r.class !== 'budget_exceeded')).toEqual([]);
				// refused while others hold: room comes back when their holds settle or expire
				for (const r of results) if (!r.ok) expect(r.retryAfterMs).toBeGreaterThan(0);
			};
			let alone: ItemResult | undefined;
			for (let batch = 0; batch < 10 && !spentDown; batch++) {
				tally(
					await drill(
						'budget-test/run-rolling',
						Array.from({ length: 5 }, (_, i) => `r-${batch}-${i}`),
					),
				);
				// spent down once a call alone is refused (nothing else holds anything now)
				[alone] = await drill('budget-test/run-rolling', [`r-${batch}-alone`]);
				tally([alone]);
				spentDown = !alone.ok;
			}
			expect(spentDown).toBe(true);
			expect(succeeded).toBeGreaterThan(0);
			expect(spent).toBeLessThanOrEqual(rollingLimitUsd + WORST);
			// room comes back when the oldest spend leaves the window, plus one sub-bucket (1/60 of
			// the window, at least 1 s): at most 37 s from now
			const windowMs = ROLLING_HOURS * 3_600_000;
			expect(alone!.retryAfterMs).toBeGreaterThan(0);
			expect(alone!.retryAfterMs).toBeLessThanOrEqual(windowMs + Math.max(1000, windowMs / 60));
			const spentState = await check('rolling').catch((error: Error) => error);

			const wait = lastSuccessAt + 40_000 - Date.now();
			if (wait > 0) await new Promise((r) => setTimeout(r, wait));
			const reset = await check('rolling').catch((error: Error) => error);
			const before = chatRequests();
			const [again] = await drill('budget-test/run-rolling', ['r-after-window']);
			const figures = {
				'limit USD': usd(rollingLimitUsd),
				succeeded,
				refused: refusals,
				'spent USD (items)': usd(spent),
				'Check Budget when spent down':
					spentState instanceof Error
						? spentState.message
						: `${spentState.status}, spent ${usd(spentState.spentUsd)}`,
				'Check Budget 40 s after the last success':
					reset instanceof Error ? reset.message : `${reset.status}, spent ${usd(reset.spentUsd)}`,
				'next call': again.ok ? 'succeeded' : again.class,
			};
			console.log(`rolling window (${ROLLING_HOURS} h):\n${table(figures)}`);
			expect(again).toEqual(expect.objectContaining({ ok: true }));
			expect(chatRequests()).toBe(before + 1);
			if (spentState instanceof Error) throw spentState;
			expect(Math.abs(spentState.spentUsd - spent)).toBeLessThanOrEqual(succeeded * 1e-9);
			expect(spentState.remainingUsd!).toBeLessThan(WORST);
			expect(spentState.status).toBe('exceeded');
			if (reset instanceof Error) throw reset;
			expect(reset).toEqual(
				expect.objectContaining({
					spentUsd: 0,
					reservedUsd: 0,
					status: 'within',
					remainingUsd: rollingLimitUsd,
				}),
			);
		});
	},
);

function table(rows: Record<string, unknown>): string {
	const width = Math.max(...Object.keys(rows).map((k) => k.length));
	return Object.entries(rows)
		.map(([k, v]) => `  ${k.padEnd(width)}  ${String(v)}`)
		.join('\n');
}
