import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { INodeType } from 'n8n-workflow';

import { installPackage, N8nApi, startN8n, type RunningN8n } from '../../scripts/n8n-runtime';
import { startSimulator, type Simulator } from '../../simulator';
import pkg from '../../package.json';
import { printLogsOnFailure } from './helpers';

// The package installed from its npm tarball into a real n8n, as Settings → Community Nodes does.
let n8n: RunningN8n;
let api: N8nApi;
let sim: Simulator;
let userFolder: string;

beforeAll(async () => {
	userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-'));
	await installPackage(userFolder, { mode: 'pack' });
	n8n = await startN8n({ userFolder });
	api = new N8nApi(n8n.url);
	await api.setupOwner();
	sim = await startSimulator({ apiKeys: ['sk-e2e-key-0042'] });
}, 900_000);

afterAll(async () => {
	await sim?.close();
	await n8n?.stop();
	if (userFolder) rmSync(userFolder, { recursive: true, force: true });
});

printLogsOnFailure(() => n8n);

describe('the package in real n8n', () => {
	it('registers every credential and node listed in package.json under the npm package name', async () => {
		const credentialTypes = await api.credentialTypes();
		expect(credentialTypes.map((c) => c.name)).toContain('aiServiceApi');
		const loaded = (await api.nodeTypes()).map((t) => t.name);
		for (const file of pkg.n8n.nodes) {
			// the built class, as n8n's loader instantiates it from the path in package.json
			const exported = (await import(join(__dirname, '../..', file))) as Record<
				string,
				new () => INodeType
			>;
			const { name } = new (Object.values(exported)[0])().description;
			expect(loaded).toContain(`${pkg.name}.${name}`);
		}
	});

	it.each([
		['OpenAI-compatible', { provider: 'openai' }, 'OK', 'Connection successful!'],
		['Anthropic', { provider: 'anthropic' }, 'OK', 'Connection successful!'],
	])('the credential test passes for %s with a good key', async (_label, data, status, message) => {
		const result = await api.testCredential('aiServiceApi', {
			...data,
			baseUrl: sim.baseUrl,
			apiKey: 'sk-e2e-key-0042',
		});
		expect(result).toEqual({ status, message });
	});

	it('the credential test explains a rejected key', async () => {
		const result = await api.testCredential('aiServiceApi', {
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: 'wrong',
		});
		expect(result).toEqual({
			status: 'Error',
			message: expect.stringContaining('rejected the API key (401'),
		});
	});

	it('the credential test explains a base URL without the version path', async () => {
		const result = await api.testCredential('aiServiceApi', {
			provider: 'openai',
			baseUrl: sim.url,
			apiKey: 'sk-e2e-key-0042',
		});
		expect(result).toEqual({
			status: 'Error',
			message: expect.stringContaining('must include the version path'),
		});
	});

	it('the credential test reports an unreachable service by its network error', async () => {
		const result = await api.testCredential('aiServiceApi', {
			provider: 'openai',
			baseUrl: 'http://127.0.0.1:9/v1',
			apiKey: 'x',
		});
		expect(result).toEqual({ status: 'Error', message: 'ECONNREFUSED' });
	});

	it("lists the provider's models in the AI Call's model picker (n8n's resource locator)", async () => {
		const { id } = await api.createCredential('models', 'aiServiceApi', {
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: 'sk-e2e-key-0042',
		});
		const result = await api.rest<{ results: Array<{ name: string; value: string }> }>(
			'POST',
			'/dynamic-node-parameters/resource-locator-results',
			{
				path: 'parameters.model',
				nodeTypeAndVersion: { name: `${pkg.name}.aiCall`, version: 1 },
				methodName: 'searchModels',
				filter: 'sim-',
				currentNodeParameters: { model: { mode: 'list', value: '' } },
				credentials: { aiServiceApi: { id, name: 'models' } },
			},
		);
		expect(result.results.map((r) => r.value)).toEqual(['sim-large', 'sim-small', 'sim-standard']);
	});
});
