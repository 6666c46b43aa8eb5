import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import amqp from 'amqplib';
import Redis from 'ioredis';

import { JobQueue } from '../../lib/jobs';
import {
	STATE_NAMESPACE,
	breaches,
	growthOf,
	runCheck,
	transition,
	validateRules,
	type CheckInput,
	type CheckState,
	type QueueReading,
	type QueueRules,
} from '../../lib/queueDepth';
import { checkQueue } from '../../lib/queueDepth/amqp';
import { readBullQueue } from '../../lib/queueDepth/bull';
import { jobQueueNamespace, readJobQueue } from '../../lib/queueDepth/jobQueue';
import { readManagementQueue, type HttpGet } from '../../lib/queueDepth/management';
import { MemoryStore } from '../../lib/stores/memory';
import { REDIS, backends, describeWithService, reachable } from '../stores/backends';

const RABBIT = { host: '127.0.0.1', port: 5672, vhost: '/', username: 'guest', password: 'guest' };
const N8N_BULL = '/root/.cache/n8n-nodes-ai-patterns/n8n-2.41.1/node_modules/bull';
const run = `${process.pid}-${Date.now().toString(36)}`;

const rules = (over: Partial<QueueRules> = {}): QueueRules => ({
	depth: { warn: 10, critical: 100 },
	oldestAge: { warn: 60_000, critical: 600_000 },
	growth: {},
	growthChecks: 3,
	includeInProgress: false,
	...over,
});
const reading = (depth: number, over: Partial<QueueReading> = {}): QueueReading => ({
	depth,
	inProgress: null,
	consumers: null,
	delayed: null,
	oldestAgeMs: null,
	notes: [],
	details: {},
	...over,
});
const input = (
	r: CheckInput['reading'],
	nowMs: number,
	over: Partial<CheckInput> = {},
): CheckInput => ({
	source: 'expression',
	queue: 'q',
	reading: r,
	unknownTo: 'critical',
	rules: rules(),
	reminderMs: 0,
	nowMs,
	...over,
});

describe('thresholds', () => {
	it('reports every threshold passed, Critical first, and only above the threshold', () => {
		expect(breaches({ depth: 10, oldestAge: 60_000, growth: null }, rules())).toEqual([]);
		expect(breaches({ depth: 11, oldestAge: 700_000, growth: null }, rules())).toEqual([
			{ metric: 'oldestAge', level: 'critical', value: 700_000, threshold: 600_000 },
			{ metric: 'depth', level: 'warn', value: 11, threshold: 10 },
		]);
	});

	it('judges growth only once the window of checks is full', () => {
		const history = [
			{ at: 1000, depth: 5 },
			{ at: 2000, depth: 8 },
		];
		expect(growthOf(history, 20, 3, 3000)).toBeNull();
		expect(growthOf([...history, { at: 3000, depth: 9 }], 20, 3, 4000)).toEqual({
			growth: 15,
			overMs: 3000,
		});
	});

	it('refuses Warn at or above Critical, no threshold at all, and a bad window, naming the parameters', () => {
		const labels = { depth: 'Depth', oldestAge: 'Oldest Job Age', growth: 'Growth' };
		expect(() => validateRules(rules({ depth: { warn: 100, critical: 100 } }), labels)).toThrow(
			'"Warn Depth" (100) must be below "Critical Depth" (100)',
		);
		expect(() => validateRules(rules({ depth: {}, oldestAge: {}, growth: {} }), labels)).toThrow(
			/at least one threshold/,
		);
		expect(() => validateRules(rules({ growthChecks: 0 }), labels)).toThrow(
			/"Growth Over \(Checks\)"/,
		);
	});
});

describe('alert once per change of state', () => {
	const state = (status: CheckState['status'], since: number, lastAlertAt: number | null) =>
		({ status, since, lastAlertAt, history: [] }) as CheckState;

	it('the first check alerts only when it is not Normal', () => {
		expect(transition(undefined, 'normal', 0, 0)).toMatchObject({
			changed: false,
			alert: false,
			previousStatus: null,
		});
		expect(transition(undefined, 'warn', 0, 0)).toMatchObject({
			changed: true,
			alert: true,
			previousStatus: null,
		});
	});

	it('a change alerts, the same status does not, a recovery does', () => {
		expect(transition(state('warn', 0, 0), 'warn', 10, 0)).toMatchObject({
			changed: false,
			alert: false,
			since: 0,
		});
		expect(transition(state('warn', 0, 0), 'critical', 10, 0)).toMatchObject({
			changed: true,
			alert: true,
			previousStatus: 'warn',
			since: 10,
		});
		expect(transition(state('critical', 0, 0), 'normal', 10, 0)).toMatchObject({
			changed: true,
			alert: true,
			previousStatus: 'critical',
		});
	});

	it('reminds after the interval while not Normal, counted from the last alert', () => {
		expect(transition(state('critical', 0, 0), 'critical', 59_999, 60_000).reminder).toBe(false);
		const t = transition(state('critical', 0, 0), 'critical', 60_000, 60_000);
		expect(t).toMatchObject({ reminder: true, alert: true, changed: false, lastAlertAt: 60_000 });
		expect(transition(state('critical', 0, 60_000), 'critical', 100_000, 60_000).reminder).toBe(
			false,
		);
		expect(transition(state('normal', 0, null), 'normal', 10_000_000, 60_000).reminder).toBe(false);
	});
});

describe('runCheck', () => {
	it('keeps its state in the store: a run of readings alerts at each change only, growth from the history', async () => {
		const store = new MemoryStore();
		const seq = [3, 4, 20, 25, 200, 150, 2];
		const results = [];
		for (let i = 0; i < seq.length; i++)
			results.push(await runCheck(store, 'k', input(reading(seq[i]), 1000 * (i + 1))));
		expect(results.map((r) => [r.status, r.changed])).toEqual([
			['normal', false],
			['normal', false],
			['warn', true],
			['warn', false],
			['critical', true],
			['critical', false],
			['normal', true],
		]);
		expect(results[4]).toMatchObject({
			previousStatus: 'warn',
			reason: 'depth_critical',
			output: 'critical',
		});
		expect(results[4].message).toBe('expression queue "q": depth 200 is over 100');
		// growth: depth now minus 3 checks ago (25 → 2 after 4, 20, 25, 200, 150)
		expect(results[6]).toMatchObject({ growth: 2 - 25, growthOverMs: 3000 });
		const kept = await store.getRecord<CheckState>(STATE_NAMESPACE, 'k');
		expect(kept?.value.history.map((h) => h.depth)).toEqual([25, 200, 150, 2]);
	});

	it('an unreadable source is status unknown with its reason, once, and goes where asked', async () => {
		const store = new MemoryStore();
		const down = {
			reason: 'source_unreachable' as const,
			message: 'RabbitMQ at h:1: ECONNREFUSED',
		};
		const a = await runCheck(store, 'k', input(down, 1, { unknownTo: 'warn' }));
		expect(a).toMatchObject({
			status: 'unknown',
			output: 'warn',
			changed: true,
			reason: 'source_unreachable',
			depth: null,
		});
		expect(a.message).toBe('expression queue "q" could not be read: RabbitMQ at h:1: ECONNREFUSED');
		expect((await runCheck(store, 'k', input(down, 2))).changed).toBe(false);
		expect(await runCheck(store, 'k', input(reading(0), 3))).toMatchObject({
			status: 'normal',
			changed: true,
			previousStatus: 'unknown',
		});
	});

	it('counts in-progress jobs into the judged depth when asked', async () => {
		const r = reading(5, { inProgress: 9 });
		expect((await runCheck(undefined, 'k', input(r, 1))).status).toBe('normal');
		expect(
			(await runCheck(undefined, 'k', input(r, 1, { rules: rules({ includeInProgress: true }) })))
				.status,
		).toBe('warn');
	});

	it('a store that fails still routes the item, and alerts (better twice than never)', async () => {
		const store = new MemoryStore();
		store.getRecord = async () => {
			throw new Error('connection lost');
		};
		const r = await runCheck(store, 'k', input(reading(1), 1));
		expect(r).toMatchObject({ status: 'normal', alert: true, changed: null });
		expect(r.stateError).toMatch(/could not be read: connection lost/);
	});

	describe.each(backends().filter((b) => b.kind !== 'memory'))('on $name', (backend) => {
		describeWithService(
			backend.service ?? '',
			backend.available,
			`overlapping checks on ${backend.name}`,
			() => {
				afterAll(async () => await backend.cleanup());
				it('of 8 concurrent checks that see the same change, exactly one reports it', async () => {
					const stores = Array.from({ length: 8 }, () => backend.make());
					try {
						const key = `race-${run}`;
						await runCheck(stores[0], key, input(reading(1), 1000));
						const results = await Promise.all(
							stores.map(async (s) => await runCheck(s, key, input(reading(500), 2000))),
						);
						expect(results.map((r) => r.stateError).filter(Boolean)).toEqual([]);
						expect(results.filter((r) => r.changed).length).toBe(1);
						expect(results.every((r) => r.status === 'critical' && r.stateError === null)).toBe(
							true,
						);
					} finally {
						await Promise.all(stores.map(async (s) => await s.close()));
					}
				});
			},
		);
	});
});

describe('Job Queue source', () => {
	it('depth = queued, in progress = running, oldest = how long the earliest due job has been due', async () => {
		let now = 1_000_000;
		const store = new MemoryStore({ now: () => now });
		const queue = new JobQueue(store, jobQueueNamespace('ai-jobs'), () => now);
		const options = { data: {}, leaseMs: 60_000, maxAttempts: 3, retentionMs: 86_400_000 };
		await queue.submit('a', { ...options, startNow: false }); // queued, due now
		now += 5000;
		await queue.submit('b', { ...options, startNow: true }); // running, lease 60 s
		await queue.submit('c', { ...options, startNow: false });
		now += 20_000;
		const r = await readJobQueue(store, 'ai-jobs', now);
		expect(r).toMatchObject({ depth: 2, inProgress: 1, oldestAgeMs: 25_000 });
		expect(r.details).toMatchObject({
			counts: { queued: 2, running: 1 },
			oldestDueJob: { id: 'a', status: 'queued' },
		});
		const empty = await readJobQueue(store, 'other', now);
		expect(empty).toMatchObject({ depth: 0, inProgress: 0, oldestAgeMs: null });
		expect(empty.notes[0]).toMatch(/no jobs in queue "other"/);
	});
});

describeWithService(
	`RabbitMQ at ${RABBIT.host}:${RABBIT.port}`,
	reachable(RABBIT.host, RABBIT.port),
	'RabbitMQ over AMQP',
	() => {
		const queue = `qdc-test-${run}`;
		let connection: amqp.ChannelModel;
		let channel: amqp.Channel;
		beforeAll(async () => {
			connection = await amqp.connect(`amqp://guest:guest@${RABBIT.host}:${RABBIT.port}`);
			channel = await connection.createChannel();
			await channel.assertQueue(queue, { durable: false });
			for (let i = 0; i < 7; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
			await channel.checkQueue(queue); // a round trip: the messages are in
		});
		afterAll(async () => {
			await channel?.deleteQueue(queue);
			await connection?.close();
		});
		const options = { ...RABBIT, timeoutMs: 5000 };

		it('a passive declare reads ready messages and consumers, as amqplib does', async () => {
			expect(await checkQueue(options, queue)).toEqual({ messageCount: 7, consumerCount: 0 });
			const consumer = await connection.createChannel();
			await consumer.prefetch(2);
			await consumer.consume(queue, () => undefined); // takes 2, never acknowledges them
			await new Promise((r) => setTimeout(r, 300));
			expect(await checkQueue(options, queue)).toEqual({ messageCount: 5, consumerCount: 1 });
			expect(await channel.checkQueue(queue)).toMatchObject({ messageCount: 5, consumerCount: 1 });
			await consumer.close(); // the 2 go back to ready
		});

		it('never creates a queue: a missing one is queue_not_found', async () => {
			await expect(checkQueue(options, `${queue}-missing`)).rejects.toMatchObject({
				reason: 'queue_not_found',
				message: expect.stringContaining(`queue "${queue}-missing" does not exist in vhost "/"`),
			});
			const probe = await connection.createChannel();
			probe.on('error', () => undefined); // amqplib closes the channel of a failed passive declare
			await expect(probe.checkQueue(`${queue}-missing`)).rejects.toThrow(/NOT_FOUND/);
		});

		it('a refused login, a missing vhost and a closed port are source_unreachable, without the password', async () => {
			for (const [o, pattern] of [
				[{ ...options, password: 'Secret-Wrong-1' }, /403 ACCESS_REFUSED/],
				[{ ...options, vhost: `nope-${run}` }, /530 NOT_ALLOWED/],
				[{ ...options, port: 1 }, /ECONNREFUSED/],
			] as const) {
				const error = await checkQueue(o, queue).catch((e: Error & { reason: string }) => e);
				expect(error).toMatchObject({
					reason: 'source_unreachable',
					message: expect.stringMatching(pattern),
				});
				expect((error as Error).message).not.toContain('Secret-Wrong-1');
			}
		});
	},
);

describe('RabbitMQ management API (a stand-in server with RabbitMQ 3.10’s answer)', () => {
	let server: Server;
	let base: string;
	const seen: Array<{ url?: string; auth?: string }> = [];
	let answer: { status: number; body: unknown } = { status: 200, body: {} };
	beforeAll(async () => {
		server = createServer((req, res) => {
			seen.push({ url: req.url, auth: req.headers.authorization });
			res.writeHead(answer.status, { 'content-type': 'application/json' });
			res.end(JSON.stringify(answer.body));
		});
		await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
		base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});
	afterAll(async () => await new Promise((r) => server.close(r)));
	const http: HttpGet = async (url, headers) => {
		const res = await fetch(url, { headers });
		return { status: res.status, body: await res.json().catch(() => null) };
	};
	const opts = () => ({ baseUrl: `${base}/`, vhost: '/', username: 'mon', password: 'Pw-1' });

	it('reads ready, unacknowledged, consumers and the head message age; asks for the queue in its vhost', async () => {
		const now = Date.parse('2026-12-02T10:00:00Z');
		answer = {
			status: 200,
			body: {
				name: 'ai-jobs',
				vhost: '/',
				type: 'classic',
				state: 'running',
				messages: 12,
				messages_ready: 9,
				messages_unacknowledged: 3,
				consumers: 2,
				head_message_timestamp: now / 1000 - 90,
			},
		};
		const r = await readManagementQueue(http, opts(), 'ai jobs', now);
		expect(r).toMatchObject({
			depth: 9,
			inProgress: 3,
			consumers: 2,
			oldestAgeMs: 90_000,
			notes: [],
		});
		expect(seen.at(-1)).toEqual({
			url: '/api/queues/%2F/ai%20jobs',
			auth: `Basic ${Buffer.from('mon:Pw-1').toString('base64')}`,
		});
	});

	it('says why the oldest age is unknown when the head message has no timestamp', async () => {
		answer = { status: 200, body: { messages_ready: 4, messages_unacknowledged: 0, consumers: 0 } };
		const r = await readManagementQueue(http, opts(), 'q', Date.now());
		expect(r.oldestAgeMs).toBeNull();
		expect(r.notes[0]).toMatch(/no timestamp property/);
	});

	it('404 is queue_not_found, 401 and missing statistics are source_unreachable, never with the password', async () => {
		for (const [a, reason, pattern] of [
			[{ status: 404, body: { error: 'Object Not Found' } }, 'queue_not_found', /does not exist/],
			[
				{ status: 401, body: { error: 'not_authorised' } },
				'source_unreachable',
				/monitoring or management tag/,
			],
			[{ status: 200, body: { name: 'q' } }, 'source_unreachable', /no message counts yet/],
		] as const) {
			answer = a;
			const error = await readManagementQueue(http, opts(), 'q', 0).catch((e: Error) => e);
			expect(error).toMatchObject({ reason, message: expect.stringMatching(pattern) });
			expect((error as Error).message).not.toContain('Pw-1');
		}
		const down = await readManagementQueue(
			http,
			{ ...opts(), baseUrl: 'http://127.0.0.1:1' },
			'q',
			0,
		).catch((e: Error) => e);
		expect(down).toMatchObject({ reason: 'source_unreachable' });
	});
});

// The management plugin is off on the shared broker here: point these at a broker that has it
// (e.g. RABBITMQ_MANAGEMENT_URL=http://127.0.0.1:15672 after `rabbitmq-plugins enable rabbitmq_management`).
const MANAGEMENT_URL = process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672';
const MANAGEMENT_AMQP =
	process.env.RABBITMQ_MANAGEMENT_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
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
	'RabbitMQ management API (real)',
	() => {
		const queue = `qdc-mgmt-${run}`;
		let connection: amqp.ChannelModel;
		let channel: amqp.Channel;
		const http: HttpGet = async (url, headers) => {
			const res = await fetch(url, { headers });
			return { status: res.status, body: await res.json().catch(() => null) };
		};
		const opts = { baseUrl: MANAGEMENT_URL, vhost: '/', username: 'guest', password: 'guest' };
		beforeAll(async () => {
			connection = await amqp.connect(MANAGEMENT_AMQP);
			channel = await connection.createChannel();
			await channel.assertQueue(queue, { durable: false });
		});
		afterAll(async () => {
			await channel?.deleteQueue(queue);
			await connection?.close();
		});

		it('reads ready, unacknowledged, consumers and the age of the head message from its timestamp', async () => {
			const now = Math.floor(Date.now() / 1000);
			for (const ago of [300, 120, 60])
				channel.sendToQueue(queue, Buffer.from(String(ago)), { timestamp: now - ago });
			const consumer = await connection.createChannel();
			await consumer.prefetch(1);
			await consumer.consume(queue, () => undefined); // takes the 300 s one, never acknowledges it
			// the management API shows statistics collected every 5 s
			let r: QueueReading | undefined;
			for (let i = 0; i < 40; i++) {
				r = await readManagementQueue(http, opts, queue, Date.now()).catch(() => undefined);
				if (r && r.depth === 2 && r.inProgress === 1 && r.consumers === 1) break;
				await new Promise((done) => setTimeout(done, 500));
			}
			expect(r).toMatchObject({ depth: 2, inProgress: 1, consumers: 1 });
			// RabbitMQ 3.10 counts messages delivered but not acknowledged into the head (its pending
			// acks): the 300 s one, taken by the consumer, is the oldest. Timestamps are whole seconds.
			expect(r!.oldestAgeMs).toBeGreaterThanOrEqual(299_000);
			expect(r!.oldestAgeMs).toBeLessThan(330_000);
			expect(r!.details).toMatchObject({ via: 'management', type: 'classic' });
			await consumer.close();
			await expect(
				readManagementQueue(http, opts, `${queue}-missing`, Date.now()),
			).rejects.toMatchObject({
				reason: 'queue_not_found',
			});
			const refused = await readManagementQueue(
				http,
				{ ...opts, password: 'Wrong-Pass-3' },
				queue,
				Date.now(),
			).catch((e: Error) => e);
			expect(refused).toMatchObject({ reason: 'source_unreachable' });
			expect((refused as Error).message).not.toContain('Wrong-Pass-3');
		}, 60_000);
	},
);

describeWithService(
	`Redis at ${REDIS.host}:${REDIS.port}`,
	reachable(REDIS.host, REDIS.port),
	"n8n's Bull queue (n8n 2.41.1's own bull package)",
	() => {
		const prefix = `qdc-test-${run}`;
		const name = 'jobs';
		let client: Redis;
		// eslint-disable-next-line @typescript-eslint/no-explicit-any
		let queue: any;
		const available = existsSync(N8N_BULL);
		beforeAll(async () => {
			client = new Redis(REDIS);
			if (!available) return;
			// eslint-disable-next-line @typescript-eslint/no-require-imports
			const Bull = require(N8N_BULL);
			queue = new Bull(name, { prefix, redis: REDIS });
			await queue.isReady();
		});
		afterAll(async () => {
			await queue?.close();
			const keys = await client.keys(`${prefix}:*`);
			if (keys.length) await client.del(...keys);
			client.disconnect();
		});

		it('counts waiting, active and delayed as Bull does, and finds the oldest waiting job across n8n’s priorities', async () => {
			if (!available)
				throw new Error(
					`n8n 2.41.1 is not installed at ${N8N_BULL} (scripts/n8n-runtime.js installs it)`,
				);
			// n8n's job options: priority 100, or 50 for realtime executions
			const oldest = await queue.add('job', { executionId: '1' }, { priority: 100 });
			await new Promise((r) => setTimeout(r, 20));
			await queue.add('job', { executionId: '2' }, { priority: 50 });
			await queue.add('job', { executionId: '3' }, { priority: 100 });
			await queue.add('job', { executionId: '4' }, { priority: 50 });
			await queue.add('job', { executionId: '5' }, { delay: 60_000 });
			const taken = await queue.getNextJob(); // the realtime one runs first: active
			expect(taken.data.executionId).toBe('2');
			const now = Date.now();
			const r = await readBullQueue(client, 'test Redis', prefix, name, now);
			const bull = await queue.getJobCounts();
			expect({ waiting: r.depth, active: r.inProgress, delayed: r.delayed }).toEqual({
				waiting: bull.waiting,
				active: bull.active,
				delayed: bull.delayed,
			});
			expect(r).toMatchObject({ depth: 3, inProgress: 1, delayed: 1 });
			expect(r.details.oldestJobId).toBe(String(oldest.id));
			expect(r.oldestAgeMs).toBe(now - oldest.timestamp);
			// paused: Bull moves the waiting jobs to the paused list; still waiting
			await queue.pause();
			expect((await readBullQueue(client, 'test Redis', prefix, name, now)).details).toMatchObject({
				wait: 0,
				paused: 3,
				queuePaused: true,
				oldestJobId: String(oldest.id),
			});
		});

		it('an empty prefix says where it looked; a Redis that is down is source_unreachable', async () => {
			const r = await readBullQueue(client, 'test Redis', `${prefix}-none`, name, Date.now());
			expect(r).toMatchObject({ depth: 0, oldestAgeMs: null });
			expect(r.notes[0]).toContain(`${prefix}-none:jobs:*`);
			const down = new Redis({
				port: 1,
				lazyConnect: true,
				maxRetriesPerRequest: 0,
				retryStrategy: () => null,
				enableOfflineQueue: false,
			});
			down.on('error', () => undefined);
			await expect(
				readBullQueue(down, "n8n's queue in Redis at 127.0.0.1:1", prefix, name, 0),
			).rejects.toMatchObject({ reason: 'source_unreachable' });
			down.disconnect();
		});
	},
);
