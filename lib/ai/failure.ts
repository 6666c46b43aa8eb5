/** Failure classes of an AI call: the names users route on (Failed output, Fallback Router). */
export const FAILURE_CLASSES = [
	'timeout',
	'rate_limited',
	'overloaded',
	'server_error',
	'network',
	'auth',
	'bad_request',
	'context_length',
	'content_filter',
	'invalid_output',
	'budget_exceeded',
	'circuit_open',
	'simulated',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** Transient classes: worth another attempt after a wait. */
export const TRANSIENT: ReadonlySet<FailureClass> = new Set([
	'rate_limited',
	'overloaded',
	'server_error',
	'timeout',
	'network',
]);

export class AiCallError extends Error {
	constructor(
		readonly failureClass: FailureClass,
		message: string,
		readonly httpStatus?: number,
		/** What the service asked us to wait (Retry-After), in ms. */
		readonly retryAfterMs?: number,
	) {
		super(message);
	}

	get retryable(): boolean {
		return TRANSIENT.has(this.failureClass);
	}
}

const CONTEXT_MARKERS =
	/context[_ ]length|maximum context|context window|too many tokens|prompt is too long|reduce the length|max_tokens.*exceed|input is too long/i;
const CONTENT_MARKERS = /content[_ ]filter|content[_ ]policy|safety system|responsible ai/i;

/** Class of an HTTP error answer, from its status and the provider's error text. */
export function classifyStatus(status: number, errorText: string): FailureClass {
	if (status === 429) return 'rate_limited';
	if (status === 529 || status === 503) return 'overloaded';
	if (status === 408) return 'timeout';
	if (status === 401 || status === 403) return 'auth';
	if (status === 413) return 'context_length'; // the input is too large for the API
	if (status >= 500) return 'server_error';
	if (CONTEXT_MARKERS.test(errorText)) return 'context_length';
	if (CONTENT_MARKERS.test(errorText)) return 'content_filter';
	return 'bad_request';
}

/** Retry-After as seconds or an HTTP date; OpenAI also sends retry-after-ms. */
export function retryAfterMs(
	headers: Record<string, unknown>,
	now = Date.now(),
): number | undefined {
	const ms = Number(headers['retry-after-ms'] ?? NaN);
	if (Number.isFinite(ms) && ms >= 0) return ms;
	const raw = headers['retry-after'];
	if ((typeof raw !== 'string' && typeof raw !== 'number') || !String(raw).trim()) return undefined;
	const seconds = Number(raw);
	if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
	const date = Date.parse(String(raw));
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const NETWORK_CODES = new Set([
	'ECONNRESET',
	'ECONNREFUSED',
	'ENOTFOUND',
	'EAI_AGAIN',
	'EPIPE',
	'ETIMEDOUT',
	'EHOSTUNREACH',
	'ENETUNREACH',
	'ERR_SOCKET_CONNECTION_TIMEOUT',
	'UND_ERR_SOCKET',
	'ERR_BAD_RESPONSE',
	'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Error codes anywhere in an error's cause chain (n8n wraps the HTTP client's error). */
function codesOf(error: unknown): string[] {
	const codes: string[] = [];
	let e = error as { code?: unknown; cause?: unknown; errno?: unknown } | undefined;
	for (let depth = 0; e && depth < 6; depth++) {
		if (typeof e.code === 'string') codes.push(e.code);
		e = e.cause as typeof e;
	}
	return codes;
}

/** A thrown transport error (no HTTP answer): network trouble, mostly. */
export function classifyThrown(error: unknown): AiCallError {
	if (error instanceof AiCallError) return error;
	const codes = codesOf(error);
	const message = (error as Error)?.message ?? String(error);
	if (codes.includes('ECONNABORTED') || /timeout of \d+ms exceeded/.test(message)) {
		return new AiCallError('timeout', `No answer in time: ${message.slice(0, 200)}`);
	}
	const code = codes.find((c) => NETWORK_CODES.has(c)) ?? codes[0];
	return new AiCallError(
		'network',
		`Network error${code ? ` (${code})` : ''}: ${message.slice(0, 300)}`,
	);
}
