import { NodeHelpers, type IDataObject, type INode } from 'n8n-workflow';

import { CompletenessCheck } from '../../nodes/CompletenessCheck/CompletenessCheck.node';
import { pairedIndexes, runNode } from './helpers';

const check = (parameters: IDataObject, items: IDataObject[]) =>
	runNode('completenessCheck', parameters as never, items);
const editorRules = (...rule: IDataObject[]) => ({ rulesSource: 'editor', rules: { rule } });

const contract = (sections: string[]) =>
	sections.map((s) => `## ${s}\n${s} text of the contract.`).join('\n\n');
const FIVE = ['Summary', 'Parties', 'Terms', 'Risks', 'Signatures'];

describe('Completeness Check node', () => {
	it('sends the document that arrives with three of five expected sections to Incomplete, naming the two missing', async () => {
		const { out, error } = await check(
			editorRules({
				path: 'text',
				check: 'sections',
				sectionsIn: 'headings',
				sections: FIVE.join(', '),
				severity: 'critical',
			}),
			[
				{ id: 'full', text: contract(FIVE) },
				{ id: 'partial', text: contract(['Summary', 'Terms', 'Risks']) },
			],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], [1]]);
		expect(out[1][0].json.completeness).toEqual({
			complete: false,
			score: 100,
			passed: [],
			failed: [
				{
					rule: 'sections text',
					path: 'text',
					reason: 'text misses 2 of 5 sections: Parties, Signatures',
					severity: 'critical',
				},
			],
		});
		expect(out[0][0].json).toMatchObject({
			id: 'full',
			completeness: { complete: true, passed: ['sections text'] },
		});
	});

	it('catches the account that is referenced but whose data is missing', async () => {
		const { out } = await check(
			editorRules({ path: 'account.data', check: 'requiredIf', ifPath: 'account.id' }),
			[
				{ query: 'balance?', account: { id: 'A-1', data: { balance: 10 } } },
				{ query: 'balance?', account: { id: 'A-2' } },
				{ query: 'opening hours?' },
			],
		);
		expect(pairedIndexes(out)).toEqual([[0, 2], [1]]);
		expect((out[1][0].json.completeness as IDataObject).failed).toEqual([
			expect.objectContaining({ reason: 'account.data is missing although account.id is present' }),
		]);
	});

	it('sends garbled extraction to Incomplete', async () => {
		const { out } = await check(
			editorRules({ path: 'text', check: 'textQuality', minChars: 20, maxBadPercent: 5 }),
			[
				{ text: 'Invoice 4711: total amount due 120.00 EUR by 1 June.' },
				{ text: '\uFFFD\uFFFDnv\uFFFDice 4\uFFFD11: t\uFFFDtal \u0003mount d\uFFFDe 1\uFFFD0.00' },
			],
		);
		expect(pairedIndexes(out)).toEqual([[0], [1]]);
	});

	it('applies rules from JSON, with scored rules deciding by the minimum score', async () => {
		const rulesJson = JSON.stringify([
			{ path: 'id', check: 'notEmpty' },
			{ path: 'email', check: 'regex', value: '^[^@]+@[^@]+$', severity: 'scored' },
			{ path: 'phone', check: 'exists', severity: 'scored' },
			{ path: 'country', check: 'oneOf', value: 'DE, FR', severity: 'scored' },
		]);
		const items = [
			{ id: 1, email: 'a@b.c', phone: '1', country: 'DE' }, // 100%
			{ id: 2, email: 'a@b.c', country: 'DE' }, // 66.7%
			{ id: 3, email: 'nope' }, // 0%
			{ email: 'a@b.c', phone: '1', country: 'DE' }, // critical fails
		];
		const { out } = await check({ rulesSource: 'json', rulesJson, minScore: 60 }, items);
		expect(pairedIndexes(out)).toEqual([
			[0, 1],
			[2, 3],
		]);
		expect(out[0][1].json.completeness).toMatchObject({ score: 66.7, complete: true });
	});

	it('validates the whole item against a JSON Schema', async () => {
		const jsonSchema = JSON.stringify({
			type: 'object',
			required: ['id', 'lines'],
			properties: { lines: { type: 'array', minItems: 1 } },
		});
		const { out } = await check({ ...editorRules(), options: { jsonSchema } }, [
			{ id: 1, lines: [{}] },
			{ id: 2, lines: [] },
			{ lines: [1] },
		]);
		expect(pairedIndexes(out)).toEqual([[0], [1, 2]]);
		expect((out[1][1].json.completeness as IDataObject).failed).toEqual([
			{ rule: 'JSON Schema', path: 'id', reason: 'is missing', severity: 'critical' },
		]);
	});

	it('stops with an error naming the rule when the rule set is wrong', async () => {
		const badRegex = await check(editorRules({ path: 'a', check: 'regex', value: '(' }), [
			{ a: 'x' },
		]);
		expect(badRegex.error?.message).toMatch(
			/^Rule 1 \("regex a"\): "value" is not a valid regular expression/,
		);
		const badJson = await check({ rulesSource: 'json', rulesJson: '[{"path": "a",' }, [{ a: 1 }]);
		expect(badJson.error?.message).toMatch(/"Rules \(JSON\)" is not valid JSON/);
		const unknown = await check(
			{ rulesSource: 'json', rulesJson: '[{"path": "a", "check": "exist"}]' },
			[{ a: 1 }],
		);
		expect(unknown.error?.message).toMatch(/^"Rules \(JSON\)": rule 1 \("exist a"\): unknown check "exist"/);
	});

	it('takes rule values from expressions per item', async () => {
		const { out } = await check(
			editorRules({ path: 'total', check: 'max', value: '={{ $json.limit }}' }),
			[
				{ total: 50, limit: 100 },
				{ total: 150, limit: 100 },
				{ total: 150, limit: 200 },
			],
		);
		expect(pairedIndexes(out)).toEqual([[0, 2], [1]]);
	});

	it('conserves every item with its pairedItem, and puts the result where asked', async () => {
		const items = Array.from({ length: 50 }, (_, i) => ({ i, name: i % 3 ? `n${i}` : '' }));
		const { out } = await check(
			{ ...editorRules({ path: 'name', check: 'notEmpty' }), options: { outputField: 'qa' } },
			items,
		);
		const [complete, incomplete] = pairedIndexes(out);
		expect([...complete, ...incomplete].sort((a, b) => a - b)).toEqual(items.map((_, i) => i));
		expect(incomplete).toEqual(items.filter((it) => !it.name).map((it) => it.i));
		for (const output of out)
			for (const item of output)
				expect(item.json.i).toBe((item.pairedItem as { item: number }).item);
		expect(out[0][0].json).toHaveProperty('qa.complete', true);
	});
});

describe('Completeness Check in the editor and with hostile items', () => {
	const description = new CompletenessCheck().description;

	it('a fresh node gets its defaults without an error marker, and asks for rules when run', async () => {
		const defaults = NodeHelpers.getNodeParameters(
			description.properties,
			{},
			true,
			false,
			null,
			null,
		)!;
		expect(defaults).toEqual({ rulesSource: 'editor', rules: {}, minScore: 80, options: {} });
		const node = { name: 'Completeness Check', typeVersion: 1, parameters: defaults } as INode;
		expect(
			NodeHelpers.getNodeParametersIssues(description.properties, node, description),
		).toBeNull();
		const { error } = await check(defaults, [{ a: 1 }]);
		expect(error?.message).toMatch(/^No rules: add a rule under "Rules"/);
	});

	it('lists the checks in reading order, not alphabetically', () => {
		const rule = (
			description.properties.find((p) => p.name === 'rules')!.options as never as Array<{
				values: Array<{ name: string; options?: Array<{ value: string }> }>;
			}>
		)[0];
		const checks = rule.values.find((v) => v.name === 'check')!.options!.map((o) => o.value);
		expect(checks.slice(0, 4)).toEqual(['exists', 'notEmpty', 'type', 'minLength']);
	});

	it('a webhook body cannot fail the execution: each item leaves once, on its documented output', async () => {
		const items = [
			{ lang: ['en'] },
			{ lang: { toString: 'en' } },
			{ lang: 'en', ts: 1714566600 },
			JSON.parse('{"__proto__": {"polluted": 1}, "lang": "de", "ts": "1714566600000"}'),
			{ lang: 'en', ts: 1e20 },
		];
		const before = JSON.stringify(items);
		const { out, error } = await check(
			editorRules(
				{ path: 'lang', check: 'oneOf', value: 'en, de' },
				{ path: 'ts', check: 'date', severity: 'scored' },
			),
			items,
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([
			[2, 3],
			[0, 1, 4],
		]);
		expect((out[1][0].json.completeness as IDataObject).failed).toEqual([
			expect.objectContaining({ reason: 'lang is a list of 1, not one of en, de' }),
			expect.objectContaining({ reason: 'ts is missing' }),
		]);
		expect(JSON.stringify(items)).toBe(before);
		expect(({} as IDataObject).polluted).toBeUndefined();
	});

	it('enforces a 2020-12 schema keyword and refuses an unknown one', async () => {
		const jsonSchema = JSON.stringify({ dependentRequired: { accountId: ['account'] } });
		const { out } = await check({ ...editorRules(), options: { jsonSchema } }, [
			{ accountId: 1, account: {} },
			{ accountId: 2 },
		]);
		expect(pairedIndexes(out)).toEqual([[0], [1]]);
		const typo = await check({ ...editorRules(), options: { jsonSchema: '{"requird": ["a"]}' } }, [
			{ a: 1 },
		]);
		expect(typo.error?.message).toMatch(
			/^"JSON Schema" is not a valid schema: strict mode: unknown keyword: "requird"/,
		);
	});
});

describe('Completeness Check settings from item expressions', () => {
	it('a minimum score or result field that is not a number or name is a configuration error naming it', async () => {
		const rules = editorRules({ path: 'a', check: 'exists' });
		const score = await check({ ...rules, minScore: '={{ $json.s }}' }, [{ a: 1, s: { x: 1 } }]);
		expect(score.error?.message).toBe('"Minimum Score (%)" must be a number from 0 to 100');
		const field = await check({ ...rules, options: { outputField: '={{ $json.f }}' } }, [
			{ a: 1, f: ['x'] },
		]);
		expect(field.error?.message).toBe('"Put Result in Field" must be a field name');
	});
});
