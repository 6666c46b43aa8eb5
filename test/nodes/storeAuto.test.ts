import IORedis from 'ioredis';
import {
	NodeHelpers,
	type IConnections,
	type IDataObject,
	type INode,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { closeAllStores } from '../../lib/stores';
import { AiCall } from '../../nodes/AiCall/AiCall.node';
import { FallbackRouter } from '../../nodes/FallbackRouter/FallbackRouter.node';
import { IdempotencyGuard } from '../../nodes/IdempotencyGuard/IdempotencyGuard.node';
import { JobQueue } from '../../nodes/JobQueue/JobQueue.node';
import { createHarness } from '../harness';
import { Postgres, Redis } from '../harness/builtin-credentials';
import { describeWithService, REDIS, reachable } from '../stores/backends';

// The Store parameter's default per node version, and what Auto opens when a node runs.

const PKG = 'n8n-nodes-ai-patterns';
const harness = createHarness({
	nodeTypes: [IdempotencyGuard, JobQueue],
	credentialTypes: [Redis, Postgres],
});
afterAll(closeAllStores);

/** A Redis database of this file's own; only keys under this run's namespaces are deleted. */
const STORE_DB = 11;
const run = `auto-${process.pid}-${Date.now().toString(36)}`;

const node = (type: string, typeVersion: number, parameters: INode['parameters']): INode => ({
	id: 'n',
	name: 'Node',
	type: `${PKG}.${type}`,
	typeVersion,
	position: [200, 0],
	parameters,
});

/** The node's parameters as n8n resolves them: with defaults (editor, execution) or without (saving). */
function resolved(
	description: INodeTypeDescription,
	typeVersion: number,
	parameters: INode['parameters'],
	returnDefaults = true,
) {
	const n = node(description.name, typeVersion, parameters);
	return NodeHelpers.getNodeParameters(
		description.properties,
		parameters,
		returnDefaults,
		false,
		n,
		description,
	)!;
}

const versioned: Array<[string, INodeTypeDescription, INode['parameters']]> = [
	['AI Call', new AiCall().description, { circuitBreaker: true }],
	['AI Call (cache only)', new AiCall().description, { responseCache: 'exact' }],
	['Idempotency Guard', new IdempotencyGuard().description, {}],
	['Fallback Router', new FallbackRouter().description, {}],
];

describe.each(versioned)('%s', (_label, description, shown) => {
	it('is version 1 and 1.1, and new nodes get 1.1', () => {
		expect(description.version).toEqual([1, 1.1]);
		expect(description.defaultVersion).toBe(1.1);
	});

	it('defaults Store to the Local File at version 1 and to Auto at 1.1', () => {
		expect(resolved(description, 1, shown).store).toBe('local');
		expect(resolved(description, 1.1, shown).store).toBe('auto');
	});

	it('keeps a saved version 1 node without "store" on the Local File; Auto is saved there', () => {
		// n8n leaves out what equals the default when it saves, so these are what a workflow holds
		expect(resolved(description, 1, { ...shown, store: 'local' }, false)).not.toHaveProperty(
			'store',
		);
		expect(resolved(description, 1, { ...shown, store: 'auto' }, false).store).toBe('auto');
		expect(resolved(description, 1.1, { ...shown, store: 'auto' }, false)).not.toHaveProperty(
			'store',
		);
		expect(resolved(description, 1.1, { ...shown, store: 'local' }, false).store).toBe('local');
	});

	it('offers the same five stores at both versions', () => {
		const values = (v: number) =>
			description.properties
				.filter(
					(p) =>
						p.name === 'store' &&
						NodeHelpers.displayParameter(
							resolved(description, v, shown),
							p,
							node(description.name, v, shown),
							description,
						),
				)
				.map((p) => (p.options as Array<{ value: string }>).map((o) => o.value));
		expect(values(1)).toEqual([['auto', 'local', 'redis', 'postgres', 'memory']]);
		expect(values(1.1)).toEqual(values(1));
	});
});

it('AI Call still shows no Store when nothing uses it, at either version', () => {
	const description = new AiCall().description;
	for (const v of [1, 1.1])
		expect(resolved(description, v, { usageLedger: false })).not.toHaveProperty('store');
});

it('Job Queue (first released with Auto) defaults Store to Auto at its version 1', () => {
	const description = new JobQueue().description;
	expect(description.version).toBe(1);
	expect(resolved(description, 1, {}).store).toBe('auto');
	expect(resolved(description, 1, { store: 'auto' }, false)).not.toHaveProperty('store');
});

/** Start → one node at a version, with its own environment for the run. */
async function runNode(
	type: string,
	typeVersion: number,
	parameters: INode['parameters'],
	items: IDataObject[],
	env: Record<string, string> = {},
) {
	const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
	Object.assign(process.env, env);
	try {
		const nodes: INode[] = [
			{
				id: 's',
				name: 'Start',
				type: 'harness.start',
				typeVersion: 1,
				position: [0, 0],
				parameters: {},
			},
			node(type, typeVersion, parameters),
		];
		const connections: IConnections = {
			Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] },
		};
		const result = await harness.run(
			{ nodes, connections },
			{ startItems: items.map((json) => ({ json })) },
		);
		return { ...result, out: result.outputs.Node ?? [] };
	} finally {
		for (const [k, v] of Object.entries(saved))
			if (v === undefined) delete process.env[k];
			else process.env[k] = v;
	}
}

const claim = (typeVersion: number, namespace: string, env?: Record<string, string>) =>
	runNode(
		'idempotencyGuard',
		typeVersion,
		{ namespace, key: '={{ $json.id }}' },
		[{ id: 'k1' }],
		env,
	);
const served = (out: Array<Array<{ json: IDataObject }>>) =>
	out.flat().map((item) => (item.json.idempotency as IDataObject).store);

const QUEUE_ENV = {
	EXECUTIONS_MODE: 'queue',
	QUEUE_BULL_REDIS_HOST: REDIS.host,
	QUEUE_BULL_REDIS_PORT: String(REDIS.port),
	QUEUE_BULL_REDIS_DB: String(STORE_DB),
};

describe('Idempotency Guard on Auto, outside queue mode', () => {
	it('version 1 without "store" keeps the Local File, whatever the instance sets', async () => {
		const { out, error } = await claim(1, `${run}-v1`, { N8N_AI_PATTERNS_STORE: 'memory' });
		expect(error).toBeUndefined();
		expect(served(out)).toEqual(['local']);
	});

	it('version 1.1 without "store" uses the Local File, and N8N_AI_PATTERNS_STORE when set', async () => {
		expect(served((await claim(1.1, `${run}-local`)).out)).toEqual(['local']);
		const memory = await claim(1.1, `${run}-mem`, { N8N_AI_PATTERNS_STORE: 'memory' });
		expect(served(memory.out)).toEqual(['memory']);
		// the same key again in the same store: a duplicate, so Auto kept one store for both runs
		const again = await claim(1.1, `${run}-mem`, { N8N_AI_PATTERNS_STORE: 'memory' });
		expect(again.out[2].map((i) => i.json.idempotency)).toEqual([
			expect.objectContaining({ status: 'in_progress', store: 'memory' }),
		]);
	});

	it('a wrong N8N_AI_PATTERNS_STORE fails the node naming the setting, not a silent Local File', async () => {
		const { error } = await claim(1.1, `${run}-bad`, { N8N_AI_PATTERNS_STORE: 'sqlite' });
		expect(error?.message).toMatch(
			/^Store \(Auto\): N8N_AI_PATTERNS_STORE is "sqlite" that is none of/,
		);
	});

	it('an explicit store is kept at version 1.1 even in queue mode', async () => {
		const { out } = await claim(1.1, `${run}-explicit`, {
			...QUEUE_ENV,
			N8N_AI_PATTERNS_STORE: '',
		});
		expect(served(out)).toEqual(['redis']);
		const explicit = await runNode(
			'idempotencyGuard',
			1.1,
			{ store: 'memory', namespace: `${run}-explicit`, key: '={{ $json.id }}' },
			[{ id: 'k1' }],
			QUEUE_ENV,
		);
		expect(served(explicit.out)).toEqual(['memory']);
	});
});

describeWithService(
	'Redis',
	reachable(REDIS.host, REDIS.port),
	"Auto in queue mode: n8n's Redis",
	() => {
		const redis = new IORedis({ ...REDIS, db: STORE_DB, lazyConnect: true });
		afterAll(async () => {
			const keys = await redis.keys(`ai-patterns:*${run}*`);
			if (keys.length) await redis.del(...keys);
			redis.disconnect();
		});

		it('Idempotency Guard 1.1 without "store" claims in the queue Redis (QUEUE_BULL_REDIS_*)', async () => {
			const ns = `${run}-queue`;
			const first = await claim(1.1, ns, QUEUE_ENV);
			expect(first.error).toBeUndefined();
			expect(served(first.out)).toEqual(['redis']);
			expect(await redis.keys(`ai-patterns:*:${ns}:*`)).toHaveLength(1);
			// a duplicate: the second run (as on another worker) found the claim in Redis
			const second = await claim(1.1, ns, QUEUE_ENV);
			expect(second.out[2].map((i) => (i.json.idempotency as IDataObject).store)).toEqual([
				'redis',
			]);
		});

		it('Job Queue 1 without "store" keeps its jobs in the queue Redis', async () => {
			const queue = `${run}-jobs`;
			const { out, error } = await runNode(
				'jobQueue',
				1,
				{ queue, data: '={{ $json }}' },
				[{ text: 'hello' }],
				QUEUE_ENV,
			);
			expect(error).toBeUndefined();
			expect(out[0].map((i) => (i.json.job as IDataObject).store)).toEqual(['redis']);
			expect((await redis.keys(`ai-patterns:*${queue}*`)).length).toBeGreaterThan(0);
		});
	},
);
