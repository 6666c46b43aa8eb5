import type { IConnections, IDataObject, INode, INodeExecutionData } from 'n8n-workflow';

import { AiServiceApi } from '../../credentials/AiServiceApi.credentials';
import { AiServiceFallbackApi } from '../../credentials/AiServiceFallbackApi.credentials';
import { AiCall } from '../../nodes/AiCall/AiCall.node';
import { AiUsage } from '../../nodes/AiUsage/AiUsage.node';
import { CompletenessCheck } from '../../nodes/CompletenessCheck/CompletenessCheck.node';
import { FallbackRouter } from '../../nodes/FallbackRouter/FallbackRouter.node';
import { FreshnessCheck } from '../../nodes/FreshnessCheck/FreshnessCheck.node';
import { IdempotencyGuard } from '../../nodes/IdempotencyGuard/IdempotencyGuard.node';
import { JobQueue } from '../../nodes/JobQueue/JobQueue.node';
import { createHarness, type HarnessRunOptions } from '../harness';
import { Postgres, Redis } from '../harness/builtin-credentials';

/** Every node and credential of the package, as n8n loads them from package.json. */
export const harness = createHarness({
	nodeTypes: [
		AiCall,
		AiUsage,
		FreshnessCheck,
		CompletenessCheck,
		FallbackRouter,
		IdempotencyGuard,
		JobQueue,
	],
	credentialTypes: [AiServiceApi, AiServiceFallbackApi, Redis, Postgres],
});

/** Runs Start → one package node with the given parameters on the given items. */
export async function runNode(
	type: string,
	parameters: INode['parameters'],
	items: IDataObject[],
	options: HarnessRunOptions & { name?: string; nodeCredentials?: INode['credentials'] } = {},
) {
	const name = options.name ?? 'Node';
	const nodes: INode[] = [
		{
			id: 's',
			name: 'Start',
			type: 'harness.start',
			typeVersion: 1,
			position: [0, 0],
			parameters: {},
		},
		{
			id: 'n',
			name,
			type: `n8n-nodes-ai-patterns.${type}`,
			typeVersion: 1,
			position: [200, 0],
			parameters,
			credentials: options.nodeCredentials,
		},
	];
	const connections: IConnections = { Start: { main: [[{ node: name, type: 'main', index: 0 }]] } };
	const result = await harness.run(
		{ nodes, connections },
		{ startItems: items.map((json) => ({ json })), ...options },
	);
	return { ...result, out: result.outputs[name] ?? [] };
}

/** The input index each output item came from, per output: proves routing and pairedItem at once. */
export const pairedIndexes = (outputs: INodeExecutionData[][]) =>
	outputs.map((items) => items.map((item) => (item.pairedItem as { item: number }).item));

/**
 * Start → AI Call with short retry delays; `primary`/`fallback` are the decrypted credentials in
 * the node's two credential slots (the fallback slot only when given).
 */
export function runAiCall(
	params: Record<string, unknown>,
	items: IDataObject[],
	creds: { primary: IDataObject; fallback?: IDataObject },
	name?: string,
) {
	return runNode(
		'aiCall',
		{
			model: { mode: 'id', value: 'sim-standard' },
			userPrompt: '={{ $json.text }}',
			...params,
			options: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 50, ...(params.options as object) },
		} as never,
		items,
		{
			name,
			credentials: { p: creds.primary as never, f: (creds.fallback ?? {}) as never },
			nodeCredentials: {
				aiServiceApi: { id: 'p', name: 'AI' },
				...(creds.fallback ? { aiServiceFallbackApi: { id: 'f', name: 'AI fallback' } } : {}),
			},
		},
	);
}
