import fc from 'fast-check';

import type { INodeExecutionData } from 'n8n-workflow';

import { hostileBatch, hostileItem, itemJson, FUZZ_TIMEOUT_MS, ITEMS_PER_RUN, RUNS } from './support/arbitraries';
import { own } from './support/invariants';
import { fromItem, fuzz, itemsOf, printSummary, type Case } from './support/run';

const OUTPUTS = ['fresh', 'warn', 'stale'];
const REASONS = new Set([
	'within_thresholds',
	'warn_after_exceeded',
	'error_after_exceeded',
	'missing_timestamp',
	'invalid_timestamp',
	'future_timestamp',
]);

const items = hostileBatch((hostile) => {
	/** Well-formed timestamps around now, and hostile values in their place. */
	const timestamp = fc.oneof(
		fc.integer({ min: -5 * 86_400, max: 86_400 }).map((s) => new Date(Date.now() + s * 1000).toISOString()),
		fc.integer({ min: -5 * 86_400, max: 86_400 }).map((s) => Math.round(Date.now() / 1000) + s),
		hostile,
	);
	return hostileItem(
		itemJson(
			{
				updatedAt: timestamp,
				meta: fc.oneof(timestamp.map((t) => ({ indexed_at: t })), hostile),
				n: hostile,
				ref: hostile,
				zone: hostile,
			},
			hostile,
		),
	);
});

/** configFromItem: settings read from the item by expressions too (they may stop the node, naming themselves). */
const cases = (configFromItem: boolean): fc.Arbitrary<Case> => fc
	.record({
		mode: fc.constantFrom('item', 'oldest', 'newest'),
		source: fc.constantFrom('field', 'field', 'expression'),
		field: fc.constantFrom('updatedAt', 'meta.indexed_at', 'meta["indexed_at"]'),
		format: fc.constantFrom('auto', 'auto', 'iso', 'epochSeconds', 'epochMillis', 'sql', 'http', 'rfc2822', 'custom'),
		warnFromItem: fc.boolean().map((b) => b && configFromItem),
		skewFromItem: fc.boolean().map((b) => b && configFromItem),
		zoneFromItem: fc.boolean().map((b) => b && configFromItem),
		refFromItem: fc.boolean().map((b) => b && configFromItem),
	})
	.map((r) => {
		const configParameters = ['Warn After', 'Warn After Unit', 'Error After', 'Custom Format'];
		if (r.skewFromItem) configParameters.push('Allowed Clock Skew (Seconds)');
		if (r.zoneFromItem) configParameters.push('Default Time Zone');
		if (r.refFromItem) configParameters.push('Reference Time');
		return {
			parameters: {
				mode: r.mode,
				source: r.source,
				...(r.source === 'field' ? { field: r.field } : { value: fromItem('updatedAt') }),
				format: r.format,
				customFormat: 'dd.MM.yyyy HH:mm',
				warnAfter: r.warnFromItem ? fromItem('n') : 1,
				warnAfterUnit: 'day',
				errorAfter: 3,
				errorAfterUnit: 'day',
				options: {
					...(r.skewFromItem ? { clockSkewSeconds: fromItem('n') } : {}),
					...(r.zoneFromItem ? { defaultZone: fromItem('zone') } : {}),
					...(r.refFromItem ? { referenceTime: fromItem('ref') } : {}),
				},
			},
			configParameters: r.warnFromItem || r.skewFromItem || r.zoneFromItem || r.refFromItem ? configParameters : [],
		};
	});

const spec = (configFromItem: boolean) => ({
	node: 'Freshness Check',
	type: 'freshnessCheck',
	cases: cases(configFromItem),
	items,
	runs: RUNS / 2,
	outputCount: () => 3,
	checkItem: (item: INodeExecutionData, output: number) => {
		const f = own(item.json, 'freshness');
		const status = own(f, 'status');
		const reason = own(f, 'reason');
		if (status !== OUTPUTS[output]) return `freshness.status is ${String(status)}`;
		if (!REASONS.has(reason as string)) return `freshness.reason is ${String(reason)}`;
		return undefined;
	},
});

jest.setTimeout(FUZZ_TIMEOUT_MS);

afterAll(printSummary);

describe('Freshness Check on hostile items', () => {
	it('sends every item to exactly one of Fresh / Warn / Stale with a documented reason (fixed settings)', async () => {
		const result = await fuzz(spec(false), 'hostile timestamps, fixed settings');
		expect(result.counterexample).toBeUndefined();
	});

	it('stops only with an error naming the setting and the item when settings come from the item', async () => {
		const result = await fuzz(spec(true), 'settings from item expressions');
		expect(result.counterexample).toBeUndefined();
	});

	it(`handled at least ${ITEMS_PER_RUN * 100} items`, () => {
		expect(itemsOf('Freshness Check')).toBeGreaterThanOrEqual(ITEMS_PER_RUN * 100);
	});
});
