import { existsSync } from 'node:fs';
import amqp from 'amqplib';
import fc from 'fast-check';
import Redis from 'ioredis';
import type { ICredentialType, IConnections, IDataObject, INode } from 'n8n-workflow';

import { closeAllStores } from '../../lib/stores';
import { JobQueue } from '../../nodes/JobQueue/JobQueue.node';
import { QueueDepthCheck } from '../../nodes/QueueDepthCheck/QueueDepthCheck.node';
import { hostileValue } from '../fuzz/support/arbitraries';
import { itemsChanged, routingProblem, snapshotItems } from '../fuzz/support/invariants';
import { createHarness } from '../harness';
import { Postgres, Redis as RedisCredential } from '../harness/builtin-credentials';
import { REDIS, describeWithService, reachable } from '../stores/backends';
import { pairedIndexes } from './helpers';

/** n8n-nodes-base's RabbitMQ credential, the fields the node reads. */
class RabbitMQ implements ICredentialType {
	name = 'rabbitmq';
	displayName = 'RabbitMQ';
	properties: ICredentialType['properties'] = [
		{ displayName: 'Hostname', name: 'hostname', type: 'string', default: '' },
		{ displayName: 'Port', name: 'port', type: 'number', default: 5672 },
		{ displayName: 'User', name: 'username', type: 'string', default: '' },
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
		},
		{ displayName: 'Vhost', name: 'vhost', type: 'string', default: '/' },
		{ displayName: 'SSL', name: 'ssl', type: 'boolean', default: false },
	];
}

const harness = createHarness({
	nodeTypes: [QueueDepthCheck, JobQueue],
	credentialTypes: [RabbitMQ, RedisCredential, Postgres],
});
const run = `${process.pid}-${Date.now().toString(36)}`;
const N8N_BULL = '/root/.cache/n8n-nodes-ai-patterns/n8n-2.41.1/node_modules/bull';
const RABBIT = {
	hostname: '127.0.0.1',
	port: 5672,
	username: 'guest',
	password: 'guest',
	vhost: '/',
};
let keys = 0;

/** Start → Queue Depth Check (→ nothing); each call its own state key unless given. */
async function check(
	parameters: Record<string, unknown>,
	items: IDataObject[] = [{}],
	credentials: Record<string, IDataObject> = {},
) {
	const nodeCredentials: INode['credentials'] = {};
	for (const type of Object.keys(credentials)) nodeCredentials[type] = { id: type, name: type };
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
			id: 'q',
			name: 'Check',
			type: 'n8n-nodes-ai-patterns.queueDepthCheck',
			typeVersion: 1,
			position: [200, 0],
			parameters: { store: 'memory', ...parameters } as INode['parameters'],
			credentials: nodeCredentials,
		},
	];
	const connections: IConnections = {
		Start: { main: [[{ node: 'Check', type: 'main', index: 0 }]] },
	};
	const result = await harness.run(
		{ nodes, connections },
		{ startItems: items.map((json) => ({ json })), credentials: credentials as never },
	);
	const out = result.outputs.Check ?? [];
	return { ...result, out, results: out.flat().map((i) => i.json.queueDepth as IDataObject) };
}
const key = () => ({ stateKey: `test-${run}-${keys++}` });

afterAll(async () => await closeAllStores());

describe('Queue Depth Check node: a number from an expression', () => {
	const expr = (options: IDataObject = {}, extra: Record<string, unknown> = {}) => ({
		source: 'expression',
		label: 'orders',
		depthValue: '={{ $json.depth }}',
		oldestAgeValue: '={{ $json.age }}',
		warnDepth: 10,
		criticalDepth: 100,
		options,
		...extra,
	});

	it('routes each item to Normal, Warn or Critical, once each, with pairedItem; a hostile value goes to Critical naming the parameter', async () => {
		const items = [
			{ depth: 3 },
			{ depth: 50 },
			{ depth: 500 },
			{ depth: 'lots' },
			{ depth: 5, age: 3600 }, // oldest 1 h: over the Critical age of 15 minutes
			{ depth: { valueOf: () => 1 } },
		];
		const stateKey = `={{ "expr-${run}-" + $itemIndex }}`;
		const { out, error, results } = await check(expr({ stateKey }), items);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], [1], [2, 3, 4, 5]]);
		const byItem = Object.fromEntries(
			out
				.flat()
				.map((i) => [(i.pairedItem as { item: number }).item, i.json.queueDepth as IDataObject]),
		);
		expect(byItem[0]).toMatchObject({
			status: 'normal',
			changed: false,
			alert: false,
			depth: 3,
			previousStatus: null,
		});
		expect(byItem[1]).toMatchObject({
			status: 'warn',
			reason: 'depth_warn',
			changed: true,
			alert: true,
		});
		expect(byItem[3]).toMatchObject({
			status: 'unknown',
			reason: 'invalid_value',
			message:
				'expression queue "orders" could not be read: "Depth" must be a whole number of 0 or more, got "lots"',
		});
		expect(byItem[4]).toMatchObject({
			status: 'critical',
			reason: 'oldest_age_critical',
			oldestAge: '1h',
		});
		expect(byItem[5]).toMatchObject({ reason: 'invalid_value' });
		expect(out[0][0].json.depth).toBe(3); // the item's own fields stay
		expect(results).toHaveLength(6);
	});

	it('alerts once per change of state across executions, and on recovery', async () => {
		const options = key();
		const seen = [];
		for (const depth of [1, 20, 30, 200, 150, 0]) {
			const { results } = await check(expr(options), [{ depth }]);
			seen.push([results[0].status, results[0].changed, results[0].previousStatus]);
		}
		expect(seen).toEqual([
			['normal', false, null],
			['warn', true, 'normal'],
			['warn', false, 'warn'],
			['critical', true, 'warn'],
			['critical', false, 'critical'],
			['normal', true, 'critical'],
		]);
	});

	it('a reminder after the interval while it stays bad', async () => {
		const options = { ...key(), reminderMinutes: 0.001 }; // 60 ms
		expect((await check(expr(options), [{ depth: 500 }])).results[0]).toMatchObject({
			changed: true,
			reminder: false,
		});
		expect((await check(expr(options), [{ depth: 500 }])).results[0]).toMatchObject({
			alert: false,
		});
		await new Promise((r) => setTimeout(r, 80));
		expect((await check(expr(options), [{ depth: 500 }])).results[0]).toMatchObject({
			changed: false,
			reminder: true,
			alert: true,
		});
	});

	it('stops on configuration mistakes, naming the parameter and the item', async () => {
		const cases: Array<[Record<string, unknown>, RegExp]> = [
			[
				{ warnDepth: 100, criticalDepth: 100 },
				/Item 0: "Warn Depth" \(100\) must be below "Critical Depth" \(100\)/,
			],
			[
				{ warnDepth: 0, criticalDepth: 0, warnAge: 0, criticalAge: 0 },
				/Item 0: Set at least one threshold/,
			],
			[{ warnDepth: '={{ $json.w }}' }, /Item 1: "Warn Depth" must be a whole number/],
			[{ label: '={{ $json.w === 5 ? "" : "x" }}' }, /Item 0: "Queue Name" is empty/],
			[{ options: { reminderMinutes: -1 } }, /"Remind Every \(Minutes\)"/],
		];
		for (const [extra, pattern] of cases) {
			const { error } = await check({ ...expr(key()), ...extra }, [
				{ depth: 1, w: 5 },
				{ depth: 1, w: 'x' },
			]);
			expect(error?.message).toMatch(pattern);
		}
	});

	it("n8n's own queue needs the Store on Redis", async () => {
		const { error } = await check({ source: 'n8nQueue', store: 'memory' });
		expect(error?.message).toMatch(/set "Store" to Auto \(this n8n's queue Redis\) or to Redis/);
	});
});

describe('Queue Depth Check node: Job Queue', () => {
	it('reads the jobs the Job Queue node submitted to the same store', async () => {
		const queue = `jobs-${run}`;
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
				id: 'j',
				name: 'Submit',
				type: 'n8n-nodes-ai-patterns.jobQueue',
				typeVersion: 1,
				position: [200, 0],
				parameters: {
					operation: 'submit',
					queue,
					store: 'memory',
					startNow: false,
					data: '={{ $json }}',
				},
			},
		];
		const connections: IConnections = {
			Start: { main: [[{ node: 'Submit', type: 'main', index: 0 }]] },
		};
		const submitted = await harness.run(
			{ nodes, connections },
			{ startItems: [{ json: { a: 1 } }, { json: { a: 2 } }, { json: { a: 3 } }] },
		);
		expect(submitted.error).toBeUndefined();
		const { results } = await check({
			source: 'jobQueue',
			jobQueue: queue,
			warnDepth: 2,
			criticalDepth: 10,
			options: key(),
		});
		expect(results[0]).toMatchObject({
			status: 'warn',
			depth: 3,
			inProgress: 0,
			changed: true,
			source: 'jobQueue',
			queue,
		});
		expect(results[0].details).toMatchObject({ counts: { queued: 3 }, store: 'memory' });
	});
});

describeWithService(
	`RabbitMQ at ${RABBIT.hostname}:${RABBIT.port}`,
	reachable(RABBIT.hostname, RABBIT.port),
	'Queue Depth Check node: RabbitMQ',
	() => {
		const queue = `qdc-node-${run}`;
		let connection: amqp.ChannelModel;
		beforeAll(async () => {
			connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:5672`);
			const channel = await connection.createChannel();
			await channel.assertQueue(queue, { durable: false });
			for (let i = 0; i < 12; i++) channel.sendToQueue(queue, Buffer.from('x'));
			await channel.checkQueue(queue);
			await channel.close();
		});
		afterAll(async () => {
			const channel = await connection.createChannel();
			await channel.deleteQueue(queue);
			await connection.close();
		});
		const rabbit = (parameters: Record<string, unknown>, credentials: IDataObject = RABBIT) =>
			check({ source: 'rabbitmq', queue, warnDepth: 10, criticalDepth: 100, ...parameters }, [{}], {
				rabbitmq: credentials,
			});

		it('reads ready messages and consumers over AMQP and says what AMQP cannot give', async () => {
			const { out, results, error } = await rabbit({ options: key() });
			expect(error).toBeUndefined();
			expect(pairedIndexes(out)).toEqual([[], [0], []]);
			expect(results[0]).toMatchObject({
				status: 'warn',
				depth: 12,
				consumers: 0,
				inProgress: null,
				oldestAgeMs: null,
				changed: true,
			});
			expect(String((results[0].notes as string[])[0])).toMatch(/management API/);
		});

		it('a missing queue and a broker that is down go to Critical as unknown, naming the source, without the password', async () => {
			const missing = await rabbit({ queue: `${queue}-missing`, options: key() });
			expect(pairedIndexes(missing.out)).toEqual([[], [], [0]]);
			expect(missing.results[0]).toMatchObject({
				status: 'unknown',
				reason: 'queue_not_found',
				changed: true,
			});
			const down = await rabbit(
				{ options: key() },
				{ ...RABBIT, port: 1, password: 'Hidden-Pass-9' },
			);
			expect(down.error).toBeUndefined();
			expect(down.results[0]).toMatchObject({ status: 'unknown', reason: 'source_unreachable' });
			expect(String(down.results[0].message)).toMatch(/RabbitMQ at 127\.0\.0\.1:1/);
			expect(JSON.stringify(down.out)).not.toContain('Hidden-Pass-9');
			const warn = await rabbit(
				{ options: { ...key(), onUnreadable: 'warn' } },
				{ ...RABBIT, port: 1 },
			);
			expect(pairedIndexes(warn.out)).toEqual([[], [0], []]);
		});

		it('stops the execution when asked to, naming the source', async () => {
			const { error } = await rabbit(
				{ options: { ...key(), onUnreadable: 'error' } },
				{ ...RABBIT, port: 1 },
			);
			expect(error?.message).toMatch(/Item 0: RabbitMQ at 127\.0\.0\.1:1/);
		});

		it('the management API that is not there (plugin off) is source_unreachable', async () => {
			const { results } = await rabbit({
				rabbitVia: 'management',
				managementUrl: 'http://127.0.0.1:1',
				options: key(),
			});
			expect(results[0]).toMatchObject({ status: 'unknown', reason: 'source_unreachable' });
			expect(String(results[0].message)).toMatch(/management API at http:\/\/127\.0\.0\.1:1/);
		});
	},
);

describeWithService(
	`Redis at ${REDIS.host}:${REDIS.port}`,
	reachable(REDIS.host, REDIS.port),
	"Queue Depth Check node: n8n's own queue",
	() => {
		const prefix = `qdc-node-${run}`;
		const client = new Redis({ ...REDIS, lazyConnect: true });
		// eslint-disable-next-line @typescript-eslint/no-explicit-any
		let queue: any;
		beforeAll(async () => {
			if (!existsSync(N8N_BULL)) return;
			// eslint-disable-next-line @typescript-eslint/no-require-imports
			const Bull = require(N8N_BULL);
			queue = new Bull('jobs', { prefix, redis: REDIS });
			for (let i = 0; i < 4; i++)
				await queue.add('job', { executionId: String(i) }, { priority: 100 });
		});
		afterAll(async () => {
			await queue?.close();
			await client.connect();
			const found = await client.keys(`${prefix}:*`);
			const state = await client.keys(`*test-${run}-*`); // this run's check states only
			if (found.length) await client.del(...found);
			if (state.length) await client.del(...state);
			// and this run's keys from the store's per-tag sets of the namespace
			for (const tagSet of await client.keys('ai-patterns:r:{queueDepth}:t:*')) {
				const mine = (await client.zrange(tagSet, 0, -1)).filter((k) =>
					k.startsWith(`test-${run}-`),
				);
				if (mine.length) await client.zrem(tagSet, ...mine);
			}
			client.disconnect();
		});

		it('reads waiting, active and delayed executions in the Redis of the Store, and keeps its state there', async () => {
			if (!queue) throw new Error(`n8n 2.41.1 is not installed at ${N8N_BULL}`);
			const params = {
				source: 'n8nQueue',
				bullPrefix: prefix,
				store: 'redis',
				warnDepth: 3,
				criticalDepth: 50,
				options: key(),
			};
			const redis = { host: REDIS.host, port: REDIS.port, database: 0, password: '', user: '' };
			const first = await check(params, [{}], { redis });
			expect(first.error).toBeUndefined();
			expect(first.results[0]).toMatchObject({
				status: 'warn',
				depth: 4,
				inProgress: 0,
				delayed: 0,
				changed: true,
				source: 'n8nQueue',
				queue: 'jobs',
			});
			expect(first.results[0].oldestAgeMs).toEqual(expect.any(Number));
			expect((await check(params, [{}], { redis })).results[0]).toMatchObject({
				changed: false,
				previousStatus: 'warn',
			});
			// Store Auto: this n8n's queue Redis and prefix from its environment (Auto's state store: memory here)
			const saved = { ...process.env };
			Object.assign(process.env, {
				QUEUE_BULL_REDIS_HOST: REDIS.host,
				QUEUE_BULL_REDIS_PORT: String(REDIS.port),
				QUEUE_BULL_PREFIX: prefix,
				N8N_AI_PATTERNS_STORE: 'memory',
			});
			try {
				const auto = await check({ ...params, store: 'auto', bullPrefix: '' });
				expect(auto.error).toBeUndefined();
				expect(auto.results[0]).toMatchObject({
					depth: 4,
					details: { keyPrefix: `${prefix}:jobs:` },
				});
			} finally {
				for (const k of [
					'QUEUE_BULL_REDIS_HOST',
					'QUEUE_BULL_REDIS_PORT',
					'QUEUE_BULL_PREFIX',
					'N8N_AI_PATTERNS_STORE',
				])
					if (saved[k] === undefined) delete process.env[k];
					else process.env[k] = saved[k];
			}
			const down = await check(params, [{}], { redis: { ...redis, port: 1 } });
			// the Store is on that Redis too: its state cannot be kept either, so the check alerts
			expect(down.error).toBeUndefined();
			expect(pairedIndexes(down.out)).toEqual([[], [], [0]]);
			expect(down.results[0]).toMatchObject({
				status: 'unknown',
				reason: 'source_unreachable',
				alert: true,
			});
			expect(String(down.results[0].message)).toMatch(/n8n's queue in Redis at 127\.0\.0\.1:1/);
			expect(String(down.results[0].stateError)).toMatch(/could not be read/);
		});
	},
);

// The management plugin is off on the shared broker here: RABBITMQ_MANAGEMENT_URL and
// RABBITMQ_MANAGEMENT_AMQP_URL point at one that has it (see test/lib/queueDepth.test.ts).
const MANAGEMENT_URL = process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672';
const MANAGEMENT_AMQP = new URL(
	process.env.RABBITMQ_MANAGEMENT_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
);
const managementAt = new URL(MANAGEMENT_URL);
/**
 * scripts/services.sh does not enable the plugin, so CI has no management API: these run (through
 * describeWithService, failing in CI when unreachable) only where RABBITMQ_MANAGEMENT_URL says where
 * one is; otherwise they are skipped with a notice.
 */
const describeWithManagement: typeof describeWithService = process.env.RABBITMQ_MANAGEMENT_URL
	? describeWithService
	: (_service, _available, name, fn) => {
			process.stderr.write(
				`\n*** SKIPPED: ${name} — set RABBITMQ_MANAGEMENT_URL (and RABBITMQ_MANAGEMENT_AMQP_URL) to a broker with rabbitmq_management enabled. ***\n\n`,
			);
			describe.skip(name, fn);
		};

describeWithManagement(
	`the RabbitMQ management API at ${MANAGEMENT_URL} (plugin rabbitmq_management)`,
	reachable(managementAt.hostname, Number(managementAt.port || 80)),
	'Queue Depth Check node: RabbitMQ management API through n8n’s request helper',
	() => {
		const queue = `qdc-node-mgmt-${run}`;
		let connection: amqp.ChannelModel;
		const credentials = {
			...RABBIT,
			hostname: MANAGEMENT_AMQP.hostname,
			port: Number(MANAGEMENT_AMQP.port || 5672),
		};
		beforeAll(async () => {
			connection = await amqp.connect(MANAGEMENT_AMQP.href);
			const channel = await connection.createChannel();
			await channel.assertQueue(queue, { durable: false });
			for (let i = 0; i < 12; i++) channel.sendToQueue(queue, Buffer.from('x')); // no timestamp
			await channel.close();
		});
		afterAll(async () => {
			const channel = await connection.createChannel();
			await channel.deleteQueue(queue);
			await connection.close();
		});
		const mgmt = (extra: Record<string, unknown>) =>
			check(
				{
					source: 'rabbitmq',
					rabbitVia: 'management',
					managementUrl: MANAGEMENT_URL,
					queue,
					warnDepth: 10,
					criticalDepth: 100,
					...extra,
				},
				[{}],
				{ rabbitmq: credentials },
			);

		it('reads ready, unacknowledged and consumers; no timestamp, so the age is unknown with a note', async () => {
			let r: IDataObject | undefined;
			for (let i = 0; i < 30 && r?.depth !== 12; i++) {
				r = (await mgmt({ options: { stateKey: `mgmt-${run}-${i}` } })).results[0];
				if (r?.depth !== 12) await new Promise((done) => setTimeout(done, 500)); // stats every 5 s
			}
			expect(r).toMatchObject({
				status: 'warn',
				depth: 12,
				inProgress: 0,
				consumers: 0,
				oldestAgeMs: null,
			});
			expect(String((r!.notes as string[])[0])).toMatch(/no timestamp property/);
			const missing = (await mgmt({ queue: `${queue}-missing`, options: key() })).results[0];
			expect(missing).toMatchObject({ status: 'unknown', reason: 'queue_not_found' });
		}, 60_000);
	},
);

describe('Queue Depth Check node: hostile item values', () => {
	it('never stop the execution: every item leaves on exactly one output with its pairedItem, items unchanged', async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.array(fc.record({ depth: hostileValue, age: hostileValue, running: hostileValue }), {
					minLength: 1,
					maxLength: 20,
				}),
				async (jsons) => {
					const items = jsons.map((json) => ({ ...json }) as IDataObject);
					const before = snapshotItems(items.map((json) => ({ json })));
					const { out, error } = await check(
						{
							source: 'expression',
							label: 'fuzz',
							depthValue: '={{ $json.depth }}',
							oldestAgeValue: '={{ $json.age }}',
							inProgressValue: '={{ $json.running }}',
							options: { stateKey: `={{ "fuzz-${run}-" + $itemIndex }}` },
						},
						items,
					);
					expect(error).toBeUndefined();
					expect(routingProblem(out, items.length)).toBeUndefined();
					expect(
						itemsChanged(
							before,
							items.map((json) => ({ json })),
						),
					).toBeUndefined();
					for (const item of out.flat()) {
						const r = item.json.queueDepth as IDataObject;
						expect(['normal', 'warn', 'critical', 'unknown']).toContain(r.status);
						if (r.status === 'unknown')
							expect(r.message).toMatch(/"(Depth|Oldest Job Age \(Seconds\)|In Progress)"/);
					}
				},
			),
			{ numRuns: 40 },
		);
	}, 120_000);
});
