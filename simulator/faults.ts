/**
 * Fault specs: one small text syntax for the `--fault` flag, the `x-sim-fault` header and
 * `[[sim: …]]` directives inside a prompt, so a test, a demo or a drill sets the same faults.
 *
 *   latency=300 | latency=100-900        delay before answering (fixed or uniform random)
 *   status=429 | status=429,500,503      answer with that error (one picked at random from a list)
 *   retry-after=2                        seconds in Retry-After (429 / 503 / 529; default 1 for 429)
 *   hang                                 never answer (the client must time out)
 *   reset                                reset the TCP connection without answering
 *   malformed-json                       200 with a body that is not JSON
 *   truncated                            200 whose body stops half way (connection closed early)
 *   stream-cut                           a stream (stream: true) sends its first events and the first half of the
 *                                        answer's pieces, then the connection closes without the end (truncated
 *                                        when not streamed)
 *   html-error                           an HTML error page, as a proxy in front of the API sends (502 unless status= is given)
 *   empty-choices                        200 with no choices (OpenAI) or no content blocks (Anthropic)
 *   invalid-json-output                  the model ignores the JSON instruction and answers in prose
 *   schema-mismatch                      the model answers JSON that misses the schema's required fields
 *   context-length                       400 "context length exceeded" in the provider's format
 *   content-filter                       the answer is withheld by the content filter
 *   trickle | trickle=3000               200 headers at once, then the body in small pieces over that many ms (default 2000);
 *                                        a stream's events spread over that time
 *   echo-key                             the service echoes the request's headers (the API key too): into the
 *                                        answer text, or into the error body with status= (as some gateways do)
 *   hostile=<variant>                    a 200 answer a broken or hostile service sends: not-object, null,
 *                                        choices-string, usage-strings, usage-negative, usage-huge, non-utf8, huge
 *   rate=0.3                             apply the fault to this share of requests only (latency always applies)
 *   fail-first=2                         apply the fault to the first N matching requests, then succeed
 *   key=job-7                            scope for fail-first and the per-key counters
 *
 * Parts are separated by `;`. Example: `fail-first=2;status=503;key=doc-1`.
 */

export type FaultKind =
	| 'status'
	| 'hang'
	| 'reset'
	| 'malformed-json'
	| 'truncated'
	| 'stream-cut'
	| 'html-error'
	| 'empty-choices'
	| 'invalid-json-output'
	| 'schema-mismatch'
	| 'context-length'
	| 'content-filter'
	| 'trickle'
	| 'echo-key'
	| 'hostile';

/** Answers of a broken or hostile service (`hostile=<variant>`). */
export const HOSTILE_VARIANTS = [
	'not-object',
	'null',
	'choices-string',
	'usage-strings',
	'usage-negative',
	'usage-huge',
	'non-utf8',
	'huge',
] as const;
export type HostileVariant = (typeof HOSTILE_VARIANTS)[number];

export const FAULT_KINDS: readonly FaultKind[] = [
	'status',
	'hang',
	'reset',
	'malformed-json',
	'truncated',
	'stream-cut',
	'html-error',
	'empty-choices',
	'invalid-json-output',
	'schema-mismatch',
	'context-length',
	'content-filter',
	'trickle',
	'echo-key',
	'hostile',
];

export interface FaultSpec {
	/** The text it was parsed from; also the default scope of fail-first. */
	source: string;
	latencyMs?: { min: number; max: number };
	kind?: FaultKind;
	statuses?: number[];
	retryAfterSec?: number;
	rate: number;
	failFirst?: number;
	key?: string;
	/** trickle: how long the body takes to arrive. */
	trickleMs?: number;
	hostile?: HostileVariant;
}

const FLAG_KINDS = new Set<string>(FAULT_KINDS.filter((k) => k !== 'status' && k !== 'hostile'));

export class FaultSpecError extends Error {}

export function parseFaultSpec(text: string): FaultSpec {
	const spec: FaultSpec = { source: text.trim(), rate: 1 };
	const flags: FaultKind[] = [];
	for (const rawPart of text.split(';')) {
		const part = rawPart.trim();
		if (!part) continue;
		const eq = part.indexOf('=');
		const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
		const value = eq === -1 ? '' : part.slice(eq + 1).trim();
		switch (name) {
			case 'latency': {
				const m = /^(\d+)(?:-(\d+))?$/.exec(value);
				if (!m)
					throw new FaultSpecError(`fault spec "${text}": latency must be "<ms>" or "<min>-<max>"`);
				const min = Number(m[1]);
				const max = m[2] === undefined ? min : Number(m[2]);
				if (max < min) throw new FaultSpecError(`fault spec "${text}": latency max is below min`);
				spec.latencyMs = { min, max };
				break;
			}
			case 'status': {
				const statuses = value.split(',').map((s) => Number(s.trim()));
				if (!statuses.length || statuses.some((s) => !Number.isInteger(s) || s < 400 || s > 599)) {
					throw new FaultSpecError(
						`fault spec "${text}": status must be HTTP error codes (400-599), comma-separated`,
					);
				}
				spec.statuses = statuses;
				break;
			}
			case 'retry-after':
				spec.retryAfterSec = nonNegative(text, name, value);
				break;
			case 'rate':
			case 'error-rate': // reads well on the command line: error-rate=0.2;status=429
				spec.rate = Number(value);
				if (!(value !== '' && spec.rate >= 0 && spec.rate <= 1)) {
					throw new FaultSpecError(`fault spec "${text}": ${name} must be between 0 and 1`);
				}
				break;
			case 'fail-first':
				spec.failFirst = nonNegative(text, name, value);
				break;
			case 'key':
				if (!value) throw new FaultSpecError(`fault spec "${text}": key needs a value`);
				spec.key = value;
				break;
			case 'trickle':
				spec.trickleMs = value === '' ? 2000 : nonNegative(text, name, value);
				flags.push('trickle');
				break;
			case 'hostile':
				if (!(HOSTILE_VARIANTS as readonly string[]).includes(value)) {
					throw new FaultSpecError(
						`fault spec "${text}": hostile must be one of ${HOSTILE_VARIANTS.join(', ')}`,
					);
				}
				spec.hostile = value as HostileVariant;
				flags.push('hostile');
				break;
			default:
				if (!FLAG_KINDS.has(name)) {
					throw new FaultSpecError(
						`fault spec "${text}": unknown part "${name}" (known: latency, status, retry-after, rate, fail-first, key, ${[...FLAG_KINDS].join(', ')})`,
					);
				}
				flags.push(name as FaultKind);
		}
	}
	if (flags.length > 1)
		throw new FaultSpecError(`fault spec "${text}": only one of ${flags.join(', ')} at a time`);
	spec.kind = flags[0] ?? (spec.statuses ? 'status' : undefined);
	if (
		spec.statuses &&
		spec.kind !== 'status' &&
		spec.kind !== 'html-error' &&
		spec.kind !== 'echo-key'
	) {
		throw new FaultSpecError(`fault spec "${text}": status goes only with html-error or echo-key`);
	}
	if ((spec.failFirst !== undefined || spec.rate < 1) && !spec.kind) {
		throw new FaultSpecError(
			`fault spec "${text}": fail-first and rate need a fault to apply (e.g. status=503)`,
		);
	}
	return spec;
}

function nonNegative(text: string, name: string, value: string): number {
	const n = Number(value);
	if (!Number.isFinite(n) || n < 0 || value === '') {
		throw new FaultSpecError(`fault spec "${text}": ${name} must be a number of 0 or more`);
	}
	return n;
}

/** Directives embedded in prompt text, so per-item faults reach the simulator through any client. */
const DIRECTIVE = /\[\[sim:([^\]]*)\]\]/g;

export function extractDirective(text: string): { spec?: string; text: string } {
	let spec: string | undefined;
	const stripped = text.replace(DIRECTIVE, (_m, body: string) => {
		spec = spec ? `${spec};${body}` : body;
		return '';
	});
	return { spec: spec?.trim(), text: stripped.trim() };
}

/** Small seeded PRNG (mulberry32), so `--seed` makes random faults and latency repeatable. */
export function seededRandom(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export interface FaultDecision {
	delayMs: number;
	kind?: FaultKind;
	status?: number;
	retryAfterSec?: number;
	key?: string;
	trickleMs?: number;
	hostile?: HostileVariant;
}

/** Decides what one request gets; keeps the fail-first counters. */
export class FaultPlanner {
	private readonly seen = new Map<string, number>();

	constructor(private readonly random: () => number) {}

	decide(spec: FaultSpec | undefined): FaultDecision {
		if (!spec) return { delayMs: 0 };
		const { min, max } = spec.latencyMs ?? { min: 0, max: 0 };
		const decision: FaultDecision = {
			delayMs: min === max ? min : Math.round(min + this.random() * (max - min)),
			key: spec.key,
		};
		if (!spec.kind) return decision;
		if (spec.failFirst !== undefined) {
			const scope = spec.key ?? spec.source;
			const n = this.seen.get(scope) ?? 0;
			this.seen.set(scope, n + 1);
			if (n >= spec.failFirst) return decision;
		}
		if (spec.rate < 1 && this.random() >= spec.rate) return decision;
		decision.kind = spec.kind;
		if (spec.statuses) {
			decision.status = spec.statuses[Math.floor(this.random() * spec.statuses.length)];
		}
		if (spec.kind === 'status' || spec.kind === 'html-error') {
			decision.status ??= spec.kind === 'html-error' ? 502 : 500;
			decision.retryAfterSec = spec.retryAfterSec ?? (decision.status === 429 ? 1 : undefined);
		}
		if (spec.kind === 'trickle') decision.trickleMs = spec.trickleMs;
		if (spec.kind === 'hostile') decision.hostile = spec.hostile;
		return decision;
	}

	reset(): void {
		this.seen.clear();
	}
}
