import fc from 'fast-check';
import type { INodeExecutionData } from 'n8n-workflow';

import { hostileBatch, hostileItem, itemJson, FUZZ_TIMEOUT_MS, ITEMS_PER_RUN, RUNS } from './support/arbitraries';
import { own } from './support/invariants';
import { fromItem, fuzz, itemsOf, printSummary, type Case } from './support/run';

/** Every check once, on fields the items fill with good or hostile values. */
const RULES = [
	{ path: 'customer.id', check: 'notEmpty' },
	{ path: 'customer', check: 'exists' },
	{ path: 'total', check: 'min', value: 0 },
	{ path: 'total', check: 'max', value: 1e6, severity: 'scored' },
	{ path: 'total', check: 'type', value: 'number', severity: 'scored' },
	{ path: 'name', check: 'minLength', value: 2 },
	{ path: 'name', check: 'maxLength', value: 50, severity: 'scored' },
	{ path: 'name', check: 'regex', value: '/^[a-z ]+$/i', severity: 'scored' },
	{ path: 'language', check: 'oneOf', value: ['en', 'de', 1], severity: 'scored' },
	{ path: 'lines', check: 'minItems', value: 1, severity: 'scored' },
	{ path: 'lines', check: 'maxItems', value: 100, severity: 'scored' },
	{ path: 'date', check: 'date', severity: 'scored' },
	{ path: 'account.data', check: 'requiredIf', ifPath: 'account.id' },
	{ path: 'text', check: 'sections', sectionsIn: 'headings', sections: ['Summary', 'Parties'], severity: 'scored' },
	{ path: 'doc', check: 'sections', sectionsIn: 'keys', sections: ['a', 'b'], severity: 'scored' },
	{ path: 'text', check: 'textQuality', minChars: 5, maxBadPercent: 5, severity: 'scored' },
];

const SCHEMA = { type: 'object', properties: { total: { type: 'number' } }, required: ['customer'] };

const items = hostileBatch((hostile) =>
	hostileItem(
		itemJson(
			{
				customer: fc.oneof(fc.record({ id: fc.oneof(fc.string(), hostile) }), hostile),
				total: fc.oneof(fc.double(), hostile),
				name: fc.oneof(fc.string(), hostile),
				language: fc.oneof(fc.constantFrom('en', 'de', 'fr'), hostile),
				lines: fc.oneof(fc.array(hostile, { maxLength: 3 }), hostile),
				date: fc.oneof(fc.constantFrom('2024-05-01', 'yesterday'), hostile),
				account: fc.oneof(fc.record({ id: hostile, data: hostile }), hostile),
				text: fc.oneof(fc.constantFrom('# Summary\nok\n# Parties\nus', '\uFFFD\uFFFD\u0000'), hostile),
				doc: hostile,
				minScore: hostile,
				rules: hostile,
			},
			hostile,
		),
	),
);

const cases = (configFromItem: boolean): fc.Arbitrary<Case> =>
	fc
		.record({
			source: fc.constantFrom('editor', 'json'),
			schema: fc.boolean(),
			minScoreFromItem: fc.boolean().map((b) => b && configFromItem),
			rulesFromItem: fc.boolean().map((b) => b && configFromItem),
			/** a rule's value from the item: a setting too */
			valueFromItem: fc.boolean().map((b) => b && configFromItem),
		})
		.map((r) => {
			const rules = RULES.map((rule) =>
				r.valueFromItem && rule.check === 'oneOf' ? { ...rule, value: fromItem('language') } : rule,
			);
			return {
				parameters: {
					rulesSource: r.source,
					...(r.source === 'json'
						? { rulesJson: r.rulesFromItem ? fromItem('rules') : JSON.stringify(rules) }
						: {
								rules: {
									rule: rules.map((rule) => ({
										...rule,
										...(Array.isArray(rule.value) ? { value: JSON.stringify(rule.value) } : {}),
										...(rule.sections ? { sections: rule.sections.join(', ') } : {}),
									})),
								},
							}),
					minScore: r.minScoreFromItem ? fromItem('minScore') : 60,
					options: r.schema ? { jsonSchema: JSON.stringify(SCHEMA) } : {},
				},
				configParameters: r.minScoreFromItem || r.rulesFromItem || r.valueFromItem
					? ['Minimum Score (%)', 'Rules (JSON)', 'Rules', ...rules.map((_, i) => `Rule ${i + 1} `)]
					: [],
			};
		});

const spec = (configFromItem: boolean) => ({
	node: 'Completeness Check',
	type: 'completenessCheck',
	cases: cases(configFromItem),
	items,
	runs: RUNS / 2,
	outputCount: () => 2,
	checkItem: (item: INodeExecutionData, output: number) => {
		const c = own(item.json, 'completeness');
		const complete = own(c, 'complete');
		const score = own(c, 'score');
		if (complete !== (output === 0)) return `completeness.complete is ${String(complete)}`;
		if (typeof score !== 'number' || !(score >= 0 && score <= 100)) return `completeness.score is ${String(score)}`;
		if (!Array.isArray(own(c, 'failed'))) return 'completeness.failed is not a list';
		return undefined;
	},
});

jest.setTimeout(FUZZ_TIMEOUT_MS);

afterAll(printSummary);

describe('Completeness Check on hostile items', () => {
	it('sends every item to Complete or Incomplete with its score and failures (fixed rules)', async () => {
		const result = await fuzz(spec(false), 'hostile fields, fixed rules');
		expect(result.counterexample).toBeUndefined();
	});

	it('stops only with an error naming the rule or setting and the item when they come from the item', async () => {
		const result = await fuzz(spec(true), 'rules and score from item expressions');
		expect(result.counterexample).toBeUndefined();
	});

	it(`handled at least ${ITEMS_PER_RUN * 100} items`, () => {
		expect(itemsOf('Completeness Check')).toBeGreaterThanOrEqual(ITEMS_PER_RUN * 100);
	});
});
