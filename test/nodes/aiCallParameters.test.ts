/**
 * AI Call's parameters as the n8n editor reads them (order, what is shown when, a fresh node,
 * the canvas subtitle, the codex the node creator searches), and what the parameters send.
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import {
	NodeHelpers,
	Workflow,
	type IDataObject,
	type INode,
	type INodeParameters,
	type INodeProperties,
	type INodeType,
	type INodeTypes,
} from 'n8n-workflow';

import { AiCall } from '../../nodes/AiCall/AiCall.node';
import { text } from '../../nodes/AiCall/settings';
import { startSimulator, type Simulator } from '../../simulator';
import { pairedIndexes, runNode } from './helpers';

const description = new AiCall().description;
const props = description.properties;

/** The parameters the editor shows for these values, in order (n8n-workflow's own display rule). */
function shown(values: INodeParameters): string[] {
	const full = NodeHelpers.getNodeParameters(props, values, true, false, null, description)!;
	return props
		.filter((p) => NodeHelpers.displayParameter(full, p, null, description, full))
		.map((p) => p.name);
}
/** The options "Add Option" offers for these values. */
function offeredOptions(values: INodeParameters): string[] {
	const full = NodeHelpers.getNodeParameters(props, values, true, false, null, description)!;
	const options = props.find((p) => p.name === 'options')!.options as INodeProperties[];
	const inCollection = (full.options ?? {}) as INodeParameters;
	return options
		.filter((o) => NodeHelpers.displayParameter(inCollection, o, null, description, full))
		.map((o) => o.name);
}

describe('AI Call in the editor: order and what is shown', () => {
	it('draws the credentials at the top: no credential names a parameter the editor places them above', () => {
		// n8n's ParameterInputList draws all credentials above the last shown parameter whose name
		// appears in a credential's displayOptions.show; "/name" (the root) does not count there.
		for (const credential of description.credentials ?? []) {
			for (const key of Object.keys(credential.displayOptions?.show ?? {})) {
				expect(props.map((p) => p.name)).not.toContain(key);
			}
		}
	});

	it('shows the fallback credential and the store credentials only when they are used', () => {
		const active = (values: INodeParameters) => {
			const full = NodeHelpers.getNodeParameters(props, values, true, false, null, description)!;
			return (description.credentials ?? [])
				.filter((c) => NodeHelpers.displayParameter(full, c, null, description, full))
				.map((c) => c.name);
		};
		expect(active({})).toEqual(['aiServiceApi']);
		expect(active({ useFallbackCredential: true })).toEqual([
			'aiServiceApi',
			'aiServiceFallbackApi',
		]);
		expect(active({ circuitBreaker: true, store: 'redis' })).toEqual(['aiServiceApi', 'redis']);
		// the usage ledger (on by default) keeps its records in the store
		expect(active({ store: 'redis' })).toEqual(['aiServiceApi', 'redis']);
		// a store left on redis while nothing uses it asks for no Redis credential
		expect(active({ store: 'redis', usageLedger: false })).toEqual(['aiServiceApi']);
	});

	it('puts what every user sets first and shows no Store while nothing uses one', () => {
		const fresh = shown({});
		expect(fresh.slice(-3)).toEqual(['store', 'sqlitePath', 'options']); // the usage ledger is on
		expect(shown({ usageLedger: false })).toEqual([
			'model',
			'promptType',
			'systemPrompt',
			'userPrompt',
			'responseFormat',
			'timeoutPreset',
			'fallbacks',
			'useFallbackCredential',
			'responseCache',
			'keepLastGood',
			'circuitBreaker',
			'sharedLimit',
			'budgets',
			'usageLedger',
			'options',
		]);
	});

	it.each([
		[{ responseCache: 'exact' }],
		[{ responseCache: 'key' }],
		[{ keepLastGood: true }],
		[{ circuitBreaker: true }],
		[{ circuitBreaker: true, keepLastGood: true, responseCache: 'exact' }],
		[{ sharedLimit: true }],
		[{ sharedLimit: true, keepLastGood: true }],
		[{ usageLedger: true }],
		[{ usageLedger: true, circuitBreaker: true }],
	])('shows exactly one Store (and its file) when a feature uses it: %j', (values) => {
		const names = shown(values);
		expect(names.filter((n) => n === 'store')).toHaveLength(1);
		expect(names.slice(-3)).toEqual(['store', 'sqlitePath', 'options']);
	});

	it('orders the timeouts from fastest to slowest, then Custom', () => {
		const timeout = props.find((p) => p.name === 'timeoutPreset')!;
		expect((timeout.options as Array<{ value: string }>).map((o) => o.value)).toEqual([
			'realtime',
			'interactive',
			'batch',
			'custom',
		]);
	});

	it('offers options in groups, and breaker, cache and drill settings only when they apply', () => {
		const base = offeredOptions({});
		expect(base.slice(0, 12)).toEqual([
			'temperature',
			'maxTokens',
			'stop',
			'outputMode',
			'outputField',
			'maxRetries',
			'baseDelayMs',
			'maxDelayMs',
			'totalTimeoutMs',
			'maxConcurrency',
			'requestsPerMinute',
			'budgetUsd',
		]);
		expect(base).not.toContain('breakerCooldownSeconds');
		expect(base).not.toContain('cacheTtlSeconds');
		expect(base).not.toContain('lastGoodRetentionHours');
		expect(base).not.toContain('simulateClass');
		expect(base).toContain('simulate');

		expect(offeredOptions({ circuitBreaker: true })).toEqual(
			expect.arrayContaining(['breakerName', 'breakerCooldownSeconds', 'breakerWindowSeconds']),
		);
		expect(offeredOptions({ responseCache: 'exact' })).toEqual(
			expect.arrayContaining(['cacheNamespace', 'cacheTtlSeconds', 'forceRefresh']),
		);
		const lastGood = offeredOptions({ keepLastGood: true });
		expect(lastGood).toEqual(expect.arrayContaining(['cacheNamespace', 'lastGoodRetentionHours']));
		expect(lastGood).not.toContain('cacheTtlSeconds');
		expect(offeredOptions({ options: { simulate: 'percent' } })).toEqual(
			expect.arrayContaining(['simulateClass', 'simulatePercent']),
		);
		expect(offeredOptions({ options: { simulate: 'percent' } })).not.toContain('simulateWhen');
	});

	it('keeps breaker settings out of a run while the breaker is off', () => {
		const values = { options: { breakerCooldownSeconds: 5, maxRetries: 1 } };
		const off = NodeHelpers.getNodeParameters(props, values, true, false, null, description)!;
		expect(off.options).toEqual({ maxRetries: 1 });
		const on = NodeHelpers.getNodeParameters(
			props,
			{ ...values, circuitBreaker: true },
			true,
			false,
			null,
			description,
		)!;
		expect(on.options).toEqual({ maxRetries: 1, breakerCooldownSeconds: 5 });
	});

	it('a fresh node has every required value set: n8n reports no parameter issue', () => {
		const parameters = NodeHelpers.getNodeParameters(props, {}, true, false, null, description)!;
		expect(parameters.model).toEqual({ __rl: true, mode: 'list', value: 'gpt-4o-mini' });
		expect(parameters.userPrompt).toBe('={{ $json.text }}');
		const node: INode = {
			id: '1',
			name: 'AI Call',
			type: 'n8n-nodes-ai-patterns.aiCall',
			typeVersion: 1,
			position: [0, 0],
			parameters,
		};
		expect(NodeHelpers.getNodeParametersIssues(props, node, description)).toBeNull();
		// while an emptied model is flagged, as n8n flags a required field
		const empty = {
			...node,
			parameters: { ...parameters, model: { __rl: true, mode: 'id', value: '' } },
		};
		expect(
			NodeHelpers.getNodeParametersIssues(props, empty, description)?.parameters,
		).toHaveProperty('model');
	});
});

describe('AI Call on the canvas: the subtitle', () => {
	const nodeTypes = {
		getByName: () => new AiCall(),
		getByNameAndVersion: () => new AiCall(),
		getKnownTypes: () => ({}),
	} as unknown as INodeTypes;
	/** What the editor shows under the node (it evaluates the subtitle like this, and shows nothing on a throw). */
	const subtitle = (parameters: INodeParameters) => {
		const node: INode = {
			id: '1',
			name: 'AI',
			type: 'n8n-nodes-ai-patterns.aiCall',
			typeVersion: 1,
			position: [0, 0],
			parameters,
		};
		const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
		return workflow.expression.getSimpleParameterValue(
			workflow.getNode('AI')!,
			description.subtitle!,
			'internal',
			{},
			undefined,
			'[empty]',
		);
	};

	it.each([
		[{ model: { __rl: true, mode: 'list', value: 'gpt-4o-mini' } }, 'gpt-4o-mini · Interactive'],
		[
			{ model: { __rl: true, mode: 'id', value: 'claude-sonnet-4-5' }, timeoutPreset: 'realtime' },
			'claude-sonnet-4-5 · Real-Time',
		],
		[
			{ model: { mode: 'id', value: 'saved-without-rl' }, timeoutPreset: 'batch' },
			'saved-without-rl · Batch',
		],
		[
			{ model: { __rl: true, mode: 'id', value: '={{ $json.model }}' } },
			'model from expression · Interactive',
		],
		[
			{ model: { __rl: true, mode: 'id', value: '' }, timeoutPreset: 'custom' },
			'no model · Custom Timeout',
		],
		[{}, 'gpt-4o-mini · Interactive'],
	])('%j reads "%s"', (parameters, expected) => {
		expect(subtitle(parameters as INodeParameters)).toBe(expected);
	});
});

describe('the five nodes in the node creator', () => {
	const codex = (name: string) =>
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		require(`../../nodes/${name}/${name}.node.json`) as {
			categories: string[];
			subcategories?: Record<string, string[]>;
			alias: string[];
		};
	/** Every node package.json ships (not a hand list: a new node is checked as soon as it ships). */
	const nodes: Array<[string, INodeType]> = (
		JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
			n8n: { nodes: string[] };
		}
	).n8n.nodes.map((path) => {
		const name = path.split('/')[2];
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const module = require(`../../nodes/${name}/${name}.node`) as Record<
			string,
			new () => INodeType
		>;
		return [name, new module[name]()];
	});
	/** n8n's node-creator search: a subsequence of the display name or an alias, case-insensitive. */
	const matches = (term: string, target: string) => {
		let t = 0;
		for (const c of target.toLowerCase()) if (c === term[t]?.toLowerCase()) t++;
		return t === term.length;
	};

	it.each(nodes)('%s is no agent tool (no "… Tool" duplicate in the AI panel)', (_, node) => {
		expect(node.description.usableAsTool).toBeFalsy();
	});

	it.each(nodes)('%s is not hidden from the normal search as an AI sub-node', (name) => {
		// the editor's filterOutAiNodes: category AI without subcategory "Root Nodes" is dropped
		const c = codex(name);
		if (c.categories.includes('AI')) expect(c.subcategories?.AI).toContain('Root Nodes');
	});

	it.each([
		[
			'AiCall',
			[
				'AI Call',
				'LLM',
				'OpenAI',
				'Anthropic',
				'Claude',
				'GPT',
				'chat',
				'retry',
				'timeout',
				'fallback model',
				'circuit breaker',
				'cost',
				'budget',
			],
		],
		[
			'IdempotencyGuard',
			[
				'Idempotency Guard',
				'dedupe',
				'deduplicate',
				'webhook duplicate',
				'exactly once',
				'idempotent',
			],
		],
		[
			'FreshnessCheck',
			['Freshness Check', 'fresh', 'stale', 'age', 'freshness', 'outdated', 'timestamp'],
		],
		[
			'CompletenessCheck',
			[
				'Completeness Check',
				'complete',
				'validate',
				'validation',
				'schema',
				'required fields',
				'missing',
			],
		],
		[
			'FallbackRouter',
			[
				'Fallback Router',
				'fallback',
				'degraded',
				'human',
				'retry queue',
				'circuit breaker',
				'error handling',
			],
		],
	])('%s is found by %j', (name, terms) => {
		const node = nodes.find(([n]) => n === name)![1];
		const targets = [node.description.displayName, ...codex(name).alias];
		for (const term of terms) expect(targets.some((t) => matches(term, t))).toBe(true);
		// the aliases themselves, not fuzzy luck, carry the words people type
		for (const term of terms.slice(1)) {
			if (!matches(term, node.description.displayName))
				expect(codex(name).alias.map((a) => a.toLowerCase())).toContain(term.toLowerCase());
		}
	});
});

describe('item values as text', () => {
	it('keeps text, writes numbers and booleans, and objects and lists as JSON', () => {
		expect(text('hi', 'F')).toBe('hi');
		expect(text(3, 'F')).toBe('3');
		expect(text(false, 'F')).toBe('false');
		expect(text(null, 'F')).toBe('');
		expect(text({ a: [1, 'x'] }, 'F')).toBe('{"a":[1,"x"]}');
		expect(text(new Date('2026-01-02T03:04:05Z'), 'F')).toBe('2026-01-02T03:04:05.000Z');
	});

	it('never throws what a hostile value throws: the error names the field', () => {
		const cyclic: IDataObject = {};
		cyclic.self = cyclic;
		const hostile = {
			toJSON() {
				throw new Error('boom');
			},
			toString() {
				throw new Error('boom');
			},
		};
		expect(() => text(cyclic, 'System Prompt')).toThrow(/"System Prompt" is not text/);
		expect(() => text(hostile, 'System Prompt')).toThrow(/"System Prompt" is not text/);
		expect(() => text(Symbol('s'), 'Cost Tag')).toThrow(/"Cost Tag"/);
	});
});

// ---- what reaches the AI service ----

const KEY = 'sk-test-params-4411';
let sim: Simulator;
let proxy: Server;
let proxyUrl: string;
/** Request bodies the AI service received, in order (a recording proxy in front of the simulator). */
const bodies: Array<{ receivedAt: number; path: string; body: IDataObject }> = [];

beforeAll(async () => {
	sim = await startSimulator({ apiKeys: [KEY], seed: 3 });
	const target = new URL(sim.url);
	proxy = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c: Buffer) => chunks.push(c));
		req.on('end', () => {
			const raw = Buffer.concat(chunks);
			if (req.method === 'POST') {
				bodies.push({
					receivedAt: Date.now(),
					path: req.url ?? '',
					body: JSON.parse(raw.toString() || '{}') as IDataObject,
				});
			}
			const forward = httpRequest(
				{
					host: target.hostname,
					port: target.port,
					path: req.url,
					method: req.method,
					headers: req.headers,
				},
				(answer) => {
					res.writeHead(answer.statusCode ?? 502, answer.headers);
					answer.pipe(res);
				},
			);
			forward.on('error', () => res.destroy());
			forward.end(raw);
		});
	});
	await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
	proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
	await new Promise((resolve) => proxy.close(resolve));
	await sim.close();
});
beforeEach(() => {
	bodies.length = 0;
	sim.reset();
});

type Provider = 'openai' | 'anthropic';
function ai(provider: Provider, params: IDataObject, items: IDataObject[]) {
	return runNode(
		'aiCall',
		{
			model: { __rl: true, mode: 'id', value: 'sim-standard' },
			userPrompt: '={{ $json.text }}',
			...params,
			options: { maxRetries: 0, ...(params.options as object) },
		} as never,
		items,
		{
			credentials: { p: { provider, baseUrl: proxyUrl, apiKey: KEY } as never },
			nodeCredentials: { aiServiceApi: { id: 'p', name: 'AI' } },
		},
	);
}
const errorOf = (item: { json: IDataObject }) => item.json.error as IDataObject;

describe('AI Call sends the documented defaults', () => {
	it('OpenAI-compatible: temperature 0.2 and max_tokens 1024 when no option is set', async () => {
		const { out } = await ai('openai', {}, [{ text: 'hello' }]);
		expect(pairedIndexes(out)).toEqual([[0], []]);
		expect(bodies).toHaveLength(1);
		expect(bodies[0].body).toMatchObject({ temperature: 0.2, max_tokens: 1024 });
	});

	it('Anthropic: temperature 0.2 and max_tokens 1024 (not 4096)', async () => {
		const { out } = await ai('anthropic', {}, [{ text: 'hello' }]);
		expect(pairedIndexes(out)).toEqual([[0], []]);
		expect(bodies[0].path).toBe('/v1/messages');
		expect(bodies[0].body).toMatchObject({ temperature: 0.2, max_tokens: 1024 });
	});

	it('OpenAI reasoning models: max_completion_tokens 1024, and no temperature unless set', async () => {
		await ai('openai', { model: { __rl: true, mode: 'id', value: 'o3-mini' } }, [{ text: 'hi' }]);
		expect(bodies[0].body).toMatchObject({ max_completion_tokens: 1024 });
		expect(bodies[0].body).not.toHaveProperty('temperature');
		expect(bodies[0].body).not.toHaveProperty('max_tokens');
		bodies.length = 0;
		await ai(
			'openai',
			{ model: { __rl: true, mode: 'id', value: 'o3-mini' }, options: { temperature: 1 } },
			[{ text: 'hi' }],
		);
		expect(bodies[0].body).toMatchObject({ temperature: 1, max_completion_tokens: 1024 });
	});

	it('sends what the user set instead, numbers from expressions included', async () => {
		await ai('openai', { options: { temperature: 0, maxTokens: '={{ $json.cap }}' } }, [
			{ text: 'hi', cap: '64' },
		]);
		expect(bodies[0].body).toMatchObject({ temperature: 0, max_tokens: 64 });
	});
});

describe('AI Call: an item that cannot make a request fails alone, without a call', () => {
	it.each<Provider>(['openai', 'anthropic'])(
		'%s: an empty user prompt beside a system prompt is bad_request naming "User Prompt"',
		async (provider) => {
			const { out, error } = await ai(provider, { systemPrompt: 'You classify documents.' }, [
				{ text: 'a real question' },
				{ other: 'no text field' },
				{ text: '   ' },
			]);
			expect(error).toBeUndefined();
			expect(pairedIndexes(out)).toEqual([[0], [1, 2]]);
			for (const failed of out[1]) {
				expect(errorOf(failed)).toMatchObject({ class: 'bad_request', attempts: 0 });
				expect(errorOf(failed).message).toMatch(/"User Prompt" is empty/);
			}
			expect(bodies).toHaveLength(1);
		},
	);

	it.each<Provider>(['openai', 'anthropic'])(
		'%s: a messages array without user or assistant text is bad_request, no call',
		async (provider) => {
			const { out } = await ai(
				provider,
				{ promptType: 'messages', messages: '={{ $json.chat }}' },
				[
					{ chat: [{ role: 'system', content: 'Be brief.' }] },
					{
						chat: [
							{ role: 'system', content: 'Be brief.' },
							{ role: 'user', content: ' ' },
						],
					},
					{ chat: [{ role: 'user', content: 'I need a refund' }] },
				],
			);
			expect(pairedIndexes(out)).toEqual([[2], [0, 1]]);
			for (const failed of out[1]) {
				expect(errorOf(failed)).toMatchObject({ class: 'bad_request', attempts: 0 });
				expect(errorOf(failed).message).toMatch(/Messages/);
			}
			expect(bodies).toHaveLength(1);
		},
	);

	it('a messages array from an item that is not one fails that item, naming "Messages"', async () => {
		const { out, error } = await ai(
			'openai',
			{ promptType: 'messages', messages: '={{ $json.chat }}' },
			[{ chat: 'not json' }, { chat: [{ role: 'user', content: 'hello' }] }],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[1], [0]]);
		expect(errorOf(out[1][0]).class).toBe('bad_request');
		expect(errorOf(out[1][0]).message).toMatch(/"Messages"/);
		expect(bodies).toHaveLength(1);
	});

	it('a model expression that is empty for one item fails that item, naming "Model"', async () => {
		const { out, error } = await ai(
			'openai',
			{ model: { __rl: true, mode: 'id', value: '={{ $json.model }}' } },
			[{ text: 'hi', model: 'sim-standard' }, { text: 'hi' }],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], [1]]);
		expect(errorOf(out[1][0])).toMatchObject({ class: 'bad_request', attempts: 0 });
		expect(errorOf(out[1][0]).message).toMatch(/"Model"/);
		expect(bodies).toHaveLength(1);
	});
	it('a number option from an expression that is no number fails that item alone', async () => {
		const { out, error } = await ai(
			'openai',
			{ options: { maxRetries: '={{ $json.retries }}', temperature: '={{ $json.t }}' } },
			[
				{ text: 'a', retries: 'twice', t: 0.5 },
				{ text: 'b', retries: 1, t: 'warm' },
				{ text: 'c', retries: '2', t: '0.7' },
			],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[2], [0, 1]]);
		for (const failed of out[1])
			expect(errorOf(failed)).toMatchObject({ class: 'bad_request', attempts: 0 });
		expect(errorOf(out[1][0]).message).toMatch(/"Max Retries"/);
		expect(errorOf(out[1][1]).message).toMatch(/"Temperature"/);
		expect(bodies.map((b) => b.body.temperature)).toEqual([0.7]);
	});
});

describe('AI Call: prompts that are not text', () => {
	it('sends an object or list from an expression as JSON, never "[object Object]"', async () => {
		const { out } = await ai(
			'openai',
			{ systemPrompt: '={{ $json.rules }}', userPrompt: '={{ $json.fields }}' },
			[{ rules: { tone: 'formal', max: 3 }, fields: ['invoice', 42] }],
		);
		expect(pairedIndexes(out)).toEqual([[0], []]);
		const messages = bodies[0].body.messages as Array<{ role: string; content: string }>;
		expect(messages).toEqual([
			{ role: 'system', content: '{"tone":"formal","max":3}' },
			{ role: 'user', content: '["invoice",42]' },
		]);
		expect(JSON.stringify(bodies)).not.toContain('[object Object]');
	});

	it('a value that cannot be written as text fails its item naming the field; the others go on', async () => {
		// a cycle cannot be JSON: what a hostile toJSON or getter in an item would do to the node
		const { out, error } = await ai(
			'openai',
			{
				systemPrompt:
					'={{ $json.bad ? (() => { const o = {}; o.o = o; return o; })() : "Be brief." }}',
			},
			[{ text: 'first', bad: true }, { text: 'second' }],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[1], [0]]);
		expect(errorOf(out[1][0])).toMatchObject({ class: 'bad_request', attempts: 0 });
		expect(errorOf(out[1][0]).message).toMatch(/"System Prompt"/);
		expect(bodies).toHaveLength(1);
	});

	it('stop sequences and a cost tag from expressions: a list or text works, an object tag is JSON', async () => {
		const { out } = await ai(
			'openai',
			{ options: { stop: '={{ $json.stop }}', costTag: '={{ $json.tag }}' } },
			[
				{ text: 'a', stop: ['END', '###'], tag: 7 },
				{ text: 'b', stop: 'END, STOP', tag: { team: 'claims' } },
			],
		);
		expect(pairedIndexes(out)).toEqual([[0, 1], []]);
		expect(bodies.map((b) => b.body.stop)).toEqual([
			['END', '###'],
			['END', 'STOP'],
		]);
		expect(out[0].map((item) => ((item.json.ai as IDataObject).cost as IDataObject).tag)).toEqual([
			'7',
			'{"team":"claims"}',
		]);
	});
});

describe('AI Call: expressions that fail for one item', () => {
	it('an option whose expression throws for an item (text that is no JSON) fails that item alone, naming the option', async () => {
		const { out, error } = await ai(
			'openai',
			{ options: { costTag: '={{ $json.meta.parseJson().team }}' } },
			[
				{ text: 'a', meta: '{"team":"claims"}' },
				{ text: 'b', meta: '{not json' },
				{ text: 'c', meta: '{"team":"billing"}' },
			],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0, 2], [1]]);
		expect(errorOf(out[1][0])).toMatchObject({ class: 'bad_request', attempts: 0 });
		expect(errorOf(out[1][0]).message).toMatch(/"Cost Tag" could not be read: Parsing failed/);
		expect(bodies).toHaveLength(2);
	});

	it('a JSON schema from an expression that is no schema fails that item alone, naming the field', async () => {
		const { out, error } = await ai(
			'openai',
			{ responseFormat: 'jsonSchema', jsonSchema: '={{ $json.schema }}' },
			[
				{ text: 'a', schema: { type: 'object' } },
				{ text: 'b', schema: '{oops' },
			],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)[1]).toEqual([1]);
		expect(errorOf(out[1][0])).toMatchObject({ class: 'bad_request', attempts: 0 });
		expect(errorOf(out[1][0]).message).toMatch(/"JSON Schema"/);
	});
});

describe('AI Call reads items as the calls go', () => {
	it('sends the first calls while later items are still being read, so answers do not wait for every item', async () => {
		// a cost tag from an expression tells when each item was read
		const n = 1500;
		const { out } = await ai(
			'openai',
			{ options: { costTag: '={{ Date.now() }}', maxConcurrency: 50 } },
			Array.from({ length: n }, (_, i) => ({ text: `q${i}` })),
		);
		expect(out[0]).toHaveLength(n);
		expect(pairedIndexes(out)[0]).toEqual(Array.from({ length: n }, (_, i) => i));
		const readAt = out[0].map((item) =>
			Number(((item.json.ai as IDataObject).cost as IDataObject).tag),
		);
		const firstSent = Math.min(...bodies.map((b) => b.receivedAt));
		expect(firstSent).toBeLessThan(readAt[n - 1]);
	});
});
