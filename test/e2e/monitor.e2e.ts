import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';

import {
	importSamples,
	installPackage,
	N8nApi,
	startN8n,
	type RunningN8n,
} from '../../scripts/n8n-runtime';
import { startSimulator, type Simulator } from '../../simulator';
import { describeWithService, reachable } from '../stores/backends';
import { eventually, printLogsOnFailure } from './helpers';

// The queue monitor sample (#15) in real n8n, on a RabbitMQ queue of this run's own: as the queue
// fills and drains it goes Normal → Warn → Critical → Normal and alerts once per change.
const RABBITMQ = { host: '127.0.0.1', port: 5672 };
const QUEUE = `monitor-e2e-${process.pid}-${Date.now()}`;
const WARN = 20;
const CRITICAL = 60;

let n8n: RunningN8n;
let sim: Simulator;
let userFolder: string;
let connection: Awaited<ReturnType<typeof amqp.connect>>;
let channel: amqp.Channel;

interface Alert {
	queue: string;
	status: string;
	previousStatus: string | null;
	reminder: boolean;
	depth: number;
}

describeWithService(
	'RabbitMQ',
	reachable(RABBITMQ.host, RABBITMQ.port),
	'queue monitor: alerts once per change as a queue fills and drains',
	() => {
		printLogsOnFailure(() => n8n);

		beforeAll(async () => {
			connection = await amqp.connect(`amqp://guest:guest@${RABBITMQ.host}:${RABBITMQ.port}`);
			channel = await connection.createChannel();
			await channel.assertQueue(QUEUE, { durable: false });
			userFolder = mkdtempSync(join(tmpdir(), 'n8n-e2e-monitor-'));
			await installPackage(userFolder, { mode: 'pack' });
			sim = await startSimulator({});
			n8n = await startN8n({ userFolder });
			const api = new N8nApi(n8n.url);
			await api.setupOwner();
			const { id } = await api.createCredential('RabbitMQ', 'rabbitmq', {
				hostname: RABBITMQ.host,
				port: RABBITMQ.port,
				username: 'guest',
				password: 'guest',
				vhost: '/',
			});
			await importSamples(api, {
				credentials: { rabbitmq: { id, name: 'RabbitMQ' } },
				simUrl: sim.url,
				only: ['queue-monitor'],
				patch: (workflow: {
					nodes: Array<{ name: string; disabled?: boolean; parameters: Record<string, unknown> }>;
				}) => {
					for (const node of workflow.nodes) {
						if (node.name === 'Every minute')
							node.parameters.rule = { interval: [{ field: 'seconds', secondsInterval: 2 }] };
						if (node.name === 'RabbitMQ queue depth')
							Object.assign(node.parameters, {
								queue: QUEUE,
								warnDepth: WARN,
								criticalDepth: CRITICAL,
								warnGrowth: 0,
								criticalGrowth: 0,
							});
						// this test watches the RabbitMQ queue only
						if (node.name === 'Job Queue depth') node.disabled = true;
					}
				},
			});
		}, 900_000);

		afterAll(async () => {
			await channel?.deleteQueue(QUEUE).catch(() => undefined);
			await connection?.close().catch(() => undefined);
			await n8n?.stop();
			await sim?.close();
			if (userFolder) rmSync(userFolder, { recursive: true, force: true });
		});

		const alerts = () =>
			sim
				.inbox('alerts')
				.map((e) => e.body as Alert)
				.filter((a) => a.queue === QUEUE);
		const publish = (n: number) => {
			for (let i = 0; i < n; i++) channel.sendToQueue(QUEUE, Buffer.from(`job ${i}`));
		};
		const nextAlert = (count: number) =>
			eventually(`alert ${count}`, () => (alerts().length >= count ? alerts() : undefined), 60_000);

		it('Warn, then Critical, then Normal: one alert per change, none while it stays', async () => {
			// a few checks of an empty queue: Normal from the first, nothing to say
			await new Promise((r) => setTimeout(r, 8_000));
			expect(alerts()).toEqual([]);

			publish(WARN + 10);
			await nextAlert(1);
			publish(CRITICAL - WARN);
			await nextAlert(2);
			await channel.purgeQueue(QUEUE);
			await nextAlert(3);
			// more checks, no change: no more alerts
			await new Promise((r) => setTimeout(r, 8_000));
			const got = alerts();
			process.stderr.write(
				`\nqueue monitor alerts: ${JSON.stringify(got.map((a) => `${a.previousStatus ?? 'new'} → ${a.status} (depth ${a.depth})`))}\n`,
			);
			expect(got.map((a) => [a.previousStatus, a.status, Boolean(a.reminder)])).toEqual([
				['normal', 'warn', false],
				['warn', 'critical', false],
				['critical', 'normal', false],
			]);
			expect(got[1].depth).toBeGreaterThan(CRITICAL);
		});
	},
);
