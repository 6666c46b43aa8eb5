/**
 * The one AMQP 0-9-1 exchange the depth check needs: connect, open a channel, declare the queue
 * passively (it is never created) and read Declare-Ok's message and consumer counts. Written out
 * here rather than taken from amqplib, which n8n ships for its own nodes but a community package
 * cannot rely on; a passive declare is a handful of frames.
 *
 * What AMQP gives: messages ready for delivery and consumers. Not unacknowledged messages, not
 * the age of any message (use the management API for those).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

import { SourceError, errorText } from './types';

export interface AmqpOptions {
	host: string;
	port: number;
	vhost: string;
	username: string;
	password: string;
	/** TLS (amqps); `external`: authenticate by the client certificate (SASL EXTERNAL). */
	tls?: { ca?: string; cert?: string; key?: string; passphrase?: string; external?: boolean };
	timeoutMs: number;
}

export interface AmqpQueueInfo {
	messageCount: number;
	consumerCount: number;
}

const FRAME_METHOD = 1;
const FRAME_HEARTBEAT = 8;
const FRAME_END = 0xce;

const method = (classId: number, methodId: number) => classId * 65536 + methodId;
const CONNECTION_START = method(10, 10);
const CONNECTION_TUNE = method(10, 30);
const CONNECTION_OPEN_OK = method(10, 41);
const CONNECTION_CLOSE = method(10, 50);
const CHANNEL_OPEN_OK = method(20, 11);
const CHANNEL_CLOSE = method(20, 40);
const QUEUE_DECLARE_OK = method(50, 11);

/** Encoders for the few AMQP field types the client sends. */
const shortstr = (s: string) => {
	const b = Buffer.from(s, 'utf8');
	if (b.length > 255) throw new Error('longer than 255 bytes');
	return Buffer.concat([Buffer.from([b.length]), b]);
};
const longstr = (b: Buffer) => {
	const len = Buffer.alloc(4);
	len.writeUInt32BE(b.length);
	return Buffer.concat([len, b]);
};
const u16 = (n: number) => {
	const b = Buffer.alloc(2);
	b.writeUInt16BE(n);
	return b;
};
const u32 = (n: number) => {
	const b = Buffer.alloc(4);
	b.writeUInt32BE(n);
	return b;
};
/** A field table of strings, booleans and nested tables. */
function table(fields: Record<string, string | boolean | Record<string, boolean>>): Buffer {
	const parts: Buffer[] = [];
	for (const [name, value] of Object.entries(fields)) {
		parts.push(shortstr(name));
		if (typeof value === 'string') parts.push(Buffer.from('S'), longstr(Buffer.from(value)));
		else if (typeof value === 'boolean') parts.push(Buffer.from('t'), Buffer.from([value ? 1 : 0]));
		else parts.push(Buffer.from('F'), table(value));
	}
	return longstr(Buffer.concat(parts));
}

function frame(classId: number, methodId: number, args: Buffer[], channel = 0): Buffer {
	const payload = Buffer.concat([u16(classId), u16(methodId), ...args]);
	const header = Buffer.alloc(7);
	header.writeUInt8(FRAME_METHOD, 0);
	header.writeUInt16BE(channel, 1);
	header.writeUInt32BE(payload.length, 3);
	return Buffer.concat([header, payload, Buffer.from([FRAME_END])]);
}

/** The AMQP name of a queue or vhost, or why it cannot be one. */
export function amqpNameIssue(name: string): string | undefined {
	if (name === '') return 'is empty';
	if (Buffer.byteLength(name) > 255) return 'is longer than 255 bytes (AMQP allows no more)';
	return undefined;
}

/**
 * Passive queue.declare: the queue's ready messages and consumers. Throws SourceError with
 * `queue_not_found` (404) or `source_unreachable` (network, TLS, login, vhost, timeout).
 */
export async function checkQueue(options: AmqpOptions, queue: string): Promise<AmqpQueueInfo> {
	const where = `RabbitMQ at ${options.host}:${options.port}`;
	return await new Promise<AmqpQueueInfo>((resolve, reject) => {
		let socket: Socket;
		let buffer: Buffer = Buffer.alloc(0);
		let settled = false;
		let step: 'start' | 'tune' | 'open' | 'channel' | 'declare' = 'start';
		const finish = (error: SourceError | undefined, info?: AmqpQueueInfo) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			if (!error) {
				// Polite close; the answer is in, so no need to wait for Close-Ok.
				socket.end(frame(10, 50, [u16(200), shortstr('bye'), u16(0), u16(0)]));
			} else socket.destroy();
			if (error) reject(error);
			else resolve(info!);
		};
		const unreachable = (what: string) =>
			finish(new SourceError('source_unreachable', `${where}: ${what}`));
		const timer = setTimeout(
			() => unreachable(`no answer within ${options.timeoutMs} ms (step: ${step})`),
			options.timeoutMs,
		);

		const onMethod = (id: number, args: Buffer) => {
			if (id === CONNECTION_CLOSE || id === CHANNEL_CLOSE) {
				const code = args.readUInt16BE(0);
				const text = args.subarray(3, 3 + args.readUInt8(2)).toString('utf8');
				if (id === CHANNEL_CLOSE && code === 404)
					return finish(
						new SourceError(
							'queue_not_found',
							`${where}: queue ${JSON.stringify(queue)} does not exist in vhost ${JSON.stringify(options.vhost)}`,
						),
					);
				return unreachable(
					`the broker closed the ${id === CHANNEL_CLOSE ? 'channel' : 'connection'}: ${code} ${text}`,
				);
			}
			if (step === 'start' && id === CONNECTION_START) {
				const external = options.tls?.external === true;
				const response = external
					? Buffer.alloc(0)
					: Buffer.from(`\0${options.username}\0${options.password}`, 'utf8');
				const clientProperties = table({
					product: 'n8n-nodes-ai-patterns queue depth check',
					capabilities: { authentication_failure_close: true },
				});
				step = 'tune';
				return socket.write(
					frame(10, 11, [
						clientProperties,
						shortstr(external ? 'EXTERNAL' : 'PLAIN'),
						longstr(response),
						shortstr('en_US'),
					]),
				);
			}
			if (step === 'tune' && id === CONNECTION_TUNE) {
				const channelMax = args.readUInt16BE(0) || 1;
				const frameMax = args.readUInt32BE(2);
				step = 'open';
				// heartbeat 0: the connection lives for a few round trips
				socket.write(frame(10, 31, [u16(Math.min(channelMax, 1)), u32(frameMax), u16(0)]));
				return socket.write(
					frame(10, 40, [shortstr(options.vhost), shortstr(''), Buffer.from([0])]),
				);
			}
			if (step === 'open' && id === CONNECTION_OPEN_OK) {
				step = 'channel';
				return socket.write(frame(20, 10, [shortstr('')], 1));
			}
			if (step === 'channel' && id === CHANNEL_OPEN_OK) {
				step = 'declare';
				// reserved, queue, bits (passive), no arguments
				return socket.write(frame(50, 10, [u16(0), shortstr(queue), Buffer.from([1]), u32(0)], 1));
			}
			if (step === 'declare' && id === QUEUE_DECLARE_OK) {
				const nameLength = args.readUInt8(0);
				return finish(undefined, {
					messageCount: args.readUInt32BE(1 + nameLength),
					consumerCount: args.readUInt32BE(5 + nameLength),
				});
			}
			unreachable(`unexpected AMQP method ${Math.floor(id / 65536)}.${id % 65536} at step ${step}`);
		};

		const onData = (chunk: Buffer) => {
			buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
			while (!settled && buffer.length >= 8) {
				if (step === 'start' && buffer.subarray(0, 4).toString('latin1') === 'AMQP')
					return unreachable('the broker does not speak AMQP 0-9-1');
				const type = buffer.readUInt8(0);
				const size = buffer.readUInt32BE(3);
				if (buffer.length < size + 8) return;
				if (buffer.readUInt8(7 + size) !== FRAME_END) return unreachable('malformed AMQP frame');
				const payload = buffer.subarray(7, 7 + size);
				buffer = buffer.subarray(8 + size);
				if (type === FRAME_HEARTBEAT) continue;
				if (type !== FRAME_METHOD || payload.length < 4) continue;
				try {
					onMethod(payload.readUInt16BE(0) * 65536 + payload.readUInt16BE(2), payload.subarray(4));
				} catch (error) {
					unreachable(`unreadable AMQP frame (${errorText(error)})`);
				}
			}
		};

		const greet = () => socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]));
		try {
			socket = options.tls
				? tlsConnect(
						{
							host: options.host,
							port: options.port,
							servername: options.host,
							ca: options.tls.ca || undefined,
							cert: options.tls.cert || undefined,
							key: options.tls.key || undefined,
							passphrase: options.tls.passphrase || undefined,
						},
						greet,
					)
				: netConnect({ host: options.host, port: options.port }, greet);
		} catch (error) {
			clearTimeout(timer);
			reject(new SourceError('source_unreachable', `${where}: ${errorText(error)}`));
			return;
		}
		socket.on('data', onData);
		socket.on('error', (error) => unreachable(errorText(error)));
		socket.on('close', () => {
			if (step === 'tune')
				unreachable('the broker refused the login (user, password or mechanism)');
			else unreachable('the broker closed the connection');
		});
	});
}
