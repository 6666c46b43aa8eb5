import type { IDataObject } from 'n8n-workflow';

import { startSimulator, type Simulator } from '../../simulator';
import { logLines } from '../harness';
import { pairedIndexes, runAiCall } from './helpers';

const KEY = 'sk-test-primary-7f3a9c21';
const FALLBACK_KEY = 'sk-test-fallback-0b88e412';
let sim: Simulator;

beforeAll(async () => {
	sim = await startSimulator({ apiKeys: [KEY, FALLBACK_KEY], seed: 7 });
});
afterAll(() => sim.close());
beforeEach(() => {
	sim.reset();
	sim.setFault(undefined);
});

type Params = Record<string, unknown>;

/** Start → AI Call against the simulator; credentials as the node's credential slots hold them. */
function ai(
	params: Params,
	items: IDataObject[],
	creds: { primary?: IDataObject; fallback?: IDataObject } = {},
) {
	const primary = creds.primary ?? { provider: 'openai', baseUrl: sim.baseUrl, apiKey: KEY };
	return runAiCall(params, items, { primary, fallback: creds.fallback });
}

const errorOf = (item: { json: IDataObject }) => item.json.error as IDataObject;
const resultOf = (item: { json: IDataObject }, field = 'ai') => item.json[field] as IDataObject;

describe('AI Call: answers', () => {
	it('returns the answer with model, usage, cost, latency and attempts (OpenAI-compatible)', async () => {
		const { out, error } = await ai({ options: { costTag: 'doc-classified' } }, [
			{ id: 1, text: 'Please pay the attached invoice' },
		]);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], []]);
		const r = resultOf(out[0][0]);
		expect(out[0][0].json.id).toBe(1);
		expect(r).toMatchObject({
			text: 'Category: invoice. Sentiment: neutral. Summary: Please pay the attached invoice',
			model: 'sim-standard',
			provider: 'openai',
			finishReason: 'stop',
			usage: { inputTokens: 11, outputTokens: 20, totalTokens: 31 },
			// sim-standard: 1 USD / 4 USD per million tokens
			cost: {
				inputUsd: 0.000011,
				outputUsd: 0.00008,
				totalUsd: 0.000091,
				tag: 'doc-classified',
				priced: true,
			},
			attempts: 1,
			retries: [],
			fallbackUsed: false,
			cached: false,
		});
		expect(r.latencyMs).toEqual(expect.any(Number));
	});

	it('speaks the Anthropic Messages API with the same result shape', async () => {
		const { out } = await ai(
			{ systemPrompt: 'You classify documents.', options: { maxTokens: 200 } },
			[{ text: 'Please review the contract renewal' }],
			{ primary: { provider: 'anthropic', baseUrl: sim.baseUrl, apiKey: KEY } },
		);
		expect(resultOf(out[0][0])).toMatchObject({
			text: 'Category: contract. Sentiment: neutral. Summary: Please review the contract renewal',
			provider: 'anthropic',
			finishReason: 'stop',
		});
		expect(sim.counters().byEndpoint).toEqual({ 'POST /v1/messages': 1 });
	});

	it('takes a messages array instead of prompts', async () => {
		const { out } = await ai({ promptType: 'messages', messages: '={{ $json.conversation }}' }, [
			{
				conversation: [
					{ role: 'system', content: 'Be brief.' },
					{ role: 'user', content: 'I need a refund' },
				],
			},
		]);
		expect(resultOf(out[0][0]).text).toMatch(/^Category: complaint/);
	});

	it('parses JSON answers, and checks them against a JSON Schema', async () => {
		const json = await ai({ responseFormat: 'json' }, [{ text: 'I cannot login' }]);
		expect(resultOf(json.out[0][0]).json).toMatchObject({ category: 'support' });
		const schema = {
			type: 'object',
			properties: { category: { type: 'string', enum: ['support', 'other'] } },
			required: ['category'],
		};
		const valid = await ai({ responseFormat: 'jsonSchema', jsonSchema: JSON.stringify(schema) }, [
			{ text: 'I cannot login' },
		]);
		expect(resultOf(valid.out[0][0])).toMatchObject({ json: { category: 'support' }, attempts: 1 });
	});

	it('repairs a schema mismatch once, then fails as invalid_output', async () => {
		const schema = JSON.stringify({
			type: 'object',
			properties: { category: { type: 'string' } },
			required: ['category'],
		});
		const { out } = await ai({ responseFormat: 'jsonSchema', jsonSchema: schema }, [
			{ text: 'repairable [[sim:schema-mismatch;fail-first=1;key=r1]]' },
			{ text: 'hopeless [[sim:invalid-json-output;key=r2]]' },
		]);
		expect(pairedIndexes(out)).toEqual([[0], [1]]);
		expect(resultOf(out[0][0])).toMatchObject({ attempts: 2, json: { category: 'other' } });
		expect(errorOf(out[1][0])).toMatchObject({
			class: 'invalid_output',
			attempts: 2,
			retryable: false,
		});
		expect(sim.counters().byKey).toEqual({ r1: 2, r2: 2 });
	});

	it('puts only the result in the item when asked, under the chosen field', async () => {
		const { out } = await ai({ options: { outputMode: 'resultOnly', outputField: 'answer' } }, [
			{ text: 'hi', secret: 'x' },
		]);
		expect(Object.keys(out[0][0].json)).toEqual(['answer']);
	});
});

describe('AI Call: failures are classified, retried only when transient', () => {
	it.each([
		['status=429;retry-after=0', 'rate_limited', 4, 429],
		['status=500', 'server_error', 4, 500],
		['status=503', 'overloaded', 4, 503],
		['status=529', 'overloaded', 4, 529],
		['reset', 'network', 4, null],
		['truncated', 'network', 4, null],
		['malformed-json', 'server_error', 4, 200],
		['html-error', 'server_error', 4, 502],
		['empty-choices', 'server_error', 4, 200],
		['status=400', 'bad_request', 1, 400],
		['context-length', 'context_length', 1, 400],
		['content-filter', 'content_filter', 1, 200],
	])('%s → %s after %i attempt(s)', async (fault, cls, attempts, httpStatus) => {
		const { out } = await ai({}, [{ text: `hello [[sim:${fault};key=k]]` }]);
		expect(pairedIndexes(out)).toEqual([[], [0]]);
		expect(errorOf(out[1][0])).toMatchObject({
			class: cls,
			attempts,
			httpStatus,
			provider: 'openai',
			model: 'sim-standard',
		});
		expect(sim.counters().byKey.k).toBe(attempts);
	});

	it('a wrong key is auth, never retried, and the key is not in the output', async () => {
		const wrongKey = 'sk-wrong-key-do-not-leak-99';
		const { out, runs } = await ai({}, [{ text: 'hello' }], {
			primary: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: wrongKey },
		});
		expect(errorOf(out[1][0])).toMatchObject({
			class: 'auth',
			attempts: 1,
			httpStatus: 401,
			retryable: false,
		});
		expect(JSON.stringify(runs)).not.toContain(wrongKey);
		expect(JSON.stringify(runs)).not.toContain('do-not-leak');
	});

	it('a hang is a timeout after the attempt timeout, retried', async () => {
		const t0 = Date.now();
		const { out } = await ai(
			{ timeoutPreset: 'custom', timeoutMs: 150, options: { maxRetries: 1 } },
			[{ text: 'hello [[sim:hang;key=h]]' }],
		);
		expect(errorOf(out[1][0])).toMatchObject({ class: 'timeout', attempts: 2, retryable: true });
		expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
		expect(Date.now() - t0).toBeLessThan(2000);
		await sim.idle();
		expect(sim.counters().byKey.h).toBe(2);
	});

	it('recovers when the failures stop: fail-first 2 then success, with the retries recorded', async () => {
		const { out } = await ai({}, [{ text: 'hello [[sim:fail-first=2;status=503;key=f]]' }]);
		const r = resultOf(out[0][0]);
		expect(r.attempts).toBe(3);
		expect((r.retries as IDataObject[]).map((x) => [x.attempt, x.class, x.httpStatus])).toEqual([
			[1, 'overloaded', 503],
			[2, 'overloaded', 503],
		]);
	});

	it('waits what Retry-After asks', async () => {
		const t0 = Date.now();
		const { out } = await ai({ options: { maxDelayMs: 2000 } }, [
			{ text: 'x [[sim:fail-first=1;status=429;retry-after=0.4]]' },
		]);
		expect(resultOf(out[0][0]).retries).toEqual([
			{ attempt: 1, class: 'rate_limited', httpStatus: 429, waitMs: 400 },
		]);
		expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
	});

	it('reports a Retry-After longer than the max delay instead of waiting it', async () => {
		const { out } = await ai({ options: { maxDelayMs: 1000 } }, [
			{ text: 'x [[sim:status=429;retry-after=30;key=ra]]' },
		]);
		expect(errorOf(out[1][0])).toMatchObject({
			class: 'rate_limited',
			attempts: 1,
			retryAfterMs: 30_000,
			retryable: true,
		});
	});

	it('grows the backoff exponentially and caps it (full jitter stays under the ceiling)', async () => {
		const { out } = await ai({ options: { maxRetries: 8, baseDelayMs: 10, maxDelayMs: 40 } }, [
			{ text: 'x [[sim:status=500]]' },
		]);
		const waits = (errorOf(out[1][0]).retries as IDataObject[]).map((r) => r.waitMs as number);
		expect(waits).toHaveLength(8);
		waits.forEach((w, n) => expect(w).toBeLessThanOrEqual(Math.min(40, 10 * 2 ** n)));
		expect(Math.max(...waits.slice(3))).toBeLessThanOrEqual(40);
	});

	it('stops retrying when the total time budget is spent', async () => {
		const t0 = Date.now();
		const { out } = await ai(
			{ timeoutPreset: 'custom', timeoutMs: 200, options: { maxRetries: 20, totalTimeoutMs: 500 } },
			[{ text: 'x [[sim:hang]]' }],
		);
		expect(errorOf(out[1][0]).class).toBe('timeout');
		expect(errorOf(out[1][0]).attempts).toBeLessThanOrEqual(3);
		expect(Date.now() - t0).toBeLessThan(1500);
	});

	it('retries only the failing item, not the batch', async () => {
		const { out } = await ai({}, [
			{ text: 'a [[sim:key=a]]' },
			{ text: 'b [[sim:fail-first=2;status=500;key=b]]' },
			{ text: 'c [[sim:key=c]]' },
		]);
		expect(pairedIndexes(out)).toEqual([[0, 1, 2], []]);
		expect(sim.counters().byKey).toEqual({ a: 1, b: 3, c: 1 });
	});
});

describe('AI Call: fallback models', () => {
	const prompt = 'word '.repeat(400); // over sim-small's 256-token window

	it('switches to a larger model on context_length, and only on its classes', async () => {
		const fallbacks = (on: string[]) => ({
			fallback: [{ model: 'sim-large', credential: 'primary', on }],
		});
		const used = await ai(
			{ model: { mode: 'id', value: 'sim-small' }, fallbacks: fallbacks(['context_length']) },
			[{ text: prompt }],
		);
		expect(resultOf(used.out[0][0])).toMatchObject({
			model: 'sim-large',
			fallbackUsed: true,
			attempts: 2,
		});
		const unused = await ai(
			{ model: { mode: 'id', value: 'sim-small' }, fallbacks: fallbacks(['rate_limited']) },
			[{ text: prompt }],
		);
		expect(errorOf(unused.out[1][0])).toMatchObject({
			class: 'context_length',
			model: 'sim-small',
			attempts: 1,
		});
	});

	it('tries fallbacks in order after the retries of the model before', async () => {
		sim.setFault(undefined);
		const { out } = await ai(
			{
				options: { maxRetries: 1 },
				fallbacks: {
					fallback: [
						{ model: 'sim-small', credential: 'primary', on: ['auth'] },
						{ model: 'sim-large', credential: 'primary', on: ['overloaded'] },
					],
				},
			},
			[{ text: 'x [[sim:fail-first=2;status=503;key=o]]' }],
		);
		expect(resultOf(out[0][0])).toMatchObject({
			model: 'sim-large',
			fallbackUsed: true,
			attempts: 3,
		});
		expect(sim.counters().byModel).toEqual({ 'sim-standard': 2, 'sim-large': 1 });
	});

	it('uses the fallback credential for a fallback on another provider', async () => {
		const { out } = await ai(
			{
				useFallbackCredential: true,
				fallbacks: { fallback: [{ model: 'sim-standard', credential: 'fallback', on: ['auth'] }] },
			},
			[{ text: 'hello' }],
			{
				primary: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: 'revoked-key' },
				fallback: { provider: 'anthropic', baseUrl: sim.baseUrl, apiKey: FALLBACK_KEY },
			},
		);
		expect(resultOf(out[0][0])).toMatchObject({ provider: 'anthropic', fallbackUsed: true });
		expect(sim.counters().byEndpoint).toEqual({
			'POST /v1/chat/completions': 1,
			'POST /v1/messages': 1,
		});
	});
});

describe('AI Call: parallelism, budget, drill', () => {
	it('never has more calls in flight than the cap, and keeps input order', async () => {
		const items = Array.from({ length: 12 }, (_, i) => ({
			i,
			text: `item ${i} [[sim:latency=${60 - i * 4}]]`,
		}));
		const { out } = await ai({ options: { maxConcurrency: 3 } }, items);
		expect(sim.counters().peakInFlight).toBe(3);
		expect(out[0].map((item) => item.json.i)).toEqual(items.map((it) => it.i));
		expect(pairedIndexes(out)[0]).toEqual(items.map((it) => it.i));
	});

	it('does not count the wait for a free slot against the time budget, nor as latency', async () => {
		// warm up first: on a busy machine the first call of a process alone can take 200 ms
		await ai({ options: { maxConcurrency: 1 } }, [{ text: 'warm-up' }]);
		const items = Array.from({ length: 6 }, (_, i) => ({ text: `x${i} [[sim:latency=80]]` }));
		const { out } = await ai(
			{
				timeoutPreset: 'custom',
				timeoutMs: 200,
				options: { maxConcurrency: 1, totalTimeoutMs: 250 },
			},
			items,
		);
		expect(pairedIndexes(out)).toEqual([[0, 1, 2, 3, 4, 5], []]);
		for (const item of out[0]) expect(resultOf(item).latencyMs).toBeLessThan(200);
	});

	it('limits requests per minute', async () => {
		const t0 = Date.now();
		const { out } = await ai({ options: { maxConcurrency: 10, requestsPerMinute: 3 } }, [
			{ text: 'a' },
			{ text: 'b' },
			{ text: 'c' },
		]);
		expect(out[0]).toHaveLength(3);
		expect(Date.now() - t0).toBeLessThan(1000); // within the limit: no wait
	});

	it('sends the remaining items to Failed as budget_exceeded once the budget is spent, without calls', async () => {
		// each call costs about 0.000091 USD on sim-standard; a budget of 0.0002 allows 3 calls
		const items = Array.from({ length: 6 }, () => ({ text: 'Please pay the attached invoice' }));
		const { out } = await ai({ options: { maxConcurrency: 1, budgetUsd: 0.0002 } }, items);
		expect(pairedIndexes(out)).toEqual([
			[0, 1, 2],
			[3, 4, 5],
		]);
		expect(errorOf(out[1][0])).toMatchObject({ class: 'budget_exceeded', attempts: 0 });
		expect(sim.counters().requests).toBe(3);
	});

	it('simulates an outage for all items, a percentage, or by expression, with no call', async () => {
		const all = await ai({ options: { simulate: 'all', simulateClass: 'overloaded' } }, [
			{ text: 'a' },
			{ text: 'b' },
		]);
		expect(pairedIndexes(all.out)).toEqual([[], [0, 1]]);
		expect(errorOf(all.out[1][0])).toMatchObject({
			class: 'overloaded',
			simulated: true,
			attempts: 0,
		});
		const byExpression = await ai(
			{ options: { simulate: 'expression', simulateWhen: '={{ $json.drill === true }}' } },
			[
				{ text: 'a', drill: true },
				{ text: 'b', drill: false },
			],
		);
		expect(pairedIndexes(byExpression.out)).toEqual([[1], [0]]);
		expect(errorOf(byExpression.out[1][0]).class).toBe('simulated');
		const none = await ai({ options: { simulate: 'percent', simulatePercent: 0 } }, [
			{ text: 'a' },
		]);
		expect(none.out[0]).toHaveLength(1);
		expect(sim.counters().requests).toBe(2);
	});
});

describe('AI Call: inputs and configuration', () => {
	it('an empty prompt fails as bad_request without a call; a 10 MB prompt as context_length', async () => {
		const { out } = await ai({}, [{ text: '' }, { text: 'x'.repeat(10 * 1024 * 1024) }]);
		expect(pairedIndexes(out)).toEqual([[], [0, 1]]);
		expect(errorOf(out[1][0])).toMatchObject({
			class: 'bad_request',
			attempts: 0,
			message: expect.stringMatching(/prompt"? is empty/i),
		});
		expect(errorOf(out[1][1])).toMatchObject({ class: 'context_length', attempts: 1 });
	});

	it.each([
		[
			{ responseFormat: 'jsonSchema', jsonSchema: '{"type": "strange"}' },
			/"JSON Schema" is not a valid schema/,
		],
		[{ responseFormat: 'jsonSchema', jsonSchema: '{oops' }, /"JSON Schema" is not valid JSON/],
		[
			{ options: { priceOverrides: '{"my-model": {"input": "cheap"}}' } },
			/"Price Overrides" at "my-model.input"/,
		],
		[{ model: { mode: 'id', value: '' } }, /"?Model"? is (empty|required)/],
		[
			{ promptType: 'messages', messages: '[{"role": "bot", "content": "x"}]' },
			/"Messages" at 0.role/,
		],
		[
			{ fallbacks: { fallback: [{ model: 'm', credential: 'fallback', on: [] }] } },
			/turn on "Fallbacks Use Another Credential"/,
		],
	])('stops with an error naming the parameter: %j', async (params, message) => {
		const { error } = await ai(params as Params, [{ text: 'hello' }]);
		expect(error?.message).toMatch(message);
		expect(sim.counters().requests).toBe(0);
	});

	it('logs every retry and timeout with ids and class, never the key or the prompt', async () => {
		logLines.length = 0;
		await ai({ timeoutPreset: 'custom', timeoutMs: 100, options: { maxRetries: 1 } }, [
			{ text: 'confidential prompt text [[sim:hang]]' },
		]);
		const ours = logLines.filter((l) => l.message.startsWith('AI Call'));
		// the identifiers follow in parentheses (test/nodes/aiCallHardening.test.ts checks them)
		expect(ours.map((l) => l.message.replace(/ \(.*\)$/, ''))).toEqual([
			'AI Call: attempt timed out',
			'AI Call: retrying after a transient failure',
			'AI Call: attempt timed out',
		]);
		expect(ours[1].meta).toMatchObject({
			node: 'Node',
			item: 0,
			attempt: 1,
			class: 'timeout',
			executionId: expect.any(String),
		});
		const all = JSON.stringify(logLines);
		expect(all).not.toContain(KEY);
		expect(all).not.toContain('confidential');
	});

	it('conserves every item with its pairedItem across both outputs', async () => {
		const items = Array.from({ length: 20 }, (_, i) => ({
			i,
			text: i % 3 ? `ok ${i}` : `bad ${i} [[sim:status=400]]`,
		}));
		const { out } = await ai({ options: { maxConcurrency: 7 } }, items);
		const [ok, failed] = pairedIndexes(out);
		expect([...ok, ...failed].sort((a, b) => a - b)).toEqual(items.map((it) => it.i));
		expect(failed).toEqual(items.filter((it) => it.i % 3 === 0).map((it) => it.i));
		for (const output of out)
			for (const item of output)
				expect(item.json.i).toBe((item.pairedItem as { item: number }).item);
	});
});
