/** What a queue source reports in one reading; see lib/queueDepth.ts for how it is judged. */

export type SourceKind = 'rabbitmq' | 'n8nQueue' | 'jobQueue' | 'expression';

export interface QueueReading {
	/** Jobs or messages waiting for a consumer (ready, waiting, queued). */
	depth: number;
	/** Taken but not finished (unacknowledged, active, running); null: the source cannot tell. */
	inProgress: number | null;
	/** Consumers attached (RabbitMQ only); null elsewhere. */
	consumers: number | null;
	/** Scheduled for later (n8n's delayed jobs); null where there is no such state. */
	delayed: number | null;
	/** How long the oldest waiting job has waited (ms); null: the queue is empty or the source cannot tell. */
	oldestAgeMs: number | null;
	/** What this reading cannot say and why, e.g. the oldest age without a message timestamp. */
	notes: string[];
	/** The source's own figures (counts by status, the oldest job's id …). */
	details: Record<string, unknown>;
}

export type UnreadableReason = 'source_unreachable' | 'queue_not_found' | 'invalid_value';

/** A source that could not be read: the check reports it (status unknown), it is not a crash. */
export class SourceError extends Error {
	constructor(
		readonly reason: UnreadableReason,
		message: string,
	) {
		super(message);
		this.name = 'SourceError';
	}
}

/** A short text for an unexpected error: its code and message, never the object itself. */
export function errorText(error: unknown): string {
	// duck-typed: errors from Node's own realm are not `instanceof Error` in a vm context (jest)
	if (error && typeof error === 'object' && typeof (error as Error).message === 'string') {
		const { code, message } = error as NodeJS.ErrnoException;
		return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
	}
	return typeof error === 'string' ? error : 'unknown error';
}
