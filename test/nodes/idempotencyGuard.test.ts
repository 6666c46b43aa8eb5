import { existsSync } from 'node:fs';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { join } from 'node:path';
import {
	NodeHelpers,
	Workflow,
	type ICredentialDataDecryptedObject,
	type IConnections,
	type IDataObject,
	type INode,
	type INodeExecutionData,
} from 'n8n-workflow';

import { IdempotencyGuard } from '../../nodes/IdempotencyGuard/IdempotencyGuard.node';
import { closeAllStores } from '../../lib/stores';
import { createHarness, type HarnessRunOptions } from '../harness';
import { Postgres, Redis } from '../harness/builtin-credentials';
import { describeWithService, POSTGRES, REDIS, reachable } from '../stores/backends';

/** The node writes under the default key prefix / table: take this file's namespace out again. */
async function removeNamespace(store: string, namespace: string) {
	if (store === 'redis') {
		const client = new IORedis({ ...REDIS, lazyConnect: true });
		try {
			const keys = await client.keys(`ai-patterns:*:${namespace}:*`);
			if (keys.length) await client.del(...keys);
		} finally {
			client.disconnect();
		}
	} else {
		const client = new Client(POSTGRES);
		await client.connect();
		try {
			await client.query('DELETE FROM n8n_ai_patterns_state WHERE namespace = $1', [namespace]);
		} finally {
			await client.end();
		}
	}
}

const harness = createHarness({
	nodeTypes: [IdempotencyGuard],
	credentialTypes: [Redis, Postgres],
});
afterAll(closeAllStores);

const TYPE = 'n8n-nodes-ai-patterns.idempotencyGuard';
let unique = 0;
/** A key of its own per test: the memory store is shared by the whole file, as by an n8n process. */
const newKey = (label: string) => `${label}-${++unique}-${Date.now()}`;
const webhook = (key: string | undefined, body: IDataObject = { order: 'A-1', amount: 10 }) => ({
	headers: key === undefined ? { 'content-type': 'application/json' } : { 'idempotency-key': key },
	body,
});

const node = (
	name: string,
	parameters: INode['parameters'],
	extra: Partial<INode> = {},
): INode => ({
	id: name,
	name,
	type: TYPE,
	typeVersion: 1,
	position: [200, 0],
	parameters,
	...extra,
});
const start: INode = {
	id: 'start',
	name: 'Start',
	type: 'harness.start',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};
const edge = (to: string) => [{ node: to, type: 'main' as const, index: 0 }];

/** Start → Claim, and optionally Claim's New output → Complete (or Release). */
async function run(
	items: IDataObject[],
	claim: INode['parameters'],
	then?: INode,
	options: HarnessRunOptions & { claimNode?: Partial<INode> } = {},
) {
	const nodes = [
		start,
		node('Claim', { store: 'memory', ...claim }, options.claimNode),
		...(then ? [then] : []),
	];
	const connections: IConnections = {
		Start: { main: [edge('Claim')] },
		...(then ? { Claim: { main: [edge(then.name), [], [], []] } } : {}),
	};
	const result = await harness.run(
		{ nodes, connections },
		{ startItems: items.map((json) => ({ json })), ...options },
	);
	return {
		...result,
		claim: result.outputs.Claim ?? [],
		then: then ? (result.outputs[then.name]?.[0] ?? []) : [],
	};
}

const paired = (outputs: INodeExecutionData[][]) =>
	outputs.map((items) => items.map((item) => (item.pairedItem as { item: number }).item));
const meta = (item: INodeExecutionData) => item.json.idempotency as IDataObject;

const complete = (parameters: INode['parameters'] = {}) =>
	node('Complete', { operation: 'complete', store: 'memory', ...parameters });
const release = (parameters: INode['parameters'] = {}) =>
	node('Release', { operation: 'release', store: 'memory', ...parameters });

describe('Idempotency Guard node', () => {
	it('shows four named outputs for Claim and one for Complete and Release', () => {
		const description = new IdempotencyGuard().description;
		const outputsFor = (operation: string) => {
			const n = node('G', { operation });
			const workflow = new Workflow({
				nodes: [n],
				connections: {},
				active: false,
				nodeTypes: {
					getByName: () => new IdempotencyGuard(),
					getByNameAndVersion: () => new IdempotencyGuard(),
					getKnownTypes: () => ({}),
				},
			});
			return NodeHelpers.getNodeOutputs(workflow, workflow.getNode('G')!, description);
		};
		expect(outputsFor('claim')).toEqual(
			['New', 'Duplicate', 'In Progress', 'Conflict'].map((displayName) => ({
				type: 'main',
				displayName,
			})),
		);
		expect(outputsFor('complete')).toEqual(['main']);
		expect(outputsFor('release')).toEqual(['main']);
	});

	it('lets the first delivery through as New and catches its duplicate inside the same batch', async () => {
		const [a, b] = [newKey('a'), newKey('b')];
		const { claim, error } = await run([webhook(a), webhook(b), webhook(a)], {});
		expect(error).toBeUndefined();
		expect(paired(claim)).toEqual([[0, 1], [], [2], []]);
		expect(claim[0][0].json).toEqual({
			...webhook(a),
			idempotency: {
				status: 'new',
				key: a,
				namespace: 'harness-workflow',
				store: 'memory',
				token: expect.stringMatching(/^[0-9a-f-]{36}$/),
				firstSeenAt: expect.any(String),
				leaseExpiresAt: expect.any(String),
			},
		});
		const { firstSeenAt, leaseExpiresAt } = meta(claim[0][0]);
		expect(Date.parse(leaseExpiresAt as string) - Date.parse(firstSeenAt as string)).toBe(300_000);
		expect(meta(claim[2][0])).toEqual({
			status: 'in_progress',
			key: a,
			namespace: 'harness-workflow',
			store: 'memory',
			firstSeenAt,
			leaseExpiresAt,
		});
	});

	it('completes with the result, then replays it to a later duplicate with the first-seen time', async () => {
		const key = newKey('order');
		const first = await run([webhook(key)], {}, complete());
		expect(first.error).toBeUndefined();
		expect(first.then).toHaveLength(1);
		expect(meta(first.then[0])).toMatchObject({ status: 'completed', completed: true, key });

		const again = await run([webhook(key)], {});
		expect(paired(again.claim)).toEqual([[], [0], [], []]);
		expect(meta(again.claim[1][0])).toEqual({
			status: 'duplicate',
			key,
			namespace: 'harness-workflow',
			store: 'memory',
			firstSeenAt: meta(first.claim[0][0]).firstSeenAt,
			retainedUntil: expect.any(String),
			result: webhook(key), // the item, without the idempotency field
		});
		const retained = Date.parse(meta(again.claim[1][0]).retainedUntil as string) - Date.now();
		expect(retained).toBeGreaterThan(24 * 3_600_000 - 60_000);
		expect(retained).toBeLessThanOrEqual(24 * 3_600_000);
	});

	it('stores the result an expression gives, kept for the retention asked', async () => {
		const key = newKey('expr');
		await run(
			[webhook(key)],
			{},
			complete({
				resultFrom: 'expression',
				result: '={{ { reply: "ok", order: $json.body.order } }}',
				retentionHours: 0.5,
			}),
		);
		const again = await run([webhook(key)], {});
		const dup = meta(again.claim[1][0]);
		expect(dup.result).toEqual({ reply: 'ok', order: 'A-1' });
		expect(Date.parse(dup.retainedUntil as string) - Date.now()).toBeLessThanOrEqual(1_800_000);
	});

	it('sends the same key with another payload to Conflict, without the other result', async () => {
		const key = newKey('conflict');
		await run([webhook(key, { amount: 10 })], {}, complete());
		const { claim } = await run([webhook(key, { amount: 99 }), webhook(key, { amount: 10 })], {});
		expect(paired(claim)).toEqual([[], [1], [], [0]]);
		expect(meta(claim[3][0])).toEqual({
			status: 'conflict',
			key,
			namespace: 'harness-workflow',
			store: 'memory',
			firstSeenAt: expect.any(String),
			storedStatus: 'completed',
		});
		// With Fingerprint "None" the payload is not compared.
		const unchecked = await run([webhook(key, { amount: 99 })], { fingerprintFrom: 'none' });
		expect(paired(unchecked.claim)).toEqual([[], [0], [], []]);
	});

	it('reports In Progress while another execution holds the lease', async () => {
		const key = newKey('busy');
		await run([webhook(key)], {});
		const { claim } = await run([webhook(key)], {});
		expect(paired(claim)).toEqual([[], [], [0], []]);
	});

	it('releases the claim on the failure path so that a retry runs as New', async () => {
		const key = newKey('retry');
		const first = await run([webhook(key)], {}, release());
		expect(meta(first.then[0])).toMatchObject({ status: 'released', released: true, key });
		const retry = await run([webhook(key)], {});
		expect(paired(retry.claim)).toEqual([[0], [], [], []]);

		// A release with another claim's token leaves the claim alone.
		const wrong = await run([webhook(key)], {}, undefined);
		expect(paired(wrong.claim)).toEqual([[], [], [0], []]);
		const stranger = await harness.run(
			{
				nodes: [start, release({ key, claimId: 'not-the-owner' })],
				connections: { Start: { main: [edge('Release')] } },
			},
			{ startItems: [{ json: {} }] },
		);
		expect(meta(stranger.outputs.Release[0][0])).toMatchObject({
			released: false,
			status: 'not_released',
		});
	});

	it('does not overwrite a claim another execution holds, and says so on the item', async () => {
		const key = newKey('taken');
		await run([webhook(key)], {});
		const late = await harness.run(
			{
				nodes: [start, complete({ key, claimId: 'an-expired-claim' })],
				connections: { Start: { main: [edge('Complete')] } },
			},
			{ startItems: [{ json: { reply: 'late' } }] },
		);
		expect(meta(late.outputs.Complete[0][0])).toMatchObject({
			status: 'not_completed',
			completed: false,
			warning: expect.stringMatching(/^another execution holds the claim on this key/),
		});
		expect(paired((await run([webhook(key)], {})).claim)).toEqual([[], [], [0], []]);
	});

	it('takes the key from a hash of the payload or of chosen fields', async () => {
		const body = { event: newKey('evt'), type: 'paid' };
		const byPayload = await run(
			[{ body }, { body: { ...body } }, { body: { type: 'paid', event: body.event } }],
			{
				keyFrom: 'payload',
			},
		);
		expect(paired(byPayload.claim)).toEqual([[0], [], [1, 2], []]);
		expect(meta(byPayload.claim[0][0]).key).toMatch(/^[0-9a-f]{64}$/);

		const byFields = await run(
			[
				{ body: { ...body, at: 1 } },
				{ body: { ...body, at: 2 } },
				{ body: { event: 'other', type: 'paid' } },
			],
			{
				keyFrom: 'fields',
				keyFields: 'body.event, body.type',
				fingerprintFrom: 'none',
				namespace: 'by-fields',
			},
		);
		expect(paired(byFields.claim)).toEqual([[0, 2], [], [1], []]);
	});

	it('stops with an error naming the item when the key is missing, or lets it through with a warning', async () => {
		const failed = await run([webhook(newKey('ok')), webhook(undefined)], {});
		expect(failed.errorNode).toBe('Claim');
		expect(failed.error?.message).toBe(
			'Item 1: no idempotency key: the key is empty or the chosen fields hold no value',
		);

		const warned = await run([webhook(undefined)], { options: { onMissingKey: 'new' } });
		expect(paired(warned.claim)).toEqual([[0], [], [], []]);
		expect(meta(warned.claim[0][0])).toEqual({
			status: 'new',
			key: null,
			namespace: 'harness-workflow',
			warning: 'missing_key',
			message: 'no idempotency key: the key is empty or the chosen fields hold no value',
		});
	});

	it('routes a missing key to the error output (for a 400 response) when set to continue on it', async () => {
		const key = newKey('ok');
		const { claim, error } = await run([webhook(undefined), webhook(key)], {}, undefined, {
			claimNode: { onError: 'continueErrorOutput' },
		});
		expect(error).toBeUndefined();
		expect(paired(claim)).toEqual([[1], [], [], [], [0]]);
		expect(claim[4][0].json.error).toMatch(/^Item 0: no idempotency key/);
	});

	it('names the item and the parameter when a setting is wrong', async () => {
		const badPath = await run([{ body: {} }], { keyFrom: 'fields', keyFields: 'body..id' });
		expect(badPath.error?.message).toMatch(/^Item 0: "Key Fields": path "body\.\.id"/);
	});

	it('a key that is no text or number (a list, an object, NaN) is a missing key naming "Key", never a crash', async () => {
		const keys = [{ a: 1 }, ['k'], NaN, Infinity];
		// "Missing Key: Send to New With a Warning": each goes to New with the reason
		const { claim, error } = await run(
			keys.map((k) => webhook(k as never)),
			{ options: { onMissingKey: 'new' } },
		);
		expect(error).toBeUndefined();
		expect(paired(claim)[0]).toEqual([0, 1, 2, 3]);
		expect(claim[0].map((item) => (item.json.idempotency as { message: string }).message)).toEqual([
			'no idempotency key: "Key": the key is an object, not text or a number',
			'no idempotency key: "Key": the key is a list, not text or a number',
			'no idempotency key: "Key": the key is NaN, not text or a number',
			'no idempotency key: "Key": the key is Infinity, not text or a number',
		]);
		// the default, "Stop With an Error", is the missing key's: the error output when On Error says so
		const stopped = await run([webhook({ a: 1 } as never)], {}, undefined, {
			claimNode: { onError: 'continueErrorOutput' },
		});
		expect(stopped.error).toBeUndefined();
		expect(stopped.claim[4][0].json.error).toBe(
			'Item 0: no idempotency key: "Key": the key is an object, not text or a number',
		);
	});

	it('uses the SQLite file in the n8n user folder by default', async () => {
		const key = newKey('local');
		const { claim, error } = await run([webhook(key)], { store: 'local' });
		expect(error).toBeUndefined();
		expect(meta(claim[0][0]).store).toBe('local');
		expect(existsSync(join(process.env.N8N_USER_FOLDER!, '.n8n', 'ai-patterns.sqlite'))).toBe(true);
		const again = await run([webhook(key)], { store: 'local' });
		expect(paired(again.claim)).toEqual([[], [], [0], []]);
	});

	describe('when the store cannot be reached', () => {
		const password = 'redis-secret-do-not-show';
		const credentials = { down: { host: '127.0.0.1', port: 1, password } };
		const redisDown = (options: INode['parameters'] = {}) => ({ store: 'redis', options });
		const claimNode = { credentials: { redis: { id: 'down', name: 'Redis (down)' } } };

		it('fails closed by default, naming the store and not the password', async () => {
			const { error, claim } = await run([webhook(newKey('x'))], redisDown(), undefined, {
				credentials,
				claimNode,
			});
			expect(claim).toEqual([]);
			expect(error?.message).toMatch(
				/^Item 0: the state store failed, so the item was stopped \(fail closed\)\. Redis at 127\.0\.0\.1:1: claim failed: .*ECONNREFUSED/,
			);
			expect(JSON.stringify(error)).not.toContain(password);
		});

		it('fails open when told to: New with a flag, and a duplicate in the batch still held back', async () => {
			const key = newKey('open');
			const { claim, error } = await run(
				[webhook(key), webhook(newKey('other')), webhook(key)],
				redisDown({ onStoreError: 'failOpen' }),
				undefined,
				{ credentials, claimNode },
			);
			expect(error).toBeUndefined();
			expect(paired(claim)).toEqual([[0, 1], [], [2], []]);
			expect(meta(claim[0][0])).toMatchObject({ status: 'new', failOpen: true, key });
			expect(meta(claim[0][0]).error).toMatch(/^Redis at 127\.0\.0\.1:1: claim failed/);
			expect(meta(claim[2][0])).toMatchObject({ status: 'in_progress', failOpen: true });
			expect(JSON.stringify(claim)).not.toContain(password);
		});
	});

	const shared: Array<[string, boolean, string, ICredentialDataDecryptedObject, string]> = [
		[
			'Redis',
			reachable(REDIS.host, REDIS.port),
			'redis',
			{ host: REDIS.host, port: REDIS.port },
			`Redis at ${REDIS.host}:${REDIS.port}`,
		],
		[
			'Postgres',
			reachable(POSTGRES.host, POSTGRES.port),
			'postgres',
			{
				host: POSTGRES.host,
				port: POSTGRES.port,
				database: POSTGRES.database,
				user: POSTGRES.user,
			},
			`Postgres at ${POSTGRES.host}:${POSTGRES.port}/${POSTGRES.database}`,
		],
	];
	for (const [name, available, store, data, service] of shared)
		describeWithService(service, available, `with n8n's ${name} credential`, () => {
			afterAll(async () => await removeNamespace(store, `node-test-${process.pid}`));

			it('claims, completes and replays through the shared store', async () => {
				const key = newKey(store);
				const credentials = { shared: data };
				const creds = { credentials: { [store]: { id: 'shared', name } } };
				const namespace = `node-test-${process.pid}`;
				const first = await run(
					[webhook(key)],
					{ store, namespace },
					{ ...complete({ store, namespace }), ...creds },
					{ credentials, claimNode: creds },
				);
				expect(first.error).toBeUndefined();
				expect(meta(first.claim[0][0])).toMatchObject({ status: 'new', store });
				const again = await run(
					[webhook(key), webhook(key, { other: true })],
					{ store, namespace },
					undefined,
					{
						credentials,
						claimNode: creds,
					},
				);
				expect(paired(again.claim)).toEqual([[], [0], [], [1]]);
				expect(meta(again.claim[1][0]).result).toEqual(webhook(key));
			});
		});
});
