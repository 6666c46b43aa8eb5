import fc from 'fast-check';
import type { INodeExecutionData } from 'n8n-workflow';

import { startSimulator, type Simulator } from '../../simulator';
import { closeAllStores } from '../../lib/stores';
import { hostileBatch, hostileItem, itemJson, FUZZ_TIMEOUT_MS, ITEMS_PER_RUN, RUNS } from './support/arbitraries';
import { own } from './support/invariants';
import { fromItem, fuzz, itemsOf, printSummary, type Case } from './support/run';

const KEY = 'sk-fuzz-3b9f0c77e1d24a6b8c5e9f1a';
const CLASSES = new Set(['timeout', 'rate_limited', 'overloaded', 'server_error', 'network', 'auth', 'bad_request', 'context_length', 'content_filter', 'invalid_output', 'budget_exceeded', 'circuit_open', 'simulated']);

/** Faults the simulator reads from a [[sim: …]] directive in the prompt: one per item. */
const FAULTS = [
	'', '', '', 'status=429;retry-after=0', 'status=429;retry-after=99999999', 'status=500', 'status=503', 'status=401',
	'reset', 'malformed-json', 'truncated', 'html-error', 'empty-choices', 'invalid-json-output', 'schema-mismatch',
	'context-length', 'content-filter', 'echo-key', 'echo-key;status=500', 'echo-key;status=401',
	'hostile=not-object', 'hostile=null', 'hostile=choices-string', 'hostile=usage-strings', 'hostile=usage-negative',
	'hostile=usage-huge', 'hostile=non-utf8',
];

let sim: Simulator;
beforeAll(async () => {
	sim = await startSimulator({ apiKeys: [KEY], seed: 12 });
});
jest.setTimeout(FUZZ_TIMEOUT_MS);

afterAll(async () => {
	printSummary();
	await sim.close();
	await closeAllStores();
});

const items = hostileBatch((hostile) =>
	hostileItem(
		itemJson(
			{
				text: fc.oneof(
					{ weight: 2, arbitrary: fc.tuple(fc.constantFrom(...FAULTS), fc.string()).map(([f, t]) => `${f ? `[[sim: ${f}]] ` : ''}invoice ${t}`) },
					{ weight: 1, arbitrary: hostile },
				),
				sys: hostile,
				model: fc.oneof(fc.constant('sim-standard'), hostile),
				messages: fc.oneof(
					fc.array(fc.record({ role: fc.oneof(fc.constantFrom('system', 'user', 'assistant'), hostile), content: hostile }), { maxLength: 3 }),
					hostile,
				),
				n: hostile,
				tag: hostile,
				stop: hostile,
				k: hostile,
			},
			hostile,
		),
	),
);

const cases: fc.Arbitrary<Case> = fc
	.record({
		promptType: fc.constantFrom('prompts', 'prompts', 'messages'),
		systemFromItem: fc.boolean(),
		modelFromItem: fc.boolean(),
		responseFormat: fc.constantFrom('text', 'json', 'jsonSchema'),
		optionsFromItem: fc.boolean(),
		cache: fc.constantFrom('off', 'exact', 'key'),
		simulate: fc.constantFrom('off', 'off', 'percent'),
		maxRetries: fc.constantFrom(0, 1, 2),
	})
	.map((r) => ({
		parameters: {
			model: r.modelFromItem ? fromItem('model') : { __rl: true, mode: 'id', value: 'sim-standard' },
			promptType: r.promptType,
			...(r.promptType === 'messages'
				? { messages: fromItem('messages') }
				: { userPrompt: fromItem('text'), systemPrompt: r.systemFromItem ? fromItem('sys') : 'Classify.' }),
			responseFormat: r.responseFormat,
			jsonSchema: JSON.stringify({ type: 'object', required: ['category'] }),
			timeoutPreset: 'custom',
			timeoutMs: 300,
			responseCache: r.cache,
			cacheKey: fromItem('k'),
			store: 'memory',
			options: {
				maxRetries: r.maxRetries,
				baseDelayMs: 1,
				maxDelayMs: 5,
				maxConcurrency: 20,
				simulate: r.simulate,
				simulatePercent: 20,
				...(r.optionsFromItem
					? { temperature: fromItem('n'), maxTokens: fromItem('n'), costTag: fromItem('tag'), stop: fromItem('stop') }
					: {}),
			},
		},
		configParameters: [],
	}));

const spec = {
	runs: Number(process.env.FUZZ_AI_RUNS) || RUNS,
	node: 'AI Call',
	type: 'aiCall',
	cases,
	items,
	secret: KEY,
	outputCount: () => 2,
	runOptions: () => ({
		credentials: { p: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: KEY } },
		nodeCredentials: { aiServiceApi: { id: 'p', name: 'AI' } },
	}),
	checkItem: (item: INodeExecutionData, output: number) => {
		if (output === 0) {
			const text = own(own(item.json, 'ai'), 'text');
			return typeof text === 'string' ? undefined : `ai.text is ${String(text)}`;
		}
		const error = own(item.json, 'error');
		const cls = own(error, 'class');
		if (!CLASSES.has(cls as string)) return `error.class is ${String(cls)}`;
		const message = own(error, 'message');
		return typeof message === 'string' && message ? undefined : `error.message is ${String(message)}`;
	},
};

describe('AI Call on hostile items against a faulty service', () => {
	it('sends every item to Success or Failed with a documented class, and the API key nowhere', async () => {
		const result = await fuzz(spec, 'hostile prompts and options, random service faults');
		expect(result.counterexample).toBeUndefined();
	});

	it(`handled at least ${ITEMS_PER_RUN * 100} items`, () => {
		expect(itemsOf('AI Call')).toBeGreaterThanOrEqual(ITEMS_PER_RUN * 100);
	});
});
