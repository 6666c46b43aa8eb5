/**
 * Fallback Router logic: which strategy serves an item whose AI call failed, by failure class and
 * by what is available (a cached answer, re-queues left). Framework-free: the node reads the
 * parameters, the store and the templates, this decides.
 */
import { FAILURE_CLASSES, classifyStatus } from './ai/failure';
import { backoffCeiling, fullJitter, type BackoffOptions } from './backoff';
import { formatAge } from './freshness';
import { getPath, parsePath } from './path';
import { readNumber } from './values';

export { readNumber };

export const STRATEGIES = ['cached', 'queue', 'human', 'degraded'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** The classes a rule may name (`simulated` has its own drill setting). */
export const RULE_CLASSES = FAILURE_CLASSES.filter((c) => c !== 'simulated');

/**
 * Transient trouble: serve a cached answer, else try again later (load) or answer degraded (the
 * service is broken, a later retry may not help the caller waiting now). Requests that will fail
 * the same way again need a person; a spent budget needs time, not a person.
 */
export const DEFAULT_TABLE: Readonly<Record<string, readonly Strategy[]>> = {
	rate_limited: ['cached', 'queue'],
	overloaded: ['cached', 'queue'],
	circuit_open: ['cached', 'queue'],
	timeout: ['cached', 'degraded'],
	server_error: ['cached', 'degraded'],
	network: ['cached', 'degraded'],
	auth: ['human'],
	bad_request: ['human'],
	context_length: ['human'],
	content_filter: ['human'],
	invalid_output: ['human'],
	budget_exceeded: ['queue'],
	egress_blocked: ['human'],
};

/** The longest wait the Queue strategy honours (a service's Retry-After beyond it is waited as this). */
export const MAX_QUEUE_WAIT_MS = 24 * 3_600_000;

export type StrategyTable = ReadonlyMap<string, readonly Strategy[]>;

/** "cached, queue" → ['cached', 'queue'], in the order given; `what` names the setting in errors. */
export function parseStrategies(text: unknown, what: string): Strategy[] {
	// never String() an item's object: its own toString may throw or say anything
	const word = (v: unknown) => {
		if (typeof v === 'string') return v;
		throw new Error(`${what}: must be strategy names as text ("cached, queue") or a list of them`);
	};
	const raw = Array.isArray(text) ? text.map(word) : text == null ? [] : word(text).split(',');
	const names = raw.map((s) => s.trim().toLowerCase()).filter(Boolean);
	if (!names.length) throw new Error(`${what}: no strategy given (use ${STRATEGIES.join(', ')})`);
	const out: Strategy[] = [];
	for (const name of names) {
		if (!(STRATEGIES as readonly string[]).includes(name))
			throw new Error(
				`${what}: unknown strategy "${name}" (use ${STRATEGIES.join(', ')}, in the order to try them)`,
			);
		if (!out.includes(name as Strategy)) out.push(name as Strategy);
	}
	return out;
}

export interface Rule {
	classes?: string[];
	strategies?: unknown;
}

/** Custom rules over the default table: the first rule naming a class wins; unnamed classes keep the default. */
export function buildTable(rules: Rule[] | undefined): StrategyTable {
	const table = new Map<string, readonly Strategy[]>(Object.entries(DEFAULT_TABLE));
	const named = new Set<string>();
	(rules ?? []).forEach((rule, n) => {
		const what = `Rule ${n + 1}`;
		const classes = rule.classes ?? [];
		if (!classes.length) throw new Error(`${what}: choose at least one failure class`);
		const strategies = parseStrategies(rule.strategies, `${what}, "Strategies"`);
		for (const cls of classes) {
			if (named.has(cls)) continue;
			named.add(cls);
			table.set(cls, strategies);
		}
	});
	return table;
}

/** Drill rotation: item 0 starts at cached, 1 at queue, 2 at human, 3 at degraded, 4 at cached … */
export function rotation(itemIndex: number): Strategy[] {
	const start = itemIndex % STRATEGIES.length;
	return [...STRATEGIES.slice(start), ...STRATEGIES.slice(0, start)];
}

export interface Failure {
	class: string;
	/** What the service asked us to wait, in ms (AI Call: `error.retryAfterMs`). */
	retryAfterMs?: number;
	/** The error's own fields worth showing a person (never the whole item). */
	summary: Record<string, unknown>;
}

const SUMMARY_FIELDS = [
	'class',
	'message',
	'httpStatus',
	'provider',
	'model',
	'attempts',
	'retryAfterMs',
	'simulated',
];

/**
 * The failure described by an item's error value: an AI Call error object, another node's error
 * object (class derived from its HTTP status when it has no class) or a bare message. Undefined
 * when there is none.
 */
export function readFailure(value: unknown): Failure | undefined {
	if (typeof value === 'string' && value.trim()) return fromMessage(value);
	if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
	const error = value as Record<string, unknown>;
	const message = typeof error.message === 'string' ? error.message : '';
	const status = readNumber(error.httpStatus ?? error.httpCode ?? error.statusCode ?? error.status);
	const cls =
		typeof error.class === 'string' && error.class
			? error.class
			: status !== undefined && Number.isInteger(status) && status >= 400
				? classifyStatus(status, message)
				: 'unknown';
	const summary: Record<string, unknown> = {};
	// only plain values reach the summary: an object here could carry a hostile toJSON into the output
	for (const field of SUMMARY_FIELDS) {
		const v = error[field];
		if (typeof v === 'string') summary[field] = v.length > 2000 ? `${v.slice(0, 2000)}…` : v;
		else if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))
			summary[field] = v;
	}
	summary.class = cls;
	// unreadable waits count as absent; absurd ones are capped so a date can always be written
	const wait = readNumber(error.retryAfterMs);
	return {
		class: cls,
		retryAfterMs: wait !== undefined && wait >= 0 ? Math.min(wait, MAX_QUEUE_WAIT_MS) : undefined,
		summary,
	};
}

/**
 * A bare message, as n8n's AI Agent puts a model's error on its error output (`{error: message}`).
 * The AI Call Chat Model's messages start with the class and end with the wait the service asked
 * for ("rate_limited: HTTP 429 … (retry after 2000 ms)"): both are read back; any other text is
 * class unknown.
 */
function fromMessage(message: string): Failure {
	const named = /^([a-z_]+): /.exec(message)?.[1];
	const cls = named && (FAILURE_CLASSES as readonly string[]).includes(named) ? named : 'unknown';
	const wait = readNumber(/\(retry after (\d+) ms\)\s*$/.exec(message)?.[1]);
	const text = message.length > 2000 ? `${message.slice(0, 2000)}…` : message;
	return {
		class: cls,
		...(wait !== undefined ? { retryAfterMs: Math.min(wait, MAX_QUEUE_WAIT_MS) } : {}),
		summary: { class: cls, message: text },
	};
}

export interface CachedAnswer {
	value: Record<string, unknown>;
	/** A last good answer rather than a live cache entry. */
	stale: boolean;
	storedAt?: number;
}

export type CacheLookup =
	| { found: CachedAnswer }
	| { outcome: 'no_cache_key' | 'not_found' }
	| { outcome: 'store_unreachable'; detail: string };

export interface Tried {
	strategy: Strategy;
	outcome: 'used' | 'no_cache_key' | 'not_found' | 'store_unreachable' | 'max_requeues';
	detail?: string;
}

export type DecisionCode =
	| 'cached'
	| 'last_good'
	| 'queued'
	| 'degraded'
	| 'needs_person'
	| 'max_requeues'
	| 'no_strategy_left'
	| 'no_error_object';

export interface Decision {
	strategy: Strategy;
	code: DecisionCode;
	/** One readable sentence: what was chosen and why. */
	reason: string;
	tried: Tried[];
	cached?: CachedAnswer;
	/** Queue only: when to try again, and the attempt count to carry. */
	retryAt?: number;
	retryInMs?: number;
	queueAttempts?: number;
}

export interface RouteInput {
	class: string;
	strategies: readonly Strategy[];
	retryAfterMs?: number;
	/** Times the item was queued already. */
	queueAttempts: number;
	maxRequeues: number;
	backoff: BackoffOptions;
	now: number;
	random?: () => number;
}

const NOT_USED: Record<Exclude<Tried['outcome'], 'used'>, string> = {
	no_cache_key: 'no cache key',
	not_found: 'no cached answer',
	store_unreachable: 'cache store unreachable',
	max_requeues: 'no re-queues left',
};

/**
 * Walks the strategies in order; the first available one serves the item. Cached is available
 * when the lookup finds an answer; Queue until the item was queued `maxRequeues` times (then a
 * person decides); Human and Degraded always. With none left the item goes to a person.
 */
export async function route(
	input: RouteInput,
	lookup: () => Promise<CacheLookup>,
): Promise<Decision> {
	const tried: Tried[] = [];
	const before = () => {
		const misses = [
			...new Set(tried.flatMap((t) => (t.outcome === 'used' ? [] : [NOT_USED[t.outcome]]))),
		];
		return misses.length ? `${misses.join(', ')}; ` : '';
	};
	for (const strategy of input.strategies) {
		if (strategy === 'cached') {
			const result = await lookup();
			if ('found' in result) {
				tried.push({ strategy, outcome: 'used' });
				const { stale, storedAt } = result.found;
				const age = storedAt === undefined ? '' : ` from ${formatAge(input.now - storedAt)} ago`;
				return {
					strategy,
					code: stale ? 'last_good' : 'cached',
					reason: `${before()}${stale ? 'last good answer' : 'cached answer'}${age}`,
					tried,
					cached: result.found,
				};
			}
			tried.push({ strategy, ...result });
			continue;
		}
		if (strategy === 'queue') {
			if (input.queueAttempts >= input.maxRequeues) {
				const reason = `${before()}queued ${input.queueAttempts} times already (max ${input.maxRequeues}); a person decides`;
				tried.push({ strategy, outcome: 'max_requeues' }, { strategy: 'human', outcome: 'used' });
				return { strategy: 'human', code: 'max_requeues', reason, tried };
			}
			const attempt = input.queueAttempts + 1;
			const askedFor = input.retryAfterMs !== undefined;
			const waitMs = Math.min(
				askedFor ? input.retryAfterMs! : fullJitter(attempt, input.backoff, input.random),
				MAX_QUEUE_WAIT_MS,
			);
			tried.push({ strategy, outcome: 'used' });
			return {
				strategy,
				code: 'queued',
				reason: `${before()}queued until ${new Date(input.now + waitMs).toISOString()} (${
					askedFor
						? `Retry-After ${formatAge(waitMs)}`
						: `backoff up to ${formatAge(backoffCeiling(attempt, input.backoff))}`
				}; attempt ${attempt} of ${input.maxRequeues})`,
				tried,
				retryAt: input.now + waitMs,
				retryInMs: waitMs,
				queueAttempts: attempt,
			};
		}
		tried.push({ strategy, outcome: 'used' });
		if (strategy === 'degraded')
			return { strategy, code: 'degraded', reason: `${before()}degraded answer`, tried };
		return {
			strategy,
			code: 'needs_person',
			reason: `${before()}${input.class} failures need a person`,
			tried,
		};
	}
	tried.push({ strategy: 'human', outcome: 'used' });
	return {
		strategy: 'human',
		code: 'no_strategy_left',
		reason: `${before()}no other strategy left for ${input.class}; a person decides`,
		tried,
	};
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A copy of `root` with the value at `path` set (or removed when `value` is undefined). Only the
 * objects along the path are copied: n8n may share item objects between branches.
 */
export function withPath(
	root: Record<string, unknown>,
	path: string,
	value: unknown,
): Record<string, unknown> {
	const segments = parsePath(path);
	const forbidden = segments.find((s) => typeof s === 'string' && FORBIDDEN.has(s));
	if (forbidden !== undefined) throw new Error(`path "${path}": "${forbidden}" cannot be written`);
	if (value === undefined && !getPath(root, segments).found) return root;
	const set = (node: unknown, depth: number): unknown => {
		const segment = segments[depth];
		const last = depth === segments.length - 1;
		const copy = (
			Array.isArray(node)
				? [...(node as unknown[])]
				: node && typeof node === 'object'
					? { ...node }
					: typeof segment === 'number'
						? []
						: {}
		) as Record<string | number, unknown>;
		const child = Object.prototype.hasOwnProperty.call(copy, segment) ? copy[segment] : undefined;
		if (last) {
			if (value === undefined) delete copy[segment];
			else copy[segment] = value;
		} else {
			copy[segment] = set(child, depth + 1);
		}
		return copy;
	};
	return set(root, 0) as Record<string, unknown>;
}

/** The queue attempt count at `path`: a non-negative integer, 0 when absent or unreadable. */
export function readAttempts(root: unknown, path: string): number {
	const n = readNumber(getPath(root, path).value) ?? 0;
	return Number.isInteger(n) && n > 0 ? n : 0;
}
