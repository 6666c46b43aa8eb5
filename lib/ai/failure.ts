/** Failure classes of an AI call: the names users route on (Failed output, Fallback Router). */
export const FAILURE_CLASSES = [
	'timeout',
	'rate_limited',
	'overloaded',
	'server_error',
	'network',
	'auth',
	'egress_blocked',
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

/**
 * The longest Retry-After taken from a service (24 h). A hostile or broken `retry-after: 1e20` or a
 * date in the year 9999 would otherwise travel on as a wait no date can hold.
 */
export const MAX_RETRY_AFTER_MS = 86_400_000;

const headerValue = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

/** Retry-After as seconds or an HTTP date; OpenAI also sends retry-after-ms. Capped at MAX_RETRY_AFTER_MS. */
export function retryAfterMs(
	headers: Record<string, unknown>,
	now = Date.now(),
): number | undefined {
	const cap = (ms: number) => Math.round(Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)));
	const rawMs = headerValue(headers['retry-after-ms']);
	const ms =
		(typeof rawMs === 'string' && rawMs.trim()) || typeof rawMs === 'number' ? Number(rawMs) : NaN;
	if (ms >= 0) return cap(ms);
	const raw = headerValue(headers['retry-after']);
	if ((typeof raw !== 'string' && typeof raw !== 'number') || !String(raw).trim()) return undefined;
	const seconds = Number(raw);
	// "1e999" is Infinity seconds: capped like any other huge wait
	if (!Number.isNaN(seconds)) return cap(seconds * 1000);
	const date = Date.parse(String(raw));
	return Number.isNaN(date) ? undefined : cap(date - now);
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

/** n8n's SSRF protection (@n8n/backend-network) refuses a destination with one of these errors. */
const SSRF_ERRORS = new Set(['SsrfBlockedIpError', 'SsrfBlockedHostnameError']);

/** The SSRF refusal in an error's cause chain (n8n wraps it in a NodeApiError), if there is one. */
function ssrfRefusal(error: unknown): { hostname?: string; ip?: string } | undefined {
	let e = error as
		| { name?: unknown; cause?: unknown; hostname?: unknown; ip?: unknown }
		| undefined;
	for (let depth = 0; e && depth < 6; depth++) {
		if (typeof e.name === 'string' && SSRF_ERRORS.has(e.name)) {
			return {
				hostname: typeof e.hostname === 'string' ? e.hostname : undefined,
				ip: typeof e.ip === 'string' ? e.ip : undefined,
			};
		}
		e = e.cause as typeof e;
	}
	return undefined;
}

/** A thrown transport error (no HTTP answer): network trouble, mostly. `url`: where the call went. */
export function classifyThrown(error: unknown, url?: string): AiCallError {
	if (error instanceof AiCallError) return error;
	const refused = ssrfRefusal(error);
	if (refused) {
		let host = refused.hostname;
		if (!host && url) {
			try {
				host = new URL(url).hostname;
			} catch {
				// the IP below is enough
			}
		}
		const target =
			host && refused.ip && host !== refused.ip
				? `${host} (${refused.ip})`
				: (host ?? refused.ip ?? 'the Base URL');
		return new AiCallError(
			'egress_blocked',
			`n8n's SSRF protection refused ${target}: allow it in N8N_SSRF_ALLOWED_HOSTNAMES or N8N_SSRF_ALLOWED_IP_RANGES (n8n's environment), or use another Base URL`,
		);
	}
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
