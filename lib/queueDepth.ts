/**
 * Queue depth check: a reading of a queue (depth, in progress, oldest waiting job's age) judged
 * against Warn and Critical thresholds on depth, oldest age and growth over recent checks, with
 * alert-once-per-change semantics kept in the state store. Sources are in lib/queueDepth/*.ts.
 * Framework-free: the Queue Depth Check node is its shell.
 */
import { formatAge, PERIOD_MS, type Period } from './freshness';
import type { StateStore } from './stores/types';
import { type QueueReading, type SourceKind, type UnreadableReason } from './queueDepth/types';

export * from './queueDepth/types';

export type QueueStatus = 'normal' | 'warn' | 'critical' | 'unknown';
export type Metric = 'depth' | 'oldestAge' | 'growth';

export interface Limits {
	warn?: number;
	critical?: number;
}

export interface QueueRules {
	depth: Limits;
	/** In ms. */
	oldestAge: Limits;
	growth: Limits;
	/** Growth is depth now minus depth this many checks ago. */
	growthChecks: number;
	/** Count in-progress jobs (unacknowledged, active, running) into the depth that is judged. */
	includeInProgress: boolean;
}

export interface Breach {
	metric: Metric;
	level: 'warn' | 'critical';
	value: number;
	threshold: number;
}

/** The history and alert state of one check, kept under the node's own namespace. */
export interface CheckState {
	status: QueueStatus;
	/** When the current status began (epoch ms). */
	since: number;
	/** When an alert (change or reminder) last went out; null: never for this status run. */
	lastAlertAt: number | null;
	/** The last readable depths, oldest first (at most growthChecks + 1). */
	history: Array<{ at: number; depth: number }>;
}

export const STATE_NAMESPACE = 'queueDepth';
/** State outlives any sensible check interval; a check unused for this long starts over. */
export const STATE_TTL_MS = 30 * 86_400_000;
export const MAX_GROWTH_CHECKS = 100;
// every round one writer wins, so this many overlapping checks of one key settle
const CAS_TRIES = 20;

/** A threshold count (0 or empty: off); the message names the parameter. */
export function limitValue(raw: unknown, name: string, whole: boolean): number | undefined {
	if (raw === undefined || raw === null || raw === '') return undefined;
	const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
	if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || (whole && !Number.isInteger(n)))
		throw new Error(`"${name}" must be ${whole ? 'a whole number' : 'a number'} of 0 or more`);
	return n === 0 ? undefined : n;
}

export function ageLimit(count: unknown, unit: unknown, name: string): number | undefined {
	const n = limitValue(count, name, false);
	if (n === undefined) return undefined;
	if (typeof unit !== 'string' || !Object.prototype.hasOwnProperty.call(PERIOD_MS, unit))
		throw new Error(`"${name} Unit" is not a unit of time`);
	return n * PERIOD_MS[unit as Period];
}

/** Warn must be below Critical, and at least one threshold must be set. */
export function validateRules(rules: QueueRules, labels: Record<Metric, string>): void {
	let any = false;
	for (const metric of ['depth', 'oldestAge', 'growth'] as const) {
		const { warn, critical } = rules[metric];
		if (warn !== undefined || critical !== undefined) any = true;
		if (warn !== undefined && critical !== undefined && warn >= critical)
			throw new Error(
				`"Warn ${labels[metric]}" (${warn}) must be below "Critical ${labels[metric]}" (${critical})`,
			);
	}
	if (!any)
		throw new Error('Set at least one threshold above 0: without one, every check is Normal');
	if (
		!Number.isInteger(rules.growthChecks) ||
		rules.growthChecks < 1 ||
		rules.growthChecks > MAX_GROWTH_CHECKS
	)
		throw new Error(`"Growth Over (Checks)" must be a whole number from 1 to ${MAX_GROWTH_CHECKS}`);
}

/** Depth change over the last `checks` checks, or null while fewer checks are kept. */
export function growthOf(
	history: CheckState['history'],
	depth: number,
	checks: number,
	nowMs: number,
): { growth: number; overMs: number } | null {
	if (history.length < checks) return null;
	const base = history[history.length - checks];
	return { growth: depth - base.depth, overMs: nowMs - base.at };
}

/** Every threshold the reading passes, worst first. */
export function breaches(values: Record<Metric, number | null>, rules: QueueRules): Breach[] {
	const found: Breach[] = [];
	for (const metric of ['depth', 'oldestAge', 'growth'] as const) {
		const value = values[metric];
		if (value === null) continue;
		const { warn, critical } = rules[metric];
		if (critical !== undefined && value > critical)
			found.push({ metric, level: 'critical', value, threshold: critical });
		else if (warn !== undefined && value > warn)
			found.push({ metric, level: 'warn', value, threshold: warn });
	}
	return found.sort((a, b) => (a.level === b.level ? 0 : a.level === 'critical' ? -1 : 1));
}

export interface Transition {
	changed: boolean;
	reminder: boolean;
	/** changed or reminder: the item is an alert to send. */
	alert: boolean;
	previousStatus: QueueStatus | null;
	since: number;
	lastAlertAt: number | null;
}

/**
 * Alert once per change of state: the first check alerts only when it is not Normal, a later one
 * when its status differs from the last one; while not Normal, again every `reminderMs` (0: never).
 */
export function transition(
	prev: CheckState | undefined,
	status: QueueStatus,
	nowMs: number,
	reminderMs: number,
): Transition {
	const changed = prev ? prev.status !== status : status !== 'normal';
	const reminder =
		!changed &&
		!!prev &&
		status !== 'normal' &&
		reminderMs > 0 &&
		nowMs - (prev.lastAlertAt ?? prev.since) >= reminderMs;
	const alert = changed || reminder;
	return {
		changed,
		reminder,
		alert,
		previousStatus: prev?.status ?? null,
		since: changed || !prev ? nowMs : prev.since,
		lastAlertAt: alert ? nowMs : (prev?.lastAlertAt ?? null),
	};
}

export interface CheckInput {
	source: SourceKind;
	queue: string;
	/** The reading, or why the source could not be read. */
	reading: QueueReading | { reason: UnreadableReason; message: string };
	/** Where an unreadable source goes: Critical or Warn with status unknown. */
	unknownTo: 'critical' | 'warn';
	rules: QueueRules;
	reminderMs: number;
	nowMs: number;
}

export interface CheckResult {
	status: QueueStatus;
	/** The output: normal, warn or critical (unknown goes where `unknownTo` says). */
	output: 'normal' | 'warn' | 'critical';
	reason: string;
	message: string;
	changed: boolean | null;
	reminder: boolean;
	alert: boolean;
	previousStatus: QueueStatus | null;
	since: string | null;
	source: SourceKind;
	queue: string;
	depth: number | null;
	inProgress: number | null;
	consumers: number | null;
	delayed: number | null;
	oldestAgeMs: number | null;
	oldestAge: string | null;
	growth: number | null;
	growthOverMs: number | null;
	breaches: Breach[];
	notes: string[];
	details: Record<string, unknown>;
	thresholds: {
		depth: { warn: number | null; critical: number | null };
		oldestAgeMs: { warn: number | null; critical: number | null };
		growth: { warn: number | null; critical: number | null; overChecks: number };
	};
	checkedAt: string;
	/** Set when the state could not be read or written: then every check alerts (better twice than never). */
	stateError: string | null;
}

const LABEL: Record<Metric, string> = {
	depth: 'depth',
	oldestAge: 'oldest job age',
	growth: 'growth',
};
const shown = (b: Breach) =>
	b.metric === 'oldestAge'
		? `${LABEL[b.metric]} ${formatAge(b.value)} is over ${formatAge(b.threshold)}`
		: `${LABEL[b.metric]} ${b.value} is over ${b.threshold}`;

/** Judges one reading and records it, so that of overlapping checks exactly one reports the change. */
export async function runCheck(
	store: StateStore | undefined,
	key: string,
	input: CheckInput,
): Promise<CheckResult> {
	const { rules, nowMs } = input;
	const readable = 'depth' in input.reading ? input.reading : undefined;
	const judged = readable
		? readable.depth + (rules.includeInProgress ? (readable.inProgress ?? 0) : 0)
		: null;

	let stateError: string | null = null;
	let result: CheckResult | undefined;
	for (let attempt = 0; attempt < CAS_TRIES && !result; attempt++) {
		let record: { version: number; value: CheckState } | undefined;
		if (store && !stateError) {
			try {
				record = await store.getRecord<CheckState>(STATE_NAMESPACE, key);
			} catch (error) {
				stateError = `the check's state in ${store.label} could not be read: ${(error as Error).message}`;
			}
		}
		const prev = record?.value;
		const history = Array.isArray(prev?.history) ? prev.history : [];
		const growth = judged === null ? null : growthOf(history, judged, rules.growthChecks, nowMs);
		const found = readable
			? breaches(
					{ depth: judged, oldestAge: readable.oldestAgeMs, growth: growth?.growth ?? null },
					rules,
				)
			: [];
		const status: QueueStatus = !readable ? 'unknown' : found.length ? found[0].level : 'normal';
		const t = stateError
			? {
					...transition(undefined, status, nowMs, 0),
					changed: null,
					alert: true,
					previousStatus: null,
				}
			: transition(prev, status, nowMs, input.reminderMs);
		const reason = !readable
			? (input.reading as { reason: string }).reason
			: found.length
				? `${found[0].metric === 'oldestAge' ? 'oldest_age' : found[0].metric}_${found[0].level}`
				: 'within_thresholds';
		const name = `${input.source} queue ${JSON.stringify(input.queue)}`;
		const message = !readable
			? `${name} could not be read: ${(input.reading as { message: string }).message}`
			: found.length
				? `${name}: ${found.map(shown).join('; ')}`
				: `${name}: within thresholds (depth ${judged})`;
		const next: CheckState = {
			status,
			since: t.since,
			lastAlertAt: t.lastAlertAt,
			history:
				judged === null
					? history
					: [...history, { at: nowMs, depth: judged }].slice(-(rules.growthChecks + 1)),
		};
		if (store && !stateError) {
			try {
				const version = await store.putRecord(
					STATE_NAMESPACE,
					key,
					{ value: next, dueAt: null, tag: status, ttlMs: STATE_TTL_MS },
					record?.version ?? 0,
				);
				if (version === 0) continue; // another check wrote meanwhile: judge against its state
			} catch (error) {
				stateError = `the check's state in ${store.label} could not be written: ${(error as Error).message}`;
				attempt--; // judge once more without state
				continue;
			}
		}
		result = {
			status,
			output: status === 'unknown' ? input.unknownTo : status,
			reason,
			message,
			changed: t.changed,
			reminder: t.reminder,
			alert: t.alert,
			previousStatus: t.previousStatus,
			since: new Date(t.since).toISOString(),
			source: input.source,
			queue: input.queue,
			depth: readable ? readable.depth : null,
			inProgress: readable?.inProgress ?? null,
			consumers: readable?.consumers ?? null,
			delayed: readable?.delayed ?? null,
			oldestAgeMs: readable?.oldestAgeMs ?? null,
			oldestAge: readable && readable.oldestAgeMs !== null ? formatAge(readable.oldestAgeMs) : null,
			growth: growth?.growth ?? null,
			growthOverMs: growth?.overMs ?? null,
			breaches: found,
			notes: readable?.notes ?? [],
			details: readable?.details ?? {},
			thresholds: {
				depth: { warn: rules.depth.warn ?? null, critical: rules.depth.critical ?? null },
				oldestAgeMs: {
					warn: rules.oldestAge.warn ?? null,
					critical: rules.oldestAge.critical ?? null,
				},
				growth: {
					warn: rules.growth.warn ?? null,
					critical: rules.growth.critical ?? null,
					overChecks: rules.growthChecks,
				},
			},
			checkedAt: new Date(nowMs).toISOString(),
			stateError,
		};
	}
	if (!result) {
		// lost every race: other checks of the same key keep writing; report without claiming the change
		stateError = 'other executions kept updating this check’s state; alerting to be safe';
		return await runCheck(undefined, key, input).then((r) => ({
			...r,
			changed: null,
			alert: true,
			stateError,
		}));
	}
	return result;
}
