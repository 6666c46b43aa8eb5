import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
	NodeApiError,
	NodeConnectionTypes,
	NodeOperationError,
	VersionedNodeType,
} from 'n8n-workflow';
import type {
	IAuthenticateGeneric,
	IConnections,
	ICredentialDataDecryptedObject,
	ICredentialType,
	IDataObject,
	IExecuteFunctions,
	IHttpRequestHelper,
	IHttpRequestOptions,
	INode,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';

import { createHarness } from './index';

const PKG = 'n8n-nodes-ai-patterns';

const description = (
	name: string,
	extra: Partial<INodeTypeDescription> = {},
): INodeTypeDescription => ({
	displayName: name,
	name,
	group: ['transform'],
	version: 1,
	description: name,
	defaults: { name },
	inputs: [NodeConnectionTypes.Main],
	outputs: [NodeConnectionTypes.Main],
	properties: [],
	...extra,
});

class Counter implements INodeType {
	description = description('counter');

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const global = this.getWorkflowStaticData('global');
		const own = this.getWorkflowStaticData('node');
		global.counter = ((global.counter as number) ?? 0) + 1;
		own.runs = ((own.runs as number) ?? 0) + 1;
		return [[{ json: { counter: global.counter, runs: own.runs } }]];
	}
}

/** Throws a NodeOperationError, or a NodeApiError when the input item says so. */
class Fail implements INodeType {
	description = description('fail');

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		if (this.getInputData()[0]?.json.api) {
			throw new NodeApiError(this.getNode(), { message: 'upstream down' }, { httpCode: '503' });
		}
		throw new NodeOperationError(this.getNode(), 'Boom', { description: 'it broke' });
	}
}

/** Fails per item the n8n way (continueOnFail), so the engine can route errors to the error output. */
class Picky implements INodeType {
	description = description('picky');

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [
			this.getInputData().map((item, i) => {
				if (!item.json.bad) return { json: { ...item.json, ok: true }, pairedItem: { item: i } };
				const error = new NodeOperationError(this.getNode(), `Bad item ${i}`, { itemIndex: i });
				if (!this.continueOnFail()) throw error;
				return { json: { error: error.message }, pairedItem: { item: i } };
			}),
		];
	}
}

class Needy implements INodeType {
	description = description('needy', {
		properties: [
			{ displayName: 'Target', name: 'target', type: 'string', required: true, default: '' },
		],
	});

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [this.getInputData()];
	}
}

const versioned = (version: number): INodeType => ({
	description: description('versioned', { version, displayName: 'Versioned' }),
	async execute(this: IExecuteFunctions) {
		return [this.getInputData().map((item) => ({ json: { ...item.json, version } }))];
	},
});
class Versioned extends VersionedNodeType {
	constructor() {
		super(
			{ 1: versioned(1), 2: versioned(2) },
			{
				displayName: 'Versioned',
				name: 'versioned',
				group: ['transform'],
				description: 'v',
				defaultVersion: 2,
			},
		);
	}
}

const node = (
	name: string,
	type: string,
	parameters: INode['parameters'] = {},
	extra: Partial<INode> = {},
): INode => ({
	id: name,
	name,
	type,
	typeVersion: 1,
	position: [0, 0],
	parameters,
	...extra,
});

const chain = (...names: string[]): IConnections =>
	Object.fromEntries(
		names
			.slice(0, -1)
			.map((name, i) => [name, { main: [[{ node: names[i + 1], type: 'main', index: 0 }]] }]),
	);

const harness = createHarness({ nodeTypes: [Counter, Fail, Picky, Needy, Versioned] });

describe('workflow execution', () => {
	const workflow = {
		nodes: [
			node('Start', 'harness.start', { items: '[{"key": "a", "x": 2}, {"key": "b", "x": 5}]' }),
			node('Set', 'harness.set', {
				name: '={{ "double_" + $json.key }}',
				value: "={{ $('Start').item.json.x * 2 }}",
			}),
		],
		connections: chain('Start', 'Set'),
	};

	test('manual mode: start items, $json and $() expressions, pairedItem', async () => {
		const result = await harness.run(workflow);

		expect(result.error).toBeUndefined();
		expect(result.status).toBe('success');
		expect(result.outputs.Start).toEqual([
			[
				{ json: { key: 'a', x: 2 }, pairedItem: { item: 0 } },
				{ json: { key: 'b', x: 5 }, pairedItem: { item: 0 } },
			],
		]);
		expect(result.outputs.Set).toEqual([
			[
				{ json: { key: 'a', x: 2, double_a: 4 }, pairedItem: { item: 0 } },
				{ json: { key: 'b', x: 5, double_b: 10 }, pairedItem: { item: 1 } },
			],
		]);
		expect(result.runs.Set).toHaveLength(1);
	});

	test.each(['webhook', 'trigger'] as const)(
		'%s mode passes injected startItems through the start node',
		async (mode) => {
			const startItems = [{ json: { key: 'w', x: 21 } }];
			const result = await harness.run(workflow, { mode, startItems });

			expect(result.error).toBeUndefined();
			expect(result.outputs.Start).toEqual([
				[{ json: { key: 'w', x: 21 }, pairedItem: { item: 0 } }],
			]);
			expect(result.outputs.Set).toEqual([
				[{ json: { key: 'w', x: 21, double_w: 42 }, pairedItem: { item: 0 } }],
			]);
		},
	);

	test('manual mode: harness.start emits injected startItems instead of its parameter', async () => {
		const result = await harness.run(workflow, { startItems: [{ json: { key: 'm', x: 1 } }] });
		expect(result.outputs.Set[0].map((i) => i.json)).toEqual([{ key: 'm', x: 1, double_m: 2 }]);
	});

	test('$node, $workflow.id, $execution.mode and a versioned package node', async () => {
		const result = await harness.run(
			{
				id: 'wf-42',
				nodes: [
					node('Start', 'harness.start'),
					node('V1', `${PKG}.versioned`, {}, { typeVersion: 1 }),
					node('V2', `${PKG}.versioned`, {}, { typeVersion: 2 }),
					node('Info', 'harness.set', {
						name: 'info',
						value:
							'={{ $node["V1"].json.version + "/" + $json.version + "@" + $workflow.id + ":" + $execution.mode }}',
					}),
				],
				connections: chain('Start', 'V1', 'V2', 'Info'),
			},
			{ mode: 'trigger', startItems: [{ json: { x: 1 } }] },
		);

		expect(result.error).toBeUndefined();
		expect(result.outputs.Info[0][0].json).toEqual({
			x: 1,
			version: 2,
			info: '1/2@wf-42:production',
		});
	});
});

test('static data changes come back and carry into the next run', async () => {
	const workflow = {
		nodes: [node('Start', 'harness.start'), node('Counter', `${PKG}.counter`)],
		connections: chain('Start', 'Counter'),
	};

	const first = await harness.run(workflow);
	expect(first.staticData).toEqual({ global: { counter: 1 }, 'node:Counter': { runs: 1 } });

	const second = await harness.run(workflow, { staticData: first.staticData });
	expect(second.outputs.Counter).toEqual([
		[{ json: { counter: 2, runs: 2 }, pairedItem: { item: 0 } }],
	]);
	expect(second.staticData).toEqual({ global: { counter: 2 }, 'node:Counter': { runs: 2 } });
	expect(first.staticData).toEqual({ global: { counter: 1 }, 'node:Counter': { runs: 1 } });
});

describe('errors', () => {
	test('a throwing node fails the run and is identifiable', async () => {
		const result = await harness.run({
			nodes: [
				node('Start', 'harness.start'),
				node('Fail', `${PKG}.fail`),
				node('After', 'harness.set', { name: 'a', value: 'b' }),
			],
			connections: chain('Start', 'Fail', 'After'),
		});

		expect(result.status).toBe('error');
		expect(result.error?.message).toBe('Boom');
		expect(result.errorNode).toBe('Fail');
		expect((result.error as NodeOperationError).node?.name).toBe('Fail');
		expect((result.error as NodeOperationError).description).toBe('it broke');
		expect(result.nodeErrors.Fail?.message).toBe('Boom');
		expect(result.outputs.Fail).toEqual([]);
		expect(result.outputs.After).toBeUndefined();
	});

	test('parameter issues are reported before any node runs', async () => {
		const result = await harness.run({
			nodes: [node('Start', 'harness.start'), node('Needy', `${PKG}.needy`)],
			connections: chain('Start', 'Needy'),
		});
		expect(result.error?.name).toBe('WorkflowHasIssuesError');
		expect(result.runs).toEqual({});
	});

	test('NodeApiError keeps its http code', async () => {
		const result = await harness.run({
			nodes: [
				node('Start', 'harness.start', { items: '[{"api": true}]' }),
				node('Fail', `${PKG}.fail`),
			],
			connections: chain('Start', 'Fail'),
		});
		expect(result.errorNode).toBe('Fail');
		expect((result.error as NodeApiError).httpCode).toBe('503');
	});

	test("onError 'continueErrorOutput' routes failed items to output 1", async () => {
		const result = await harness.run({
			nodes: [
				node('Start', 'harness.start', { items: '[{"n": 1}, {"n": 2, "bad": true}]' }),
				node('Picky', `${PKG}.picky`, {}, { onError: 'continueErrorOutput' }),
				node('Ok', 'harness.set', { name: 'branch', value: 'ok' }),
				node('Err', 'harness.set', { name: 'branch', value: 'error' }),
			],
			connections: {
				...chain('Start', 'Picky'),
				Picky: {
					main: [
						[{ node: 'Ok', type: 'main', index: 0 }],
						[{ node: 'Err', type: 'main', index: 0 }],
					],
				},
			},
		});

		expect(result.error).toBeUndefined();
		expect(result.outputs.Picky).toEqual([
			[{ json: { n: 1, ok: true }, pairedItem: { item: 0 } }],
			[{ json: { n: 2, bad: true, error: 'Bad item 1' }, pairedItem: { item: 1 } }],
		]);
		expect(result.outputs.Ok[0].map((i) => i.json.branch)).toEqual(['ok']);
		expect(result.outputs.Err[0].map((i) => i.json)).toEqual([
			{ n: 2, bad: true, error: 'Bad item 1', branch: 'error' },
		]);
	});

	test('continueOnFail on a throwing node passes its input on and records the node error', async () => {
		const result = await harness.run({
			nodes: [
				node('Start', 'harness.start', { items: '[{"n": 1}]' }),
				node('Fail', `${PKG}.fail`, {}, { continueOnFail: true }),
				node('After', 'harness.set', { name: 'after', value: '={{ true }}' }),
			],
			connections: chain('Start', 'Fail', 'After'),
		});
		expect(result.error).toBeUndefined();
		expect(result.nodeErrors.Fail?.message).toBe('Boom');
		expect(result.outputs.Fail[0].map((i) => i.json)).toEqual([{ n: 1 }]);
		expect(result.outputs.After[0].map((i) => i.json)).toEqual([{ n: 1, after: true }]);
	});

	// Engine quirk kept as-is: the error of the last executed node marks the execution failed even when it continued.
	test('continueOnFail on the last node still reports the execution error, as n8n does', async () => {
		const result = await harness.run({
			nodes: [
				node('Start', 'harness.start'),
				node('Fail', `${PKG}.fail`, {}, { continueOnFail: true }),
			],
			connections: chain('Start', 'Fail'),
		});
		expect(result.error?.message).toBe('Boom');
		expect(result.outputs.Fail).toEqual([[{ json: {}, pairedItem: { item: 0 } }]]);
	});
});

describe('credentials', () => {
	const SECRET = 'sk-super-secret';
	let server: Server;
	let baseUrl: string;
	let requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];

	beforeAll(async () => {
		server = createServer((req, res) => {
			requests.push({ url: req.url ?? '', headers: req.headers });
			const path = req.url?.split('?')[0];
			const [status, body] =
				path === '/login'
					? [200, { token: 'session-123' }]
					: path === '/denied'
						? [401, { message: 'nope' }]
						: [200, { ok: true }];
			res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});
	beforeEach(() => (requests = []));
	afterAll(async () => {
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
	});

	class BearerApi implements ICredentialType {
		name = 'harnessBearerApi';
		displayName = 'Bearer API';
		properties: ICredentialType['properties'] = [
			{
				displayName: 'API Key',
				name: 'apiKey',
				type: 'string',
				typeOptions: { password: true },
				default: '',
			},
			{ displayName: 'Scheme', name: 'scheme', type: 'string', default: 'Bearer' },
		];
		authenticate: IAuthenticateGeneric = {
			type: 'generic',
			properties: { headers: { Authorization: '={{"Bearer " + $credentials.apiKey}}' } },
		};
	}

	class ChildApi implements ICredentialType {
		name = 'harnessChildApi';
		displayName = 'Child API';
		extends = ['harnessBearerApi'];
		properties: ICredentialType['properties'] = [
			{ displayName: 'Region', name: 'region', type: 'string', default: 'eu' },
		];
		authenticate: IAuthenticateGeneric = {
			type: 'generic',
			properties: {
				headers: {
					Authorization: '={{$credentials.scheme + " " + $credentials.apiKey}}',
					'X-Region': '={{$credentials.region}}',
				},
			},
		};
	}

	class FnApi implements ICredentialType {
		name = 'harnessFnApi';
		displayName = 'Function API';
		properties: ICredentialType['properties'] = [
			{
				displayName: 'API Key',
				name: 'apiKey',
				type: 'string',
				typeOptions: { password: true },
				default: '',
			},
			{ displayName: 'Header', name: 'headerName', type: 'string', default: 'X-Api-Key' },
			{ displayName: 'Version', name: 'apiVersion', type: 'string', default: '={{ 40 + 2 }}' },
		];
		async authenticate(credentials: ICredentialDataDecryptedObject, options: IHttpRequestOptions) {
			const headers = {
				...options.headers,
				[credentials.headerName as string]: credentials.apiKey,
				'X-Api-Version': String(credentials.apiVersion),
			};
			return { ...options, headers };
		}
	}

	class SessionApi implements ICredentialType {
		name = 'harnessSessionApi';
		displayName = 'Session API';
		properties: ICredentialType['properties'] = [
			{ displayName: 'Login URL', name: 'loginUrl', type: 'string', default: '' },
			{
				displayName: 'Session Token',
				name: 'sessionToken',
				type: 'hidden',
				typeOptions: { expirable: true },
				default: '',
			},
		];
		async preAuthentication(this: IHttpRequestHelper, credentials: ICredentialDataDecryptedObject) {
			const { token } = (await this.helpers.httpRequest({
				url: credentials.loginUrl as string,
				json: true,
			})) as IDataObject;
			return { sessionToken: token };
		}
		authenticate: IAuthenticateGeneric = {
			type: 'generic',
			properties: { headers: { 'X-Session': '={{$credentials.sessionToken}}' } },
		};
	}

	const credHarness = createHarness({
		nodeTypes: [],
		credentialTypes: [BearerApi, ChildApi, new FnApi(), SessionApi],
	});

	const httpWorkflow = (
		credentialType: string,
		path: string,
		items = '[{}]',
		withCredentials = true,
	) => ({
		nodes: [
			node('Start', 'harness.start', { items }),
			node(
				'Get',
				'harness.httpGet',
				{ credentialType, url: `={{ "${baseUrl}${path}?n=" + $json.n }}` },
				withCredentials
					? { credentials: { [credentialType]: { id: 'cred-1', name: 'Test' } } }
					: {},
			),
		],
		connections: chain('Start', 'Get'),
	});

	test('generic authenticate resolves the header expression; the secret stays out of the output', async () => {
		const result = await credHarness.run(httpWorkflow('harnessBearerApi', '/data', '[{"n": 1}]'), {
			credentials: { 'cred-1': { apiKey: SECRET } },
		});

		expect(result.error).toBeUndefined();
		expect(requests).toHaveLength(1);
		expect(requests[0].url).toBe('/data?n=1');
		expect(requests[0].headers.authorization).toBe(`Bearer ${SECRET}`);
		expect(result.outputs.Get).toEqual([[{ json: { ok: true }, pairedItem: { item: 0 } }]]);
		expect(JSON.stringify(result.runs)).not.toContain(SECRET);
	});

	test('function authenticate gets defaults (including resolved expression defaults)', async () => {
		const result = await credHarness.run(httpWorkflow('harnessFnApi', '/data'), {
			credentials: { 'cred-1': { apiKey: SECRET } },
		});

		expect(result.error).toBeUndefined();
		expect(requests[0].headers['x-api-key']).toBe(SECRET);
		expect(requests[0].headers['x-api-version']).toBe('42');
		expect(JSON.stringify(result.runs)).not.toContain(SECRET);
	});

	test('a credential extending another gets the parent properties and defaults', async () => {
		const result = await credHarness.run(httpWorkflow('harnessChildApi', '/data'), {
			credentials: { 'cred-1': { apiKey: SECRET } },
		});

		expect(result.error).toBeUndefined();
		expect(requests[0].headers.authorization).toBe(`Bearer ${SECRET}`);
		expect(requests[0].headers['x-region']).toBe('eu');
	});

	test('preAuthentication fetches the expirable token once and it is reused for later items', async () => {
		const result = await credHarness.run(
			httpWorkflow('harnessSessionApi', '/data', '[{"n": 1}, {"n": 2}]'),
			{
				credentials: { 'cred-1': { loginUrl: `${baseUrl}/login` } },
			},
		);

		expect(result.error).toBeUndefined();
		expect(requests.map((r) => r.url)).toEqual(['/login', '/data?n=1', '/data?n=2']);
		expect(requests.slice(1).map((r) => r.headers['x-session'])).toEqual([
			'session-123',
			'session-123',
		]);
		expect(result.credentials['cred-1']).toEqual({
			loginUrl: `${baseUrl}/login`,
			sessionToken: 'session-123',
		});
	});

	test('an HTTP error becomes an error item', async () => {
		const result = await credHarness.run(httpWorkflow('harnessBearerApi', '/denied'), {
			credentials: { 'cred-1': { apiKey: SECRET } },
		});

		expect(result.error).toBeUndefined();
		const { error } = result.outputs.Get[0][0].json as { error: IDataObject };
		expect(error.httpCode).toBe('401');
		expect(error.message).toEqual(expect.any(String));
		expect(JSON.stringify(result.outputs)).not.toContain(SECRET);
	});

	test('missing credentials give the n8n error', async () => {
		const result = await credHarness.run(httpWorkflow('harnessBearerApi', '/data', '[{}]', false));

		expect(requests).toHaveLength(0);
		expect(result.errorNode).toBe('Get');
		expect(result.error?.message).toBe('Node does not have any credentials set');
	});
});
