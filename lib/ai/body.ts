/** Reading an AI service's answer body ourselves: a size cap, an abort that closes the socket, strict UTF-8. */
import type { Readable } from 'node:stream';

import { AiCallError } from './failure';

/** The largest answer body read (16 MiB): far above any chat answer, far below what hurts the process. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * The body as text. Destroying the stream closes the connection, so an abort (timeout, cancel) or a
 * body over `maxBytes` ends the exchange at once instead of when the service finishes. A 2xx body must
 * be UTF-8 (JSON is, RFC 8259); error bodies are decoded leniently, their status says enough.
 */
export async function readBodyText(
	stream: Readable,
	status: number,
	signal: AbortSignal,
	{
		maxBytes = MAX_RESPONSE_BYTES,
		onChunk,
	}: { maxBytes?: number; onChunk?: (text: string) => void } = {},
): Promise<string> {
	const chunks: Buffer[] = [];
	// a streamed 2xx answer: its text as it arrives (a character split across chunks waits for its rest)
	const live = onChunk && status >= 200 && status < 300 ? new TextDecoder('utf-8') : undefined;
	let size = 0;
	const onAbort = () => stream.destroy();
	if (signal.aborted) onAbort();
	signal.addEventListener('abort', onAbort, { once: true });
	try {
		for await (const chunk of stream) {
			const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
			size += buffer.length;
			if (size > maxBytes) {
				stream.destroy();
				throw new AiCallError(
					'server_error',
					`The AI service's answer is larger than ${Math.round(maxBytes / 1048576)} MiB; it was not read further`,
					status,
				);
			}
			chunks.push(buffer);
			if (live) {
				const text = live.decode(buffer, { stream: true });
				if (text) onChunk!(text);
			}
		}
	} catch (error) {
		// destroyed by our abort: the abort's reason, not the stream's "premature close"
		throw signal.aborted ? signal.reason : error;
	} finally {
		signal.removeEventListener('abort', onAbort);
	}
	if (signal.aborted) throw signal.reason;
	const bytes = Buffer.concat(chunks);
	if (status < 200 || status >= 300) return bytes.toString('utf8');
	try {
		return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		throw new AiCallError(
			'server_error',
			`The AI service answered ${status} with a body that is not valid UTF-8`,
			status,
		);
	}
}
