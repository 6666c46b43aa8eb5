import fc from 'fast-check';
import type { INodeExecutionData } from 'n8n-workflow';

import { edgeNumber, hostileBatch, hostileItem, itemJson, FUZZ_TIMEOUT_MS, ITEMS_PER_RUN, ownObject, RUNS } from './support/arbitraries';
import { own } from './support/invariants';
import { fromItem, fuzz, itemsOf, printSummary, type Case } from './support/run';

const OUTPUTS = ['cached', 'queue', 'human', 'degraded'];
const CODES = new Set(['cached', 'last_good', 'queued', 'degraded', 'needs_person', 'max_requeues', 'no_strategy_left', 'no_error_object']);
const CLASSES = ['rate_limited', 'overloaded', 'circuit_open', 'timeout', 'server_error', 'network', 'auth', 'bad_request', 'context_length', 'content_filter', 'invalid_output', 'budget_exceeded', 'simulated', 'unknown', 'made_up'];

const items = hostileBatch((hostile) => {
	/** AI Call's error object, each field well-formed or hostile; or something else entirely. */
	const error = fc.oneof(
		{ weight: 3, arbitrary: fc
			.record({
				class: fc.oneof(fc.constantFrom(...CLASSES), hostile),
				message: fc.oneof(fc.string(), hostile),
				httpStatus: fc.oneof(fc.constantFrom(429, 500, 503, 401, null), edgeNumber, hostile),
				retryAfterMs: fc.oneof(fc.constantFrom(1000, null), edgeNumber, hostile),
				cache: fc.oneof(fc.record({ namespace: fc.oneof(fc.constant('ns'), hostile), key: fc.oneof(fc.constant('k'), hostile) }), hostile),
				attempts: hostile,
			}, { requiredKeys: [] })
			.map((r) => ownObject(Object.entries(r))) },
		{ weight: 1, arbitrary: hostile },
	);
	return hostileItem(
		itemJson(
			{
				error,
				fallback: fc.oneof(fc.record({ queueAttempts: fc.oneof(fc.nat(10), edgeNumber, hostile) }), hostile),
				x: hostile,
				plan: hostile,
				n: hostile,
				k: hostile,
			},
			hostile,
		),
	);
});

const cases = (configFromItem: boolean): fc.Arbitrary<Case> =>
	fc
		.record({
			routing: fc.constantFrom('default', 'custom'),
			drill: fc.constantFrom('rotate', 'list'),
			planFromItem: fc.boolean().map((b) => b && configFromItem),
			requeuesFromItem: fc.boolean().map((b) => b && configFromItem),
			keyFromItem: fc.boolean(),
			textFromItem: fc.boolean(),
			jsonFromItem: fc.boolean(),
		})
		.map((r) => ({
			parameters: {
				errorField: 'error',
				routing: r.routing,
				...(r.routing === 'custom'
					? { rules: { rule: [{ classes: ['timeout', 'auth'], strategies: 'cached, queue, degraded' }] } }
					: {}),
				drill: r.drill,
				...(r.drill === 'list' ? { drillStrategies: r.planFromItem ? fromItem('plan') : 'queue, human' } : {}),
				degradedText: r.textFromItem ? fromItem('x') : 'Sorry, later.',
				degradedJson: r.jsonFromItem ? fromItem('x') : '{"needsReview": true}',
				store: 'memory',
				options: {
					onMissingError: 'human',
					...(r.keyFromItem ? { cacheKey: fromItem('k'), cacheNamespace: 'fuzz' } : {}),
					...(r.requeuesFromItem ? { maxRequeues: fromItem('n'), queueBaseSeconds: fromItem('n') } : {}),
				},
			},
			configParameters: [
				...(r.planFromItem ? ['Drill Strategy List'] : []),
				...(r.requeuesFromItem ? ['Max Re-Queues', 'Queue Base Delay (Seconds)'] : []),
			],
		}));

const spec = (configFromItem: boolean) => ({
	node: 'Fallback Router',
	type: 'fallbackRouter',
	cases: cases(configFromItem),
	items,
	runs: RUNS / 2,
	outputCount: () => 4,
	checkItem: (item: INodeExecutionData, output: number) => {
		const f = own(item.json, 'fallback');
		if (own(f, 'strategy') !== OUTPUTS[output]) return `fallback.strategy is ${String(own(f, 'strategy'))}`;
		if (!CODES.has(own(f, 'code') as string)) return `fallback.code is ${String(own(f, 'code'))}`;
		if (typeof own(f, 'reason') !== 'string') return 'fallback.reason is not text';
		const retryAt = own(f, 'retryAt');
		if (output === 1 && (typeof retryAt !== 'string' || Number.isNaN(Date.parse(retryAt))))
			return `fallback.retryAt is ${String(retryAt)}`;
		return undefined;
	},
});

jest.setTimeout(FUZZ_TIMEOUT_MS);

afterAll(printSummary);

describe('Fallback Router on hostile items', () => {
	it('sends every item to exactly one of Cached / Queue / Human / Degraded with a documented code (fixed settings)', async () => {
		const result = await fuzz(spec(false), 'hostile error objects, fixed settings');
		expect(result.counterexample).toBeUndefined();
	});

	it('stops only with an error naming the setting and the item when settings come from the item', async () => {
		const result = await fuzz(spec(true), 'settings from item expressions');
		expect(result.counterexample).toBeUndefined();
	});

	it(`handled at least ${ITEMS_PER_RUN * 100} items`, () => {
		expect(itemsOf('Fallback Router')).toBeGreaterThanOrEqual(ITEMS_PER_RUN * 100);
	});
});
