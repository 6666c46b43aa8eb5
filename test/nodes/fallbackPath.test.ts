import type { IConnections, IDataObject, INode } from 'n8n-workflow';

import { closeAllStores } from '../../lib/stores';
import { startSimulator, type Simulator } from '../../simulator';
import { harness, pairedIndexes } from './helpers';

// The fallback path end to end in the engine: AI Call keeps last good answers; later, with the
// AI "down" (a drill or a real fault), the Fallback Router serves them from the store.
let sim: Simulator;
beforeAll(async () => {
	sim = await startSimulator();
});
afterAll(async () => {
	await closeAllStores();
	await sim.close();
});

const namespace = `path-${Date.now()}`;
function workflow(aiOptions: IDataObject): { nodes: INode[]; connections: IConnections } {
	return {
		nodes: [
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
				name: 'AI Call',
				type: 'n8n-nodes-ai-patterns.aiCall',
				typeVersion: 1,
				position: [200, 0],
				parameters: {
					model: { mode: 'id', value: 'sim-standard' },
					userPrompt: '={{ $json.text }}',
					responseCache: 'key',
					cacheKey: '={{ $json.id }}',
					keepLastGood: true,
					store: 'memory',
					options: { cacheNamespace: namespace, cacheTtlSeconds: 1, maxRetries: 0, ...aiOptions },
				},
				credentials: { aiServiceApi: { id: 'p', name: 'AI' } },
			},
			{
				id: '3',
				name: 'Fallback Router',
				type: 'n8n-nodes-ai-patterns.fallbackRouter',
				typeVersion: 1,
				position: [400, 0],
				parameters: { store: 'memory' },
			},
		],
		connections: {
			Start: { main: [[{ node: 'AI Call', type: 'main', index: 0 }]] },
			'AI Call': { main: [[], [{ node: 'Fallback Router', type: 'main', index: 0 }]] },
		},
	};
}
const run = (aiOptions: IDataObject, items: IDataObject[]) => {
	const wf = workflow(aiOptions);
	return harness.run(wf, {
		startItems: items.map((json) => ({ json })),
		credentials: { p: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: 'sim-key' } },
	});
};

it('serves the last good answers when the AI fails, and queues the request it never answered', async () => {
	const docs = [
		{ id: 'a', text: 'Please pay the invoice' },
		{ id: 'b', text: 'I want a refund' },
	];
	const first = await run({}, docs);
	expect(first.outputs['AI Call'][0]).toHaveLength(2);
	const answers = first.outputs['AI Call'][0].map((it) => (it.json.ai as IDataObject).text);
	await new Promise((r) => setTimeout(r, 1100)); // the cache entries expire; the last good answers stay

	// a real fault this time: the service is overloaded for every call
	sim.setFault('status=503');
	const outage = await run({}, [...docs, { id: 'c', text: 'never answered before' }]);
	sim.setFault(undefined);
	expect(outage.error).toBeUndefined();
	const router = outage.outputs['Fallback Router'];
	expect(pairedIndexes(router)).toEqual([[0, 1], [2], [], []]); // Cached, Queue, Human, Degraded
	expect(router[0].map((it) => (it.json.ai as IDataObject).text)).toEqual(answers);
	expect(router[0][0].json.ai).toMatchObject({ cached: true, stale: true });
	expect(router[0][0].json.fallback).toMatchObject({ strategy: 'cached', class: 'overloaded' });
	expect(router[1][0].json.fallback).toMatchObject({
		strategy: 'queue',
		retryAt: expect.any(String),
	});
});

it('a drill (simulate outage) reaches the cached answer without any call', async () => {
	sim.reset();
	const drill = await run({ simulate: 'all', simulateClass: 'rate_limited' }, [
		{ id: 'a', text: 'Please pay the invoice' },
	]);
	expect(pairedIndexes(drill.outputs['Fallback Router'])).toEqual([[0], [], [], []]);
	expect(sim.counters().requests).toBe(0);
});
