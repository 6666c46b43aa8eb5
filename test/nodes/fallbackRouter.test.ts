import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IConnections, IDataObject, INode, INodeExecutionData } from 'n8n-workflow';

import { AiServiceApi } from '../../credentials/AiServiceApi.credentials';
import { closeAllStores, getStore } from '../../lib/stores';
import { AiCall } from '../../nodes/AiCall/AiCall.node';
import { FallbackRouter } from '../../nodes/FallbackRouter/FallbackRouter.node';
import { createHarness, type HarnessRunOptions } from '../harness';
import { Redis } from '../harness/builtin-credentials';
import { pairedIndexes } from './helpers';

const harness = createHarness({
	nodeTypes: [FallbackRouter, AiCall],
	credentialTypes: [AiServiceApi, Redis],
});
const dir = mkdtempSync(join(tmpdir(), 'fallback-router-'));
afterAll(async () => {
	await closeAllStores();
	rmSync(dir, { recursive: true, force: true });
});

const memory = getStore({ kind: 'memory' });
let unique = 0;
/** A namespace of its own per test: the memory store is shared by the whole file, as by an n8n process. */
const newNamespace = () => `router-${++unique}-${Date.now()}`;
const answer = (text: string, storedAt: number): IDataObject => ({
	text,
	model: 'sim-standard',
	provider: 'openai',
	finishReason: 'stop',
	usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 },
	cost: { inputUsd: 0, outputUsd: 0, totalUsd: 0, tag: '', priced: true },
	latencyMs: 12,
	attempts: 1,
	retries: [],
	fallbackUsed: false,
	cached: false,
	storedAt,
});
/** What AI Call writes: the cached answer, and the last good answer under `<namespace>:last-good`. */
async function remember(namespace: string, key: string, kind: 'fresh' | 'lastGood', text: string) {
	await memory.set(
		kind === 'fresh' ? namespace : `${namespace}:last-good`,
		key,
		answer(text, Date.now() - 120_000),
		60_000,
	);
}

/** An AI Call Failed item. */
const failed = (cls: string, extra: IDataObject = {}, item: IDataObject = {}): IDataObject => ({
	id: `doc-${cls}`,
	...item,
	error: {
		class: cls,
		message: `${cls} happened`,
		httpStatus: null,
		attempts: 1,
		retries: [],
		provider: 'openai',
		model: 'sim-standard',
		retryable: false,
		retryAfterMs: null,
		...extra,
	},
});

const start: INode = {
	id: 'start',
	name: 'Start',
	type: 'harness.start',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};
const router = (parameters: INode['parameters'], extra: Partial<INode> = {}): INode => ({
	id: 'router',
	name: 'Router',
	type: 'n8n-nodes-ai-patterns.fallbackRouter',
	typeVersion: 1,
	position: [200, 0],
	parameters: { store: 'memory', ...parameters },
	...extra,
});
const edge = (to: string) => [{ node: to, type: 'main' as const, index: 0 }];

async function run(
	parameters: INode['parameters'],
	items: IDataObject[],
	options: HarnessRunOptions & { node?: Partial<INode> } = {},
) {
	const result = await harness.run(
		{
			nodes: [start, router(parameters, options.node)],
			connections: { Start: { main: [edge('Router')] } },
		},
		{ startItems: items.map((json) => ({ json })), ...options },
	);
	return { ...result, out: result.outputs.Router ?? [] };
}

const fallbackOf = (item: INodeExecutionData) => item.json.fallback as IDataObject;
const codes = (out: INodeExecutionData[][]) =>
	out.map((items) => items.map((i) => fallbackOf(i).code));

describe('Fallback Router: the default table', () => {
	it('routes each failure class by what is available, every item on exactly one output', async () => {
		const ns = newNamespace();
		await remember(ns, 'k-fresh', 'fresh', 'fresh answer');
		await remember(ns, 'k-fresh', 'lastGood', 'older answer');
		await remember(ns, 'k-old', 'lastGood', 'older answer');
		const cache = (key: string) => ({ cache: { namespace: ns, key } });
		const items = [
			failed('rate_limited', cache('k-fresh')), // 0 cached
			failed('rate_limited', cache('k-none')), // 1 no cached answer → queue
			failed('overloaded', cache('k-old')), // 2 last good answer
			failed('circuit_open'), // 3 no cache key → queue
			failed('timeout', cache('k-none')), // 4 → degraded
			failed('server_error', cache('k-old')), // 5 last good
			failed('network'), // 6 → degraded
			failed('auth', cache('k-fresh')), // 7 a person, even with a cached answer
			failed('bad_request'), // 8
			failed('context_length'), // 9
			failed('content_filter'), // 10
			failed('invalid_output'), // 11
			failed('budget_exceeded', cache('k-fresh')), // 12 → queue, not the cache
			failed('budget_exceeded', {}, { fallback: { queueAttempts: 5 } }), // 13 max re-queues
			failed('a_new_class'), // 14 unknown → a person
		];
		const { out, error } = await run({}, items);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([
			[0, 2, 5],
			[1, 3, 12],
			[7, 8, 9, 10, 11, 13, 14],
			[4, 6],
		]);
		expect(codes(out)).toEqual([
			['cached', 'last_good', 'last_good'],
			['queued', 'queued', 'queued'],
			[...Array(5).fill('needs_person'), 'max_requeues', 'needs_person'],
			['degraded', 'degraded'],
		]);
		expect(out[0].map((i) => (i.json.ai as IDataObject).text)).toEqual([
			'fresh answer',
			'older answer',
			'older answer',
		]);
	});

	it('serves a cached answer in the shape of an AI Call success, and says why', async () => {
		const ns = newNamespace();
		await remember(ns, 'k', 'fresh', 'fresh answer');
		await remember(ns, 'old', 'lastGood', 'older answer');
		const { out } = await run({}, [
			failed('rate_limited', { cache: { namespace: ns, key: 'k' } }, { keep: 1 }),
			failed('timeout', { cache: { namespace: ns, key: 'old' } }),
		]);
		const [fresh, stale] = out[0];
		expect(fresh.json).toEqual({
			id: 'doc-rate_limited',
			keep: 1,
			ai: { ...answer('fresh answer', expect.any(Number)), cached: true, stale: false },
			fallback: {
				strategy: 'cached',
				code: 'cached',
				reason: 'cached answer from 2m ago',
				class: 'rate_limited',
				tried: [{ strategy: 'cached', outcome: 'used' }],
				at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
				failure: {
					class: 'rate_limited',
					message: 'rate_limited happened',
					attempts: 1,
					provider: 'openai',
					model: 'sim-standard',
				},
			},
		});
		expect(Math.abs(Date.parse(fallbackOf(fresh).at as string) - Date.now())).toBeLessThan(5000);
		expect(stale.json.ai).toMatchObject({ text: 'older answer', cached: true, stale: true });
		expect(fallbackOf(stale).reason).toBe('last good answer from 2m ago');
		expect(stale.json.error).toBeUndefined();
	});

	it('sends a person the reason and the failure, keeping the error on the item', async () => {
		const { out } = await run({}, [failed('auth', { httpStatus: 401 })]);
		expect(out[2][0].json.error).toMatchObject({ class: 'auth', httpStatus: 401 });
		expect(fallbackOf(out[2][0])).toMatchObject({
			strategy: 'human',
			reason: 'auth failures need a person',
			failure: { class: 'auth', message: 'auth happened', httpStatus: 401 },
		});
		expect(out[2][0].json.ai).toBeUndefined();
	});
});

describe('Fallback Router: queue for later', () => {
	it('queues until the Retry-After, counting attempts until a person takes over', async () => {
		const before = Date.now();
		let { out } = await run({ options: { maxRequeues: 2 } }, [
			failed('rate_limited', { retryAfterMs: 90_000 }),
		]);
		expect(pairedIndexes(out)).toEqual([[], [0], [], []]);
		let fb = fallbackOf(out[1][0]);
		expect(fb).toMatchObject({
			strategy: 'queue',
			code: 'queued',
			queueAttempts: 1,
			retryInMs: 90_000,
			tried: [
				{ strategy: 'cached', outcome: 'no_cache_key' },
				{ strategy: 'queue', outcome: 'used' },
			],
		});
		const retryAt = Date.parse(fb.retryAt as string);
		expect(retryAt).toBeGreaterThanOrEqual(before + 90_000);
		expect(retryAt).toBeLessThanOrEqual(Date.now() + 90_000);
		expect(fb.reason).toMatch(
			/^no cache key; queued until .+ \(Retry-After 1m 30s; attempt 1 of 2\)$/,
		);
		expect(out[1][0].json.error).toMatchObject({ class: 'rate_limited' }); // still there, for the retry

		// The queued item comes back failed again: the count goes on from the item.
		({ out } = await run({ options: { maxRequeues: 2 } }, [out[1][0].json]));
		expect(fallbackOf(out[1][0]).queueAttempts).toBe(2);
		({ out } = await run({ options: { maxRequeues: 2 } }, [out[1][0].json]));
		expect(pairedIndexes(out)).toEqual([[], [], [0], []]);
		fb = fallbackOf(out[2][0]);
		expect(fb).toMatchObject({
			strategy: 'human',
			code: 'max_requeues',
			reason: 'no cache key; queued 2 times already (max 2); a person decides',
		});
		expect(fb.retryAt).toBeUndefined();
	});

	it('backs off with full jitter without a Retry-After, counting at the path given', async () => {
		const { out } = await run(
			{ options: { queueBaseSeconds: 10, queueMaxSeconds: 15, attemptsField: 'meta.requeued' } },
			[
				failed('overloaded', {}, { meta: { requeued: 0, other: 'x' } }),
				failed('overloaded', {}, { meta: { requeued: 3 } }),
			],
		);
		const [first, fourth] = out[1];
		expect(first.json.meta).toEqual({ requeued: 1, other: 'x' });
		expect(fourth.json.meta).toEqual({ requeued: 4 });
		expect(fallbackOf(first).queueAttempts).toBeUndefined();
		const wait = (item: INodeExecutionData) => fallbackOf(item).retryInMs as number;
		expect(wait(first)).toBeGreaterThanOrEqual(0);
		expect(wait(first)).toBeLessThanOrEqual(10_000); // attempt 1: up to the base
		expect(wait(fourth)).toBeLessThanOrEqual(15_000); // attempt 4: capped by the max
		expect(fallbackOf(fourth).reason).toMatch(/backoff up to 15s; attempt 4 of 5/);
	});
});

describe('Fallback Router: degraded answers', () => {
	it('fills text and JSON templates with expressions over the failed item', async () => {
		const { out, error } = await run(
			{
				degradedText:
					'={{ "Sorry " + $json.name + ", we will get back to you (" + $json.error.class + ")." }}',
				degradedJson: '={{ { category: "unknown", id: $json.id, needsReview: true } }}',
			},
			[failed('timeout', {}, { name: 'Ada' }), failed('network', {}, { name: 'Bob' })],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[], [], [], [0, 1]]);
		expect(out[3][0].json.ai).toEqual({
			text: 'Sorry Ada, we will get back to you (timeout).',
			json: { category: 'unknown', id: 'doc-timeout', needsReview: true },
			degraded: true,
			cached: false,
		});
		expect((out[3][1].json.ai as IDataObject).text).toBe(
			'Sorry Bob, we will get back to you (network).',
		);
		expect(out[3][0].json.error).toBeUndefined();
		expect(fallbackOf(out[3][0])).toMatchObject({
			strategy: 'degraded',
			reason: 'no cache key; degraded answer',
			failure: { class: 'timeout' },
		});
	});

	it('uses the default text with the execution id, a JSON literal and another answer field', async () => {
		const { out } = await run(
			{ degradedJson: '{"category": "unknown"}', options: { answerField: 'result' } },
			[failed('server_error')],
		);
		expect(out[3][0].json.result).toEqual({
			text: expect.stringMatching(
				/^We could not process this automatically right now\. Reference: \d+$/,
			),
			json: { category: 'unknown' },
			degraded: true,
			cached: false,
		});
		expect(out[3][0].json.ai).toBeUndefined();
	});

	it('stops with an error naming the item when the JSON template is not JSON', async () => {
		const { error, errorNode } = await run({ degradedJson: '{category: unknown' }, [
			failed('auth'),
			failed('timeout'),
		]);
		expect(errorNode).toBe('Router');
		expect(error?.message).toBe('Item 1: "Degraded JSON" is not valid JSON');
	});
});

describe('Fallback Router: custom rules and settings', () => {
	it('applies custom rules in their order, keeping the default table for other classes', async () => {
		const ns = newNamespace();
		await remember(ns, 'k', 'fresh', 'cached');
		const cache = { cache: { namespace: ns, key: 'k' } };
		const { out, error } = await run(
			{
				routing: 'custom',
				rules: {
					rule: [
						{ classes: ['auth', 'timeout'], strategies: 'degraded, human' },
						{ classes: ['timeout', 'rate_limited'], strategies: 'queue, cached' },
					],
				},
			},
			[
				failed('auth'),
				failed('timeout', cache),
				failed('rate_limited', cache),
				failed('network', cache),
			],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[3], [2], [], [0, 1]]);
	});

	it('names the rule and the strategy when a rule is wrong', async () => {
		const { error } = await run(
			{ routing: 'custom', rules: { rule: [{ classes: ['auth'], strategies: 'cached, retry' }] } },
			[failed('auth')],
		);
		expect(error?.message).toBe(
			'Item 0: Rule 1, "Strategies": unknown strategy "retry" (use cached, queue, human, degraded, in the order to try them)',
		);
	});

	it('reads the error object and the cache entry from the paths and expressions given', async () => {
		const ns = newNamespace();
		await remember(ns, 'order-7', 'fresh', 'from the cache');
		const { out } = await run(
			{
				errorField: 'result.failure',
				options: { cacheNamespace: ns, cacheKey: '={{ "order-" + $json.orderId }}' },
			},
			[{ orderId: 7, result: { failure: { message: 'Too Many Requests', httpCode: '429' } } }],
		);
		expect(pairedIndexes(out)).toEqual([[0], [], [], []]);
		expect(out[0][0].json).toMatchObject({
			orderId: 7,
			result: {},
			ai: { text: 'from the cache' },
		});
		expect(fallbackOf(out[0][0]).class).toBe('rate_limited');
	});

	it('stops naming the item without an error object, or sends it to Human when asked', async () => {
		const items = [failed('auth'), { id: 'no-error' }];
		const stopped = await run({}, items);
		expect(stopped.errorNode).toBe('Router');
		expect(stopped.error?.message).toBe('Item 1: no error object in field "error"');

		const { out } = await run({ options: { onMissingError: 'human' } }, items);
		expect(pairedIndexes(out)).toEqual([[], [], [0, 1], []]);
		expect(fallbackOf(out[2][1])).toEqual({
			strategy: 'human',
			code: 'no_error_object',
			reason: 'no error object in field "error"; a person decides',
			class: null,
			tried: [{ strategy: 'human', outcome: 'used' }],
			at: expect.any(String),
		});
	});

	it('sends items it cannot route to the error output, or to Human, when set to continue', async () => {
		const { out, error } = await run({}, [{ id: 'no-error' }, failed('auth')], {
			node: { onError: 'continueErrorOutput' },
		});
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[], [], [1], [], [0]]);
		expect(out[4][0].json.error).toBe('Item 0: no error object in field "error"');

		const regular = await run({}, [{ id: 'no-error' }], {
			node: { onError: 'continueRegularOutput' },
		});
		expect(pairedIndexes(regular.out)).toEqual([[], [], [0], []]);
	});
});

describe('Fallback Router: stores', () => {
	it('counts an unreachable store as no cached answer, without the password anywhere', async () => {
		const password = 'redis-secret-7f3a';
		const { out, error } = await run(
			{ store: 'redis' },
			[failed('timeout', { cache: { namespace: 'n', key: 'k' } })],
			{
				node: { credentials: { redis: { id: 'r', name: 'Redis' } } },
				credentials: { r: { host: '127.0.0.1', port: 1, password } },
			},
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[], [], [], [0]]);
		const fb = fallbackOf(out[3][0]);
		expect(fb.reason).toBe('cache store unreachable; degraded answer');
		expect(fb.tried).toEqual([
			{
				strategy: 'cached',
				outcome: 'store_unreachable',
				detail: expect.stringMatching(/^Redis at 127\.0\.0\.1:1: /),
			},
			{ strategy: 'degraded', outcome: 'used' },
		]);
		expect(JSON.stringify(out)).not.toContain(password);
	});

	it('reads answers from the local SQLite file', async () => {
		const sqlitePath = join(dir, 'state.sqlite');
		await getStore({ kind: 'local', path: sqlitePath }).set(
			'ai-call:last-good',
			'doc-1',
			answer('from SQLite', Date.now() - 3_600_000),
			60_000,
		);
		const { out } = await run({ store: 'local', sqlitePath }, [
			failed('overloaded', { cache: { namespace: 'ai-call', key: 'doc-1' } }),
			failed('overloaded', { cache: { namespace: 'ai-call', key: 'doc-2' } }),
		]);
		expect(pairedIndexes(out)).toEqual([[0], [1], [], []]);
		expect(out[0][0].json.ai).toMatchObject({ text: 'from SQLite', stale: true });
		expect(fallbackOf(out[0][0]).reason).toBe('last good answer from 1h ago');
		expect(fallbackOf(out[1][0]).reason).toMatch(/^no cached answer; queued until /);
	});
});

describe('Fallback Router: drill', () => {
	it('AI Call "simulate outage" → Fallback Router reaches every output', async () => {
		const ns = newNamespace();
		await remember(ns, 'doc-0', 'fresh', 'answer from the cache');
		const nodes: INode[] = [
			start,
			{
				id: 'ai',
				name: 'AI Call',
				type: 'n8n-nodes-ai-patterns.aiCall',
				typeVersion: 1,
				position: [200, 0],
				parameters: {
					model: { mode: 'id', value: 'sim-standard' },
					userPrompt: '={{ $json.text }}',
					options: { simulate: 'all' },
				},
				// The drill makes no call, but AI Call needs its credential all the same.
				credentials: { aiServiceApi: { id: 'ai', name: 'AI' } },
			},
			router({ options: { cacheNamespace: ns, cacheKey: '={{ $json.id }}' } }),
		];
		const connections: IConnections = {
			Start: { main: [edge('AI Call')] },
			'AI Call': { main: [[], edge('Router')] },
		};
		const items = [0, 1, 2, 3, 4].map((n) => ({ json: { id: `doc-${n}`, text: `document ${n}` } }));
		const result = await harness.run(
			{ nodes, connections },
			{
				startItems: items,
				credentials: {
					ai: { provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-drill-0000' },
				},
			},
		);
		expect(result.error).toBeUndefined();
		const out = result.outputs.Router;
		// Item 0 has a cached answer; item 4 starts the rotation again but has none, so it queues.
		expect(pairedIndexes(out)).toEqual([[0], [1, 4], [2], [3]]);
		for (const items of out)
			for (const item of items)
				expect(fallbackOf(item)).toMatchObject({
					class: 'simulated',
					failure: { class: 'simulated', simulated: true },
				});
		expect(out[0][0].json.ai).toMatchObject({ text: 'answer from the cache', cached: true });
		expect(fallbackOf(out[1][1]).tried).toEqual([
			{ strategy: 'cached', outcome: 'not_found' },
			{ strategy: 'queue', outcome: 'used' },
		]);
		expect((out[3][0].json.ai as IDataObject).degraded).toBe(true);
	});

	it('follows the drill list instead when one is given, per item by expression', async () => {
		const { out } = await run({ drill: 'list', drillStrategies: '={{ $json.plan }}' }, [
			failed('simulated', {}, { plan: 'human' }),
			failed('simulated', {}, { plan: 'cached, degraded' }),
		]);
		expect(pairedIndexes(out)).toEqual([[], [], [0], [1]]);
		const bad = await run({ drill: 'list', drillStrategies: 'cached, later' }, [
			failed('simulated'),
		]);
		expect(bad.error?.message).toMatch(/^Item 0: "Drill Strategy List": unknown strategy "later"/);
	});
});
