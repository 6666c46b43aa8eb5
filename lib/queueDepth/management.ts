/**
 * RabbitMQ's management HTTP API (plugin rabbitmq_management, port 15672 by default, 15671 with
 * TLS): GET /api/queues/<vhost>/<queue> gives ready and unacknowledged messages, consumers and
 * `head_message_timestamp`, the AMQP `timestamp` property (whole seconds) of the message at the
 * head of the queue, which in RabbitMQ 3.10 includes messages delivered but not yet acknowledged
 * (measured: a consumer holding the oldest message keeps it the head). So the age is that of the
 * oldest message not yet acknowledged. It exists only when publishers set the property; n8n's RabbitMQ node
 * does not, so for its messages the oldest age stays unknown. The user needs the `monitoring`
 * (or `management`) tag.
 */
import { SourceError, type QueueReading } from './types';

/** The HTTP call, injected: the node passes n8n's request helper (proxies, timeouts). */
export type HttpGet = (
	url: string,
	headers: Record<string, string>,
) => Promise<{ status: number; body: unknown }>;

export interface ManagementOptions {
	/** E.g. http://rabbit:15672 (no trailing path). */
	baseUrl: string;
	vhost: string;
	username: string;
	password: string;
}

const count = (v: unknown): number | null =>
	typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;

export async function readManagementQueue(
	http: HttpGet,
	options: ManagementOptions,
	queue: string,
	nowMs: number,
): Promise<QueueReading> {
	const base = options.baseUrl.replace(/\/+$/, '');
	const url = `${base}/api/queues/${encodeURIComponent(options.vhost)}/${encodeURIComponent(queue)}`;
	const where = `RabbitMQ management API at ${base}`;
	const auth = Buffer.from(`${options.username}:${options.password}`).toString('base64');
	let response: { status: number; body: unknown };
	try {
		response = await http(url, { Authorization: `Basic ${auth}`, Accept: 'application/json' });
	} catch (error) {
		// the helper's message may quote the request; keep only what names the failure
		const e = error as { code?: string; cause?: { code?: string }; message?: string };
		const code = e.code ?? e.cause?.code;
		throw new SourceError(
			'source_unreachable',
			`${where}: ${code ?? 'request failed'}${code ? '' : ` (${String(e.message ?? '').replace(/\/\/[^@/]*@/g, '//')})`}`,
		);
	}
	if (response.status === 404)
		throw new SourceError(
			'queue_not_found',
			`${where}: queue ${JSON.stringify(queue)} does not exist in vhost ${JSON.stringify(options.vhost)} (or the vhost does not)`,
		);
	if (response.status === 401 || response.status === 403)
		throw new SourceError(
			'source_unreachable',
			`${where}: HTTP ${response.status}, login refused (the user needs the monitoring or management tag)`,
		);
	if (response.status !== 200)
		throw new SourceError('source_unreachable', `${where}: HTTP ${response.status}`);
	const q = (response.body ?? {}) as Record<string, unknown>;
	const ready = count(q.messages_ready);
	if (ready === null)
		// a queue declared a moment ago has no statistics until the next collection (5 s)
		throw new SourceError(
			'source_unreachable',
			`${where}: queue ${JSON.stringify(queue)} has no message counts yet (statistics not collected)`,
		);
	const notes: string[] = [];
	const head = q.head_message_timestamp;
	let oldestAgeMs: number | null = null;
	if (typeof head === 'number' && Number.isFinite(head) && head > 0)
		oldestAgeMs = Math.max(0, nowMs - head * 1000);
	else if (ready > 0)
		notes.push(
			'oldest age unknown: the message at the head of the queue has no timestamp property (the publisher must set it)',
		);
	return {
		depth: ready,
		inProgress: count(q.messages_unacknowledged),
		consumers: count(q.consumers),
		delayed: null,
		oldestAgeMs,
		notes,
		details: {
			via: 'management',
			type: typeof q.type === 'string' ? q.type : null,
			state: typeof q.state === 'string' ? q.state : null,
			headMessageTimestamp:
				typeof head === 'number' && head > 0 ? new Date(head * 1000).toISOString() : null,
		},
	};
}
