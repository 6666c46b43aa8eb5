import type { INode } from 'n8n-workflow';

import { AiServiceApi } from '../../credentials/AiServiceApi.credentials';
import { authHeaders, parseExtraHeaders } from '../../lib/provider';
import { startSimulator, type Simulator } from '../../simulator';
import { createHarness } from '../harness';

let sim: Simulator;
beforeAll(async () => {
	sim = await startSimulator({ apiKeys: ['sk-live-secret-0001'] });
});
afterAll(() => sim.close());

const harness = createHarness({ nodeTypes: [], credentialTypes: [AiServiceApi] });

/** Start → harness.httpGet with the aiServiceApi credential, as a node of the package will call the service. */
function listModels(data: Record<string, unknown>, path = '/models') {
	const nodes: INode[] = [
		{
			id: '1',
			name: 'Start',
			type: 'harness.start',
			typeVersion: 1,
			position: [0, 0],
			parameters: {},
		},
		{
			id: '2',
			name: 'List Models',
			type: 'harness.httpGet',
			typeVersion: 1,
			position: [200, 0],
			parameters: {
				credentialType: 'aiServiceApi',
				url: `${String(data.baseUrl)}${path}`,
			},
			credentials: { aiServiceApi: { id: 'cred-1', name: 'AI' } },
		},
	];
	return harness.run(
		{
			nodes,
			connections: { Start: { main: [[{ node: 'List Models', type: 'main', index: 0 }]] } },
		},
		{ credentials: { 'cred-1': data as never } },
	);
}

describe('aiServiceApi credential', () => {
	it('sends the key as a bearer token to an OpenAI-compatible API', async () => {
		sim.reset();
		const result = await listModels({
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: 'sk-live-secret-0001',
		});
		expect(result.error).toBeUndefined();
		expect(result.outputs['List Models'][0][0].json).toMatchObject({ object: 'list' });
		expect(sim.counters().byApiKey).toEqual({ 'sk-…0001': 1 });
	});

	it('sends x-api-key and anthropic-version to Anthropic, with the default version', async () => {
		const result = await listModels({
			provider: 'anthropic',
			baseUrl: sim.baseUrl,
			apiKey: 'sk-live-secret-0001',
		});
		expect(result.error).toBeUndefined();
		// the Anthropic model list format proves the simulator saw Anthropic's headers
		expect(result.outputs['List Models'][0][0].json).toMatchObject({
			has_more: false,
			first_id: 'sim-small',
		});
	});

	it("sends Azure OpenAI's api-key header when chosen", async () => {
		const result = await listModels({
			provider: 'openai',
			keyHeader: 'apiKey',
			baseUrl: sim.baseUrl,
			apiKey: 'sk-live-secret-0001',
		});
		expect(result.outputs['List Models'][0][0].json).toMatchObject({ object: 'list' });
	});

	it('a wrong key is a 401, and no key appears in the output', async () => {
		const result = await listModels({
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: 'sk-wrong-secret-9999',
		});
		const item = result.outputs['List Models'][0][0].json as { error: { httpCode: string } };
		expect(item.error.httpCode).toBe('401');
		expect(JSON.stringify(result.runs)).not.toMatch(/secret/);
	});

	it('defaults the base URL per provider', () => {
		const cred = new AiServiceApi();
		const baseUrls = cred.properties.filter((p) => p.name === 'baseUrl');
		expect(baseUrls.map((p) => [p.displayOptions?.show?.provider, p.default])).toEqual([
			[['openai'], 'https://api.openai.com/v1'],
			[['anthropic'], 'https://api.anthropic.com/v1'],
		]);
		expect(cred.properties.find((p) => p.name === 'apiKey')?.typeOptions?.password).toBe(true);
	});
	// n8n's own credential test (the editor's Test button) runs in real n8n: test/e2e/package.e2e.ts
});

describe('authHeaders and parseExtraHeaders', () => {
	it('adds extra headers without letting them replace the key header', () => {
		expect(
			authHeaders({
				provider: 'openai',
				baseUrl: '',
				apiKey: 'k',
				extraHeaders: '{"X-Title": "app", "Authorization": "nope"}',
			}),
		).toEqual({ 'x-title': 'app', authorization: 'Bearer k' });
		expect(
			authHeaders({ provider: 'anthropic', baseUrl: '', apiKey: 'k', anthropicVersion: '' }),
		).toEqual({
			'x-api-key': 'k',
			'anthropic-version': '2023-06-01',
		});
	});

	it.each([
		['{not json', /not valid JSON/],
		['[1]', /must be a JSON object/],
		['{"bad header": "x"}', /"bad header" is not a valid header name/],
		['{"X-A": {"b": 1}}', /the value of "X-A" must be a string/],
	])('rejects %s clearly, without echoing values', (raw, message) => {
		expect(() => parseExtraHeaders(raw)).toThrow(message);
	});

	it('accepts empty input and an already parsed object', () => {
		expect(parseExtraHeaders('')).toEqual({});
		expect(parseExtraHeaders(undefined)).toEqual({});
		expect(parseExtraHeaders({ 'X-N': 1 })).toEqual({ 'x-n': '1' });
	});
});

describe('aiServiceApi credential test, as the README quotes it', () => {
	it('every failure message n8n can show for the test is quoted word for word', () => {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const readme = (require('node:fs') as typeof import('node:fs')).readFileSync(
			`${__dirname}/../../README.md`,
			'utf8',
		);
		const section = readme.slice(readme.indexOf('## Credentials'), readme.indexOf('## AI Call'));
		const rules = new AiServiceApi().test.rules ?? [];
		expect(rules.length).toBeGreaterThan(0);
		for (const rule of rules) {
			const message = (rule.properties as { message: string }).message;
			expect(section.replace(/\s+/g, ' ')).toContain(message);
		}
		// and what n8n 2.41 itself shows around them, not the API's "Connection successful!"
		expect(section).toContain('Connection tested successfully');
		expect(section).not.toContain('Connection successful!');
	});
});
