import type Redis from 'ioredis';
import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeCredentialDescription,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { sha256 } from '../../lib/hash';
import {
	SourceError,
	ageLimit,
	errorText,
	limitValue,
	runCheck,
	validateRules,
	type CheckResult,
	type QueueReading,
	type QueueRules,
	type SourceKind,
} from '../../lib/queueDepth';
import { amqpNameIssue, checkQueue } from '../../lib/queueDepth/amqp';
import { openBullClient, readBullQueue } from '../../lib/queueDepth/bull';
import { readJobQueue } from '../../lib/queueDepth/jobQueue';
import { readManagementQueue } from '../../lib/queueDepth/management';
import { jobIdIssue } from '../../lib/jobs';
import { redisConfigFromCredentials, type StateStore } from '../../lib/stores';
import { n8nRedisConfig } from '../../lib/stores/auto';
import { publishStatus, type QueueStatusEntry } from '../../lib/metrics/status';
import { describeValue, readNumber } from '../../lib/values';
import { itemParameter } from '../shared/parameters';
import { openStore, storeCredentials } from '../shared/store';
import { properties } from './properties';

const OUTPUT = { normal: 0, warn: 1, critical: 2 } as const;

/** The broker's credential for RabbitMQ; Redis and Postgres as the Store needs them. */
const credentials: INodeCredentialDescription[] = [
	{ name: 'rabbitmq', required: true, displayOptions: { show: { source: ['rabbitmq'] } } },
	...storeCredentials,
];
const MAX_TIMEOUT_SECONDS = 300;

interface Options {
	includeInProgress?: boolean;
	outputField?: string;
	reminderMinutes?: number;
	stateKey?: string;
	timeoutSeconds?: number;
	onUnreadable?: 'critical' | 'warn' | 'error';
}

type Unreadable = { reason: 'invalid_value'; message: string };

export class QueueDepthCheck implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Queue Depth Check',
		name: 'queueDepthCheck',
		icon: { light: 'file:queueDepthCheck.svg', dark: 'file:queueDepthCheck.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: `={{ (${JSON.stringify({
			rabbitmq: 'RabbitMQ',
			n8nQueue: "n8n's queue",
			jobQueue: 'Job Queue',
			expression: 'expression',
		})})[$parameter["source"]] }}`,
		description:
			'Alert once when a queue backs up: depth, oldest job age and growth against Warn and Critical (RabbitMQ, n8n queue mode, Job Queue, any number)',
		defaults: { name: 'Queue Depth Check' },
		usableAsTool: undefined, // not an agent tool (no "… Tool" variant)
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Normal', 'Warn', 'Critical'],
		credentials,
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const outputs: INodeExecutionData[][] = [[], [], []];
		if (!items.length) return outputs;

		const node = this.getNode();
		const config = (i: number, message: string) => {
			const error = new NodeOperationError(node, `Item ${i}: ${message}`, {
				itemIndex: i,
				description: "Fix the node's settings.",
			});
			error.message = `Item ${i}: ${message}`; // n8n rewrites messages that mention ECONNREFUSED & co.
			return error;
		};
		const source = this.getNodeParameter('source', 0) as SourceKind;
		const storeKind = this.getNodeParameter('store', 0, 'auto') as string;
		const options = itemParameter<Options>(this, 'options', {});
		const p = (name: string, fallback?: unknown) => itemParameter<unknown>(this, name, fallback);
		const limits = {
			warnDepth: p('warnDepth', 0),
			criticalDepth: p('criticalDepth', 0),
			warnAge: p('warnAge', 0),
			warnAgeUnit: p('warnAgeUnit', 'minute'),
			criticalAge: p('criticalAge', 0),
			criticalAgeUnit: p('criticalAgeUnit', 'minute'),
			warnGrowth: p('warnGrowth', 0),
			criticalGrowth: p('criticalGrowth', 0),
			growthChecks: p('growthChecks', 5),
		};
		const rulesFor = (i: number): QueueRules => {
			try {
				const rules: QueueRules = {
					depth: {
						warn: limitValue(limits.warnDepth(i), 'Warn Depth', true),
						critical: limitValue(limits.criticalDepth(i), 'Critical Depth', true),
					},
					oldestAge: {
						warn: ageLimit(limits.warnAge(i), limits.warnAgeUnit(i), 'Warn Oldest Job Age'),
						critical: ageLimit(
							limits.criticalAge(i),
							limits.criticalAgeUnit(i),
							'Critical Oldest Job Age',
						),
					},
					growth: {
						warn: limitValue(limits.warnGrowth(i), 'Warn Growth', true),
						critical: limitValue(limits.criticalGrowth(i), 'Critical Growth', true),
					},
					growthChecks: readNumber(limits.growthChecks(i)) ?? NaN,
					includeInProgress: options(i).includeInProgress === true,
				};
				validateRules(rules, { depth: 'Depth', oldestAge: 'Oldest Job Age', growth: 'Growth' });
				return rules;
			} catch (error) {
				throw config(i, (error as Error).message);
			}
		};
		const settingsFor = (i: number) => {
			const o = options(i);
			const outputField: unknown = o.outputField || 'queueDepth';
			if (typeof outputField !== 'string')
				throw config(i, '"Put Result in Field" must be a field name');
			const reminder = o.reminderMinutes === undefined ? 0 : readNumber(o.reminderMinutes);
			if (reminder === undefined || reminder < 0)
				throw config(i, '"Remind Every (Minutes)" must be a number of 0 or more');
			const timeout = o.timeoutSeconds === undefined ? 10 : readNumber(o.timeoutSeconds);
			if (timeout === undefined || timeout <= 0 || timeout > MAX_TIMEOUT_SECONDS)
				throw config(
					i,
					`"Timeout (Seconds)" must be more than 0 and at most ${MAX_TIMEOUT_SECONDS}`,
				);
			const onUnreadable = o.onUnreadable ?? 'critical';
			if (!['critical', 'warn', 'error'].includes(onUnreadable))
				throw config(i, '"When the Queue Cannot Be Read" has an unknown value');
			const stateKey: unknown = o.stateKey ?? '';
			if (typeof stateKey !== 'string') throw config(i, '"State Key" must be text');
			return {
				outputField,
				reminderMs: reminder * 60_000,
				timeoutMs: timeout * 1000,
				onUnreadable,
				stateKey,
			};
		};
		/** A queue name from a parameter; the message names the parameter as the editor shows it. */
		const nameParameter = (
			param: string,
			label: string,
			extra?: (name: string) => string | undefined,
		) => {
			const read = p(param, '');
			return (i: number): string => {
				const value = read(i);
				const issue = jobIdIssue(value) ?? extra?.(String(value));
				if (issue) throw config(i, `"${label}" ${issue}`);
				return String(value);
			};
		};

		if (source === 'n8nQueue' && storeKind !== 'redis' && storeKind !== 'auto')
			throw config(
				0,
				`"Queue" is n8n's own queue, which the node finds through the Store: set "Store" to Auto (this n8n's queue Redis) or to Redis with the credential of n8n's Redis (Store is ${JSON.stringify(storeKind)})`,
			);
		const store: StateStore = await openStore(this);
		const workflowId = String(this.getWorkflow().id ?? '');

		// Per source: the queue's name for item i, an identity for the state key, and its reading.
		let queueOf: (i: number) => string;
		let identity: (queue: string) => string;
		let read: (i: number, queue: string, timeoutMs: number) => Promise<QueueReading | Unreadable>;
		let cleanup = async () => {};

		if (source === 'rabbitmq') {
			const credentials = await this.getCredentials('rabbitmq');
			const host = String(credentials.hostname || 'localhost');
			const port = Number(credentials.port || 5672);
			const vhost = String(credentials.vhost || '/');
			const ssl = credentials.ssl === true;
			const via = this.getNodeParameter('rabbitVia', 0, 'amqp') as 'amqp' | 'management';
			const managementUrl = p('managementUrl', '');
			queueOf = nameParameter('queue', 'Queue Name', amqpNameIssue);
			identity = (queue) => `rabbitmq/${host}:${port}/${vhost}/${queue}`;
			read = async (i, queue, timeoutMs) => {
				if (via === 'management') {
					const raw = managementUrl(i);
					if (typeof raw !== 'string') throw config(i, '"Management URL" must be text');
					const baseUrl =
						raw.trim() || `${ssl ? 'https' : 'http'}://${host}:${ssl ? 15671 : 15672}`;
					if (!/^https?:\/\/[^\s/]+/i.test(baseUrl))
						throw config(
							i,
							`"Management URL" must start with http:// or https://, got ${describeValue(raw)}`,
						);
					return await readManagementQueue(
						async (url, headers) => {
							const response = (await this.helpers.httpRequest({
								method: 'GET',
								url,
								headers,
								json: true,
								timeout: timeoutMs,
								returnFullResponse: true,
								ignoreHttpStatusErrors: true,
							})) as { statusCode: number; body: unknown };
							return { status: response.statusCode, body: response.body };
						},
						{
							baseUrl,
							vhost,
							username: String(credentials.username ?? ''),
							password: String(credentials.password ?? ''),
						},
						queue,
						Date.now(),
					);
				}
				const info = await checkQueue(
					{
						host,
						port,
						vhost,
						username: String(credentials.username ?? ''),
						password: String(credentials.password ?? ''),
						tls: ssl
							? {
									ca: credentials.ca as string,
									cert: credentials.cert as string,
									key: credentials.key as string,
									passphrase: credentials.passphrase as string,
									external: credentials.passwordless === true,
								}
							: undefined,
						timeoutMs,
					},
					queue,
				);
				return {
					depth: info.messageCount,
					inProgress: null,
					consumers: info.consumerCount,
					delayed: null,
					oldestAgeMs: null,
					notes: [
						'AMQP gives ready messages and consumers only: unacknowledged messages and the oldest message age need the management API',
					],
					details: { via: 'amqp' },
				};
			};
		} else if (source === 'n8nQueue') {
			let c: ReturnType<typeof redisConfigFromCredentials>;
			if (storeKind === 'redis') c = redisConfigFromCredentials(await this.getCredentials('redis'));
			else
				try {
					// Auto: this n8n's queue Redis, read as n8n reads QUEUE_BULL_REDIS_*
					c = n8nRedisConfig(process.env);
				} catch (error) {
					throw config(0, `n8n's queue Redis: ${(error as Error).message}`);
				}
			const where = `n8n's queue in Redis at ${c.host}:${c.port}${c.database ? ` (database ${c.database})` : ''}`;
			const prefixParameter = nameParameter('bullPrefix', 'Key Prefix');
			const ownPrefix = process.env.QUEUE_BULL_PREFIX?.trim() || 'bull';
			const prefixOf = (i: number) =>
				this.getNodeParameter('bullPrefix', i, '') === '' ? ownPrefix : prefixParameter(i);
			queueOf = nameParameter('bullQueue', 'Queue Name');
			identity = (queue) => `n8n/${c.host}:${c.port}/${c.database}/${prefixOf(0)}:${queue}`;
			let client: Redis | undefined;
			cleanup = async () => {
				client?.disconnect();
			};
			read = async (i, queue, timeoutMs) => {
				client ??= await openBullClient(c, timeoutMs, where);
				return await readBullQueue(client, where, prefixOf(i), queue, Date.now());
			};
		} else if (source === 'jobQueue') {
			queueOf = nameParameter('jobQueue', 'Queue Name');
			identity = (queue) => `jobQueue/${queue}`;
			read = async (_i, queue) => await readJobQueue(store, queue, Date.now());
		} else if (source === 'expression') {
			queueOf = nameParameter('label', 'Queue Name');
			identity = (queue) => `expression/${queue}`;
			const depth = p('depthValue');
			const oldest = p('oldestAgeValue', '');
			const inProgress = p('inProgressValue', '');
			read = async (i) => {
				const invalid = (label: string, value: unknown): Unreadable => ({
					reason: 'invalid_value',
					message: `"${label}" must be a whole number of 0 or more, got ${describeValue(value)}`,
				});
				const optional = (value: unknown) =>
					value === '' || value === undefined || value === null ? null : readNumber(value);
				const d = depth(i);
				const dn = readNumber(d);
				if (dn === undefined || dn < 0 || !Number.isInteger(dn)) return invalid('Depth', d);
				const a = oldest(i);
				const an = optional(a);
				if (an === undefined || (an !== null && an < 0))
					return {
						...invalid('Oldest Job Age (Seconds)', a),
						message: `"Oldest Job Age (Seconds)" must be a number of 0 or more, got ${describeValue(a)}`,
					};
				const r = inProgress(i);
				const rn = optional(r);
				if (rn === undefined || (rn !== null && (rn < 0 || !Number.isInteger(rn))))
					return invalid('In Progress', r);
				return {
					depth: dn,
					inProgress: rn,
					consumers: null,
					delayed: null,
					oldestAgeMs: an === null ? null : an * 1000,
					notes: [],
					details: { via: 'expression' },
				};
			};
		} else {
			throw config(0, `"Queue": unknown source ${describeValue(source)}`);
		}

		const published: Array<{ id: string; value: QueueStatusEntry }> = [];
		try {
			for (let i = 0; i < items.length; i++) {
				const settings = settingsFor(i);
				const rules = rulesFor(i);
				const queue = queueOf(i);
				const startedAt = Date.now();
				let reading: QueueReading | Unreadable | SourceError;
				try {
					reading = await read(i, queue, settings.timeoutMs);
				} catch (error) {
					if (!(error instanceof SourceError))
						// a configuration error (NodeOperationError) stays as it is
						throw error instanceof NodeOperationError
							? error
							: config(i, `reading the queue failed unexpectedly: ${errorText(error)}`);
					reading = error;
				}
				if (reading instanceof SourceError && settings.onUnreadable === 'error') {
					const failure = config(i, reading.message);
					if (!this.continueOnFail()) throw failure;
					outputs[OUTPUT.critical].push({
						json: { ...items[i].json, error: failure.message },
						error: failure,
						pairedItem: { item: i },
					});
					continue;
				}
				const own = identity(queue);
				const key =
					settings.stateKey ||
					// hashed when long: a queue name may be 255 bytes, store keys are better short
					`${workflowId}/${node.id}/${own.length > 150 ? sha256(own).slice(0, 32) : own}`;
				const result: CheckResult = await runCheck(store, key, {
					source,
					queue,
					reading:
						reading instanceof SourceError
							? { reason: reading.reason, message: reading.message }
							: reading,
					unknownTo: settings.onUnreadable === 'warn' ? 'warn' : 'critical',
					rules,
					reminderMs: settings.reminderMs,
					nowMs: startedAt,
				});
				published.push({ id: `${source}:${queue}`, value: queueStatusOf(result) });
				outputs[OUTPUT[result.output]].push({
					json: { ...items[i].json, [settings.outputField]: result as unknown as IDataObject },
					binary: items[i].binary,
					pairedItem: { item: i },
				});
			}
			// the last reading of each queue, for the AI Usage node's metrics, dashboard and alerts
			await publishStatus(store, 'queue', published).catch((error: unknown) =>
				this.logger.warn(
					`Queue Depth Check: the reading could not be kept for the metrics (${(error as Error).message})`,
				),
			);
		} finally {
			await cleanup();
		}
		return outputs;
	}
}

function queueStatusOf(r: CheckResult): QueueStatusEntry {
	return {
		source: r.source,
		queue: r.queue,
		status: r.status,
		depth: r.depth,
		inProgress: r.inProgress,
		consumers: r.consumers,
		oldestAgeMs: r.oldestAgeMs,
		reason: r.reason,
		checkedAt: r.checkedAt,
	};
}
