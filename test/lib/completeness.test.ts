import { compileRules, compileSchema, evaluate, type RuleInput } from '../../lib/completeness';

const run = (rule: RuleInput, item: unknown) =>
	evaluate(item, compileRules([rule]), 100).failed[0]?.reason;

describe('completeness checks', () => {
	it.each<[string, RuleInput, unknown, string | undefined]>([
		['exists: present', { path: 'a', check: 'exists' }, { a: 0 }, undefined],
		['exists: null is missing', { path: 'a', check: 'exists' }, { a: null }, 'a is missing'],
		['exists: absent', { path: 'a.b', check: 'exists' }, { a: {} }, 'a.b is missing'],
		['notEmpty: text', { path: 'a', check: 'notEmpty' }, { a: 'x' }, undefined],
		['notEmpty: blank text', { path: 'a', check: 'notEmpty' }, { a: '  ' }, 'a is empty'],
		['notEmpty: empty list', { path: 'a', check: 'notEmpty' }, { a: [] }, 'a is empty'],
		['notEmpty: empty object', { path: 'a', check: 'notEmpty' }, { a: {} }, 'a is empty'],
		['notEmpty: false is a value', { path: 'a', check: 'notEmpty' }, { a: false }, undefined],
		['type string', { path: 'a', check: 'type', value: 'string' }, { a: 'x' }, undefined],
		[
			'type number rejects text',
			{ path: 'a', check: 'type', value: 'number' },
			{ a: '1' },
			'a is string, expected number',
		],
		[
			'type number rejects NaN',
			{ path: 'a', check: 'type', value: 'number' },
			{ a: NaN },
			'a is NaN, expected number',
		],
		['type boolean', { path: 'a', check: 'type', value: 'boolean' }, { a: true }, undefined],
		['type array', { path: 'a', check: 'type', value: 'array' }, { a: [] }, undefined],
		[
			'type object rejects array',
			{ path: 'a', check: 'type', value: 'object' },
			{ a: [] },
			'a is array, expected object',
		],
		[
			'type date from ISO text',
			{ path: 'a', check: 'type', value: 'date' },
			{ a: '2024-05-01' },
			undefined,
		],
		[
			'type date rejects a number',
			{ path: 'a', check: 'type', value: 'date' },
			{ a: 5 },
			'a is number, expected date',
		],
		['minLength ok', { path: 'a', check: 'minLength', value: 3 }, { a: 'abc' }, undefined],
		[
			'minLength short',
			{ path: 'a', check: 'minLength', value: '3' },
			{ a: 'ab' },
			'a has 2 characters, min 3',
		],
		[
			'maxLength counts characters not bytes',
			{ path: 'a', check: 'maxLength', value: 2 },
			{ a: 'äö' },
			undefined,
		],
		[
			'maxLength long',
			{ path: 'a', check: 'maxLength', value: 2 },
			{ a: 'abc' },
			'a has 3 characters, max 2',
		],
		['min ok', { path: 'a', check: 'min', value: 0 }, { a: 0 }, undefined],
		['min below', { path: 'a', check: 'min', value: 0 }, { a: -1 }, 'a is -1, min 0'],
		['min reads numeric text', { path: 'a', check: 'min', value: 10 }, { a: '12.5' }, undefined],
		['max above', { path: 'a', check: 'max', value: 10 }, { a: 11 }, 'a is 11, max 10'],
		['max not a number', { path: 'a', check: 'max', value: 10 }, { a: 'ten' }, 'a is not a number'],
		[
			'regex match',
			{ path: 'a', check: 'regex', value: '^[A-Z]{2}\\d+$' },
			{ a: 'DE123' },
			undefined,
		],
		[
			'regex with flags',
			{ path: 'a', check: 'regex', value: '/^de\\d+$/i' },
			{ a: 'DE123' },
			undefined,
		],
		[
			'regex no match',
			{ path: 'a', check: 'regex', value: '^\\d+$' },
			{ a: 'x1' },
			'a does not match /^\\d+$/',
		],
		[
			'oneOf from text',
			{ path: 'a', check: 'oneOf', value: 'open, closed' },
			{ a: 'open' },
			undefined,
		],
		['oneOf from JSON', { path: 'a', check: 'oneOf', value: '[1, 2]' }, { a: 2 }, undefined],
		[
			'oneOf miss',
			{ path: 'a', check: 'oneOf', value: ['open'] },
			{ a: 'x' },
			'a is "x", not one of open',
		],
		['minItems', { path: 'a', check: 'minItems', value: 2 }, { a: [1] }, 'a has 1 items, min 2'],
		['maxItems', { path: 'a', check: 'maxItems', value: 1 }, { a: [1] }, undefined],
		[
			'minItems not a list',
			{ path: 'a', check: 'minItems', value: 1 },
			{ a: 'x' },
			'a is string, expected a list',
		],
		[
			'date parseable',
			{ path: 'a', check: 'date' },
			{ a: 'Wed, 01 May 2024 12:30:00 GMT' },
			undefined,
		],
		[
			'date garbage',
			{ path: 'a', check: 'date' },
			{ a: '31/31/2024' },
			'a is "31/31/2024", not a readable date',
		],
		['bracket paths', { path: 'rows[1].v', check: 'exists' }, { rows: [{}, { v: 1 }] }, undefined],
	])('%s', (_name, rule, item, reason) => {
		expect(run(rule, item)).toBe(reason);
	});

	describe('required if another field is present', () => {
		const rule: RuleInput = { path: 'account.data', check: 'requiredIf', ifPath: 'account.id' };
		it.each([
			['not referenced: passes', { account: {} }, undefined],
			['referenced with data: passes', { account: { id: 7, data: { name: 'A' } } }, undefined],
			[
				'referenced, data missing',
				{ account: { id: 7 } },
				'account.data is missing although account.id is present',
			],
			[
				'referenced, data empty',
				{ account: { id: 7, data: {} } },
				'account.data is empty although account.id is present',
			],
		])('%s', (_n, item, reason) => expect(run(rule, item)).toBe(reason));
	});

	describe('expected sections', () => {
		const five = ['Summary', 'Parties', 'Terms', 'Risks', 'Signatures'];
		it('names the missing sections among object keys', () => {
			expect(
				run(
					{ path: 'doc', check: 'sections', sections: five },
					{ doc: { summary: 'x', parties: 'y', terms: 'z', risks: '' } },
				),
			).toBe('doc misses 2 of 5 sections: Risks, Signatures');
		});
		it('finds headings in text: Markdown, numbered, bold, with colons', () => {
			const text = '# Summary\nblah\n2. Parties:\n**Terms**\nIV. Risks\nSignatures:\n';
			expect(
				run(
					{ path: 't', check: 'sections', sectionsIn: 'headings', sections: five.join(', ') },
					{ t: text },
				),
			).toBeUndefined();
			expect(
				run(
					{ path: 't', check: 'sections', sectionsIn: 'headings', sections: five.join('\n') },
					{ t: '# Summary\n## Terms\n' },
				),
			).toBe('t misses 3 of 5 sections: Parties, Risks, Signatures');
		});
		it('does not take a word inside a paragraph for a heading', () => {
			expect(
				run(
					{ path: 't', check: 'sections', sectionsIn: 'headings', sections: ['Risks'] },
					{ t: 'There are no Risks here.' },
				),
			).toBe('t misses 1 of 1 sections: Risks');
		});
	});

	describe('text quality', () => {
		const rule: RuleInput = { path: 't', check: 'textQuality', minChars: 20, maxBadPercent: 5 };
		it('passes clean text', () =>
			expect(run(rule, { t: 'A perfectly readable paragraph of text.' })).toBeUndefined());
		it('fails broken PDF extraction', () => {
			expect(run(rule, { t: 'Inv\uFFFDice t\uFFFDtal \u0001\u0002 am\uFFFDunt du\uFFFD' })).toMatch(
				/^t has 2\d\.\d% replacement or control characters, max 5%$/,
			);
		});
		it('fails text that is too short', () =>
			expect(run(rule, { t: 'short' })).toBe('t has 5 characters, min 20'));
		it('does not count new lines and tabs as bad', () =>
			expect(run(rule, { t: 'line one\n\tline two\r\nline three' })).toBeUndefined());
	});
});

describe('scoring', () => {
	const rules = compileRules([
		{ path: 'id', check: 'exists' },
		{ path: 'a', check: 'exists', severity: 'scored' },
		{ path: 'b', check: 'exists', severity: 'scored' },
		{ path: 'c', check: 'exists', severity: 'scored', name: 'has c' },
		{ path: 'd', check: 'exists', severity: 'scored' },
	]);

	it('is complete when every critical rule passes and the score reaches the minimum', () => {
		expect(evaluate({ id: 1, a: 1, b: 1, c: 1 }, rules, 75)).toEqual({
			complete: true,
			score: 75,
			passed: ['exists id', 'exists a', 'exists b', 'has c'],
			failed: [{ rule: 'exists d', path: 'd', reason: 'd is missing', severity: 'scored' }],
		});
		expect(evaluate({ id: 1, a: 1, b: 1 }, rules, 75)).toMatchObject({
			complete: false,
			score: 50,
		});
	});

	it('is incomplete when a critical rule fails, whatever the score', () => {
		expect(evaluate({ a: 1, b: 1, c: 1, d: 1 }, rules, 0)).toMatchObject({
			complete: false,
			score: 100,
		});
	});

	it('scores 100 with no scored rules', () => {
		expect(evaluate({ id: 1 }, compileRules([{ path: 'id', check: 'exists' }]), 100).score).toBe(
			100,
		);
	});
});

describe('a wrong rule set names the rule', () => {
	it.each([
		[{ path: 'a', check: 'nonEmpty' }, /^Rule 1 \("nonEmpty a"\): unknown check "nonEmpty"/],
		[
			{ path: 'a', check: 'regex', value: '([a-z' },
			/^Rule 1 \("regex a"\): "value" is not a valid regular expression/,
		],
		[{ path: '', check: 'exists' }, /^Rule 1 \("exists"\): "path" is empty/],
		[{ path: 'a..b', check: 'exists' }, /^Rule 1 \("exists a..b"\): path "a..b": empty segment/],
		[{ path: 'a', check: 'min', value: 'ten' }, /"value" must be a number, not "ten"/],
		[{ path: 'a', check: 'type', value: 'int' }, /type must be one of string, number/],
		[{ path: 'a', check: 'requiredIf' }, /"if path" is empty/],
		[{ path: 'a', check: 'sections', sections: '' }, /"sections" names no section/],
		[{ path: 'a', check: 'oneOf', value: '[1,' }, /looks like JSON but is not a valid array/],
		[{ path: 'a', check: 'exists', severity: 'fatal' }, /severity must be "critical" or "scored"/],
		[{ path: 'a', check: 'textQuality', maxBadPercent: 150 }, /between 0 and 100/],
		['not an object', /^Rule 1: must be an object/],
	])('%j', (rule, message) => {
		expect(() => compileRules([{ path: 'ok', check: 'exists' }, rule].slice(1))).toThrow(message);
	});

	it('counts rules from 1 in the message', () => {
		expect(() =>
			compileRules([
				{ path: 'a', check: 'exists' },
				{ path: 'b', check: 'bogus', name: 'my rule' },
			]),
		).toThrow(/^Rule 2 \("my rule"\)/);
	});

	it('rejects rules that are not a list', () => {
		expect(() => compileRules({})).toThrow(/must be a list/);
	});
});

describe('JSON Schema', () => {
	const schema = compileSchema(
		'{"type":"object","required":["id"],"properties":{"total":{"type":"number","minimum":0},"lines":{"type":"array","items":{"required":["sku"]}}}}',
	);
	it('reports each violation as a critical failure with its path', () => {
		const result = evaluate({ total: -1, lines: [{ sku: 'a' }, {}] }, [], 100, schema);
		expect(result.complete).toBe(false);
		expect(result.failed).toEqual(
			expect.arrayContaining([
				{ rule: 'JSON Schema', path: 'id', reason: 'is missing', severity: 'critical' },
				{ rule: 'JSON Schema', path: 'total', reason: 'must be >= 0', severity: 'critical' },
				{ rule: 'JSON Schema', path: 'lines.1.sku', reason: 'is missing', severity: 'critical' },
			]),
		);
		expect(evaluate({ id: 1, total: 3 }, [], 100, schema)).toMatchObject({
			complete: true,
			passed: ['JSON Schema'],
		});
	});

	it('rejects a schema that is not JSON or not a schema', () => {
		expect(() => compileSchema('{nope')).toThrow(/"JSON Schema" is not valid JSON/);
		expect(() => compileSchema({ type: 'strange' })).toThrow(/"JSON Schema" is not a valid schema/);
	});
});

describe('hostile and huge items', () => {
	it('never walks into prototypes', () => {
		const rules = compileRules([
			{ path: '__proto__.polluted', check: 'exists' },
			{ path: 'constructor.name', check: 'exists' },
		]);
		const result = evaluate(JSON.parse('{"__proto__": {"polluted": true}}'), rules, 100);
		expect(result.failed.map((f) => f.reason)).toEqual([
			'__proto__.polluted is missing',
			'constructor.name is missing',
		]);
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});

	it('handles a deeply nested and a very large item without a crash', () => {
		let deep: Record<string, unknown> = { leaf: 'x' };
		for (let i = 0; i < 10_000; i++) deep = { n: deep };
		const path = `${'n.'.repeat(10_000)}leaf`;
		expect(evaluate(deep, compileRules([{ path, check: 'notEmpty' }]), 100).complete).toBe(true);
		const big = {
			text: 'word '.repeat(2_000_000),
			rows: Array.from({ length: 100_000 }, (_, i) => ({ i })),
		};
		const result = evaluate(
			big,
			compileRules([
				{ path: 'text', check: 'textQuality', minChars: 10 },
				{ path: 'rows', check: 'maxItems', value: 50_000 },
			]),
			100,
		);
		expect(result.failed.map((f) => f.reason)).toEqual(['rows has 100000 items, max 50000']);
	});
});

describe('Date Parseable reads what the Freshness Check reads', () => {
	const T = Date.UTC(2024, 4, 1, 12, 30);
	it.each<[string, unknown]>([
		['epoch seconds', T / 1000],
		['epoch milliseconds', T],
		['epoch microseconds', T * 1000],
		['numeric text', String(T / 1000)],
		['ISO text', '2024-05-01T12:30:00Z'],
		['a Date', new Date(T)],
	])('%s', (_name, a) => expect(run({ path: 'a', check: 'date' }, { a })).toBeUndefined());

	it.each<[unknown, string]>([
		[1e20, 'a is 100000000000000000000, too large for an epoch time in any unit'],
		[true, 'a is a boolean, not a date'],
		[['2024-05-01'], 'a is a list, not a date'],
	])('%p is not a date', (a, reason) =>
		expect(run({ path: 'a', check: 'date' }, { a })).toBe(reason),
	);
});

describe('One Of matches only text, numbers and booleans', () => {
	const rule: RuleInput = { path: 'lang', check: 'oneOf', value: 'en, de' };
	it('a list holding an allowed value is not one of them', () =>
		expect(run(rule, { lang: ['en'] })).toBe('lang is a list of 1, not one of en, de'));
	it('an object with its own toString fails the rule instead of crashing', () => {
		expect(run(rule, { lang: { toString: 'en' } })).toBe('lang is an object, not one of en, de');
		const own = {
			toString() {
				throw new TypeError('boom');
			},
		};
		expect(run(rule, { lang: own })).toBe('lang is an object, not one of en, de');
	});
	it('numbers and booleans match their text', () => {
		expect(run({ path: 'n', check: 'oneOf', value: '1, 2' }, { n: 2 })).toBeUndefined();
		expect(run({ path: 'b', check: 'oneOf', value: [true] }, { b: true })).toBeUndefined();
		expect(run({ path: 'n', check: 'oneOf', value: '1' }, { n: NaN })).toBe(
			'n is NaN, not one of 1',
		);
	});
	it('a list of allowed values holding an object is a configuration error', () =>
		expect(() => compileRules([{ path: 'a', check: 'oneOf', value: [{}] }])).toThrow(
			/"value": an object is not text, a number or true\/false/,
		));
});

describe('headings name a section when they start with its name as whole words', () => {
	const rule = (sections: string[]): RuleInput => ({
		path: 't',
		check: 'sections',
		sectionsIn: 'headings',
		sections,
	});
	it('"## Terms and Conditions" and "3. Terms & Conditions:" are the section Terms', () => {
		expect(run(rule(['Terms']), { t: '## Terms and Conditions\ntext' })).toBeUndefined();
		expect(run(rule(['Terms']), { t: '3. Terms & Conditions:\ntext' })).toBeUndefined();
		expect(run(rule(['terms and conditions']), { t: '# TERMS AND CONDITIONS' })).toBeUndefined();
	});
	it('"Termsheet" is not the section Terms, nor is "Terms" the section "Terms and Conditions"', () => {
		expect(run(rule(['Terms']), { t: '# Termsheet' })).toBe('t misses 1 of 1 sections: Terms');
		expect(run(rule(['Terms and Conditions']), { t: '# Terms' })).toBe(
			't misses 1 of 1 sections: Terms and Conditions',
		);
	});
});

describe('JSON Schema drafts', () => {
	const failures = (schema: object, item: unknown) =>
		evaluate(item, [], 100, compileSchema(schema)).failed.map((f) => `${f.path}: ${f.reason}`);

	it.each([
		['https://json-schema.org/draft/2019-09/schema'],
		['https://json-schema.org/draft/2020-12/schema'],
		['http://json-schema.org/draft-07/schema#'],
	])('compiles a schema declaring %s', ($schema) => {
		expect(failures({ $schema, required: ['id'] }, {})).toEqual(['id: is missing']);
	});

	it('enforces 2019-09/2020-12 keywords without $schema (2020-12 is the default)', () => {
		expect(failures({ dependentRequired: { a: ['b'] } }, { a: 1 })).toEqual([
			'b: is missing although a is present',
		]);
		expect(
			failures({ properties: { a: {} }, unevaluatedProperties: false }, { a: 1, extra: 2 }),
		).toEqual(['extra: is not allowed here']);
	});

	it('refuses an unknown keyword, format or $schema, naming the parameter', () => {
		expect(() => compileSchema({ requierd: ['id'] })).toThrow(
			/^"JSON Schema" is not a valid schema: strict mode: unknown keyword: "requierd"/,
		);
		expect(() => compileSchema({ format: 'credit-card' })).toThrow(/unknown format "credit-card"/);
		expect(() => compileSchema({ $schema: 'http://json-schema.org/draft-04/schema#' })).toThrow(
			/^"JSON Schema": \$schema "http:\/\/json-schema.org\/draft-04\/schema#" is not supported/,
		);
	});

	it('checks the common formats', () => {
		const schema = { properties: { e: { format: 'email' }, d: { format: 'date-time' } } };
		expect(failures(schema, { e: 'a@b.de', d: '2024-05-01T12:30:00Z' })).toEqual([]);
		expect(failures(schema, { e: 'nope', d: '2024-05-01' })).toEqual([
			'e: must match format "email"',
			'd: must match format "date-time"',
		]);
	});

	it('compiles the same $id again (per-item expressions) and lists at most 50 violations', () => {
		const schema = { $id: 'https://example.com/item', items: { type: 'number' } };
		compileSchema(schema);
		const item = Array.from({ length: 80 }, () => 'x');
		const failed = evaluate(item, [], 100, compileSchema({ ...schema })).failed;
		expect(failed).toHaveLength(51);
		expect(failed[50].reason).toBe('and 30 more violations');
	});

	it('a recursive schema on a very deep item is a failure, not a crash', () => {
		let deep: Record<string, unknown> = {};
		for (let i = 0; i < 100_000; i++) deep = { n: deep };
		const schema = compileSchema({ properties: { n: { $ref: '#' } } });
		expect(evaluate(deep, [], 100, schema).failed[0].reason).toMatch(/^could not be checked/);
	});
});

describe('no item value throws out of a rule', () => {
	const hostile: unknown[] = [
		1e308,
		-0,
		NaN,
		Infinity,
		2 ** 53 + 1,
		'\uD800',
		'x'.repeat(1_000_000),
		new Date(NaN),
		new Date(0),
		[],
		[[[]]],
		{ toString: 'x', valueOf: 'y', toJSON: 'z' },
		{
			toString() {
				throw new Error('boom');
			},
			toJSON() {
				throw new Error('boom');
			},
		},
		JSON.parse('{"__proto__": {"x": 1}}'),
		Object.create(null),
		Buffer.from('binary'),
		12n,
	];
	const rules = compileRules([
		{ path: 'v', check: 'exists' },
		{ path: 'v', check: 'notEmpty' },
		...['string', 'number', 'boolean', 'array', 'object', 'date'].map((value) => ({
			path: 'v',
			check: 'type',
			value,
		})),
		{ path: 'v', check: 'minLength', value: 1 },
		{ path: 'v', check: 'max', value: 1 },
		{ path: 'v', check: 'regex', value: 'x' },
		{ path: 'v', check: 'oneOf', value: 'x' },
		{ path: 'v', check: 'maxItems', value: 1 },
		{ path: 'v', check: 'date' },
		{ path: 'v', check: 'requiredIf', ifPath: 'v' },
		{ path: 'v', check: 'sections', sections: 'x', sectionsIn: 'keys' },
		{ path: 'v', check: 'sections', sections: 'x', sectionsIn: 'headings' },
		{ path: 'v', check: 'textQuality', minChars: 1 },
	]);
	const schema = compileSchema({ properties: { v: { type: 'string', minLength: 2 } } });
	it.each(hostile.map((v, i) => [i, v]))('hostile value #%i', (_i, v) => {
		const result = evaluate({ v }, rules, 50, schema);
		expect(result.passed.length + result.failed.length).toBeGreaterThanOrEqual(rules.length);
		for (const f of result.failed) expect(f.reason.length).toBeLessThan(200);
		expect(Object.prototype).not.toHaveProperty('x');
	});

	it('a Date is not empty', () =>
		expect(run({ path: 'd', check: 'notEmpty' }, { d: new Date(0) })).toBeUndefined());
});
