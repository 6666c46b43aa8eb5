import {
	classify,
	contextWindow,
	countInputTokens,
	finishText,
	fromSchema,
	pickTool,
	toolArguments,
	toolResultsAnswer,
} from '../../simulator/answers';

describe('deterministic answers', () => {
	it('classifies by keywords, the same way every time', () => {
		const text = 'The invoice payment is late and I am disappointed';
		expect(classify(text)).toEqual(classify(text));
		expect(classify(text)).toMatchObject({
			category: 'invoice',
			sentiment: 'negative',
			language: 'en',
		});
		expect(classify('I need help with my login').category).toBe('support');
		expect(classify('Please review the contract renewal').category).toBe('contract');
		expect(classify('Lovely weather').category).toBe('other');
		const { confidence } = classify(text);
		expect(confidence).toBeGreaterThanOrEqual(0.6);
		expect(confidence).toBeLessThan(1);
	});

	it('counts about four characters a token plus three a message', () => {
		expect(countInputTokens(['abcd', 'abcdefgh'])).toBe(1 + 3 + 2 + 3);
	});

	it('gives small models a tiny context window', () => {
		expect(contextWindow('sim-small')).toBe(256);
		expect(contextWindow('sim-large')).toBe(1_000_000);
		expect(contextWindow('gpt-4o')).toBe(128_000);
	});

	it('fills a JSON Schema from the classification', () => {
		const schema = {
			type: 'object',
			properties: {
				category: { type: 'string', enum: ['contract', 'invoice', 'other'] },
				confidence: { type: 'number', minimum: 0, maximum: 1 },
				priority: { type: 'integer', minimum: 1, maximum: 5 },
				tags: { type: 'array', items: { type: 'string' }, minItems: 2 },
				when: { type: 'string', format: 'date-time' },
				nested: { type: 'object', properties: { sentiment: { type: 'string' } } },
				maybe: { anyOf: [{ type: 'boolean' }, { type: 'null' }] },
			},
			required: ['category'],
		};
		expect(fromSchema(schema, classify('Pay this invoice'))).toEqual({
			category: 'invoice',
			confidence: classify('Pay this invoice').confidence,
			priority: 1,
			tags: ['sim tags', 'sim tags'],
			when: '2024-01-01T00:00:00.000Z',
			nested: { sentiment: 'neutral' },
			maybe: true,
		});
	});

	it('applies stop sequences and max tokens like the APIs', () => {
		expect(finishText('one two three', undefined, ['two'])).toEqual({
			text: 'one ',
			reason: 'stop',
			stopSequence: 'two',
		});
		expect(finishText('a'.repeat(40), 5, [])).toEqual({ text: 'a'.repeat(20), reason: 'length' });
		expect(finishText('short', 5, [])).toEqual({ text: 'short', reason: 'end' });
	});
});

describe('deterministic tool calls', () => {
	const tools = [{ name: 'search' }, { name: 'search_web' }, { name: 'get-weather' }];

	it('calls the forced tool, else the one the prompt names (the longest), else the first', () => {
		expect(pickTool(tools, 'please SEARCH_WEB for it').name).toBe('search_web');
		expect(pickTool(tools, 'search for it').name).toBe('search');
		expect(pickTool(tools, 'get weather in Oslo').name).toBe('get-weather');
		expect(pickTool(tools, 'nothing named').name).toBe('search');
		expect(pickTool(tools, 'search_web', 'get-weather').name).toBe('get-weather');
	});

	it('fills the arguments from the schema: required first, strings the prompt, numbers 1, booleans true', () => {
		const schema = {
			type: 'object',
			properties: {
				limit: { type: 'integer', minimum: 5 },
				exact: { type: 'boolean' },
				query: { type: 'string' },
				lang: { enum: ['de', 'en'] },
				tags: { type: 'array', items: { type: 'string' } },
				filter: { type: 'object', properties: { score: { type: 'number', maximum: 0.5 } } },
				maybe: { anyOf: [{ type: 'null' }, { type: 'string' }] },
			},
			required: ['query', 'id'],
		};
		const args = toolArguments(schema, 'find en docs');
		expect(Object.keys(args).slice(0, 2)).toEqual(['query', 'id']);
		expect(args).toEqual({
			query: 'find en docs',
			id: 'find en docs',
			limit: 5,
			exact: true,
			lang: 'en',
			tags: ['find en docs'],
			filter: { score: 0.5 },
			maybe: 'find en docs',
		});
		expect(toolArguments({ type: 'object' }, 'hi')).toEqual({ input: 'hi' });
		expect(toolArguments(undefined, 'hi')).toEqual({ input: 'hi' });
	});

	it('answers tool results word for word, naming the tool', () => {
		expect(
			toolResultsAnswer([
				{ name: 'a', content: '42' },
				{ name: 'b', content: 'down', isError: true },
			]),
		).toBe('According to a: 42\nb failed: down');
	});
});
