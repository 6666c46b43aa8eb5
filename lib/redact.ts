/**
 * Redaction of secrets in what a node emits. Some gateways quote the request back (the API key
 * included) in their error bodies, and an error message carries that text on: every text the node
 * writes itself (error messages, log lines) goes through `text`; the model's own answer goes through
 * `exact` only, so that an answer about "Bearer tokens" keeps its words while the credential's key
 * never leaves.
 */
import { parseExtraHeaders } from './provider';

export const REDACTED = '[redacted]';

/** Shorter values are not treated as secrets: redacting "1" or "abc" would shred every message. */
const MIN_SECRET_LENGTH = 6;

/** Token shapes that are secrets wherever they appear, whoever's they are. */
const PATTERNS: Array<[RegExp, string]> = [
	// Authorization: Bearer … / Basic …
	[/\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${REDACTED}`],
	// OpenAI / Anthropic / OpenRouter style keys: sk-…, sk-ant-…, sk-or-v1-…
	[/\bsk-[A-Za-z0-9_-]{8,}/g, REDACTED],
	// a key header quoted as "name: value", name=value or JSON "name":"value"
	[
		/\b((?:x-api-key|api-key|x-goog-api-key|authorization|proxy-authorization)["']?\s*[:=]\s*["']?)(?!Bearer\b|Basic\b|\[redacted\])[^\s"',;}]+/gi,
		`$1${REDACTED}`,
	],
	// user:password@ in a URL
	[/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]*@/gi, `$1${REDACTED}@`],
	// ?key=… &api_key=… &token=… in a URL
	[/([?&](?:api[-_]?key|key|token|access_token|sig)=)[^&\s"'#]+/gi, `$1${REDACTED}`],
];

export interface Redactor {
	/** Texts the node writes: the secrets and every token-shaped value removed. */
	text(value: string): string;
	/** The model's answer: only the secrets themselves removed (strings inside objects and arrays too). */
	exact<T>(value: T): T;
	/**
	 * A streamed answer, as `exact` would leave it: each piece out as it comes, except the last few
	 * characters (one less than the longest secret), held until the next piece or `end`, so that a
	 * secret split across pieces is still removed whole.
	 */
	stream(): { push(piece: string): string; end(): string };
}

/** The secrets of an AI Service credential: the API key and every Extra Headers value. */
export function credentialSecrets(credentials: Record<string, unknown> | undefined): string[] {
	if (!credentials) return [];
	const secrets: string[] = [];
	if (typeof credentials.apiKey === 'string') secrets.push(credentials.apiKey);
	try {
		secrets.push(...Object.values(parseExtraHeaders(credentials.extraHeaders)));
	} catch {
		// a broken Extra Headers field fails the call elsewhere; its raw text is still a secret
		if (typeof credentials.extraHeaders === 'string') secrets.push(credentials.extraHeaders);
	}
	return secrets;
}

export function createRedactor(secrets: Iterable<string>): Redactor {
	const forms = new Set<string>();
	for (const raw of secrets) {
		const secret = raw?.trim();
		if (!secret || secret.length < MIN_SECRET_LENGTH) continue;
		// as sent, as a JSON string quotes it, as a URL encodes it
		forms.add(secret);
		forms.add(JSON.stringify(secret).slice(1, -1));
		forms.add(encodeURIComponent(secret));
	}
	// longest first, so a secret that contains another is removed whole
	const ordered = [...forms].sort((a, b) => b.length - a.length);
	const exactText = (value: string): string => {
		let out = value;
		for (const form of ordered) if (out.includes(form)) out = out.split(form).join(REDACTED);
		return out;
	};
	const deep = (value: unknown, depth: number): unknown => {
		if (typeof value === 'string') return exactText(value);
		if (depth > 100 || typeof value !== 'object' || value === null) return value;
		if (Array.isArray(value)) return value.map((v) => deep(v, depth + 1));
		return Object.fromEntries(
			Object.entries(value).map(([k, v]) => [exactText(k), deep(v, depth + 1)]),
		);
	};
	return {
		text: (value) => {
			let out = exactText(String(value));
			for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
			return out;
		},
		exact: <T>(value: T) => (ordered.length ? (deep(value, 0) as T) : value),
		stream: () => {
			const hold = Math.max(0, (ordered[0]?.length ?? 0) - 1);
			let pending = '';
			return {
				push(piece) {
					pending = exactText(pending + piece);
					const out = pending.slice(0, Math.max(0, pending.length - hold));
					pending = pending.slice(out.length);
					return out;
				},
				end() {
					const out = exactText(pending);
					pending = '';
					return out;
				},
			};
		},
	};
}
