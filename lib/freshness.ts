/**
 * Freshness of data by the age of a timestamp, with dbt source-freshness semantics:
 * `warn after` and `error after`, either of which may be left out.
 */
import { DateTime } from 'luxon';

import {
	MAX_TIME_MS,
	preview,
	readDate,
	type DateOptions,
	type DateFormat,
	type DateRead,
} from './dates';
import type { FreshnessStatusEntry } from './metrics/status';

export type TimestampFormat = DateFormat;
const FORMATS: readonly string[] = [
	'auto',
	'iso',
	'sql',
	'rfc2822',
	'http',
	'epochSeconds',
	'epochMillis',
	'epochMicros',
	'epochNanos',
	'custom',
];

export type FreshnessStatus = 'fresh' | 'warn' | 'stale';

export type FreshnessReason =
	| 'within_thresholds'
	| 'warn_after_exceeded'
	| 'error_after_exceeded'
	| 'missing_timestamp'
	| 'invalid_timestamp'
	| 'future_timestamp';

export type Period = 'second' | 'minute' | 'hour' | 'day' | 'week';

export const PERIOD_MS: Record<Period, number> = {
	second: 1_000,
	minute: 60_000,
	hour: 3_600_000,
	day: 86_400_000,
	week: 604_800_000,
};

export interface Threshold {
	count: number;
	period: Period;
}

export interface FreshnessRules {
	warnAfterMs?: number;
	errorAfterMs?: number;
	/** A timestamp up to this far in the future counts as now (clocks differ). */
	clockSkewMs: number;
}

export type ParseOptions = DateOptions;

export interface FreshnessResult {
	status: FreshnessStatus;
	reason: FreshnessReason;
	ageMs: number | null;
	age: string | null;
	timestamp: string | null;
	checkedAt: string;
	warnAfterMs: number | null;
	errorAfterMs: number | null;
	/** Why the timestamp could not be judged by age, naming its field; null otherwise. */
	message: string | null;
}

/** The node's settings, as entered; `resolveSettings` checks them. */
export interface FreshnessSettings {
	warnAfter?: Threshold;
	errorAfter?: Threshold;
	clockSkewSeconds?: number;
	defaultZone?: string;
	format: TimestampFormat;
	customFormat?: string;
	/** Judge against this time instead of now: a date in any format `auto` reads. */
	referenceTime?: unknown;
}

/** Checks the settings; a mistake throws an error naming the parameter as the editor shows it. */
export function resolveSettings(
	s: FreshnessSettings,
	nowMs: number,
): { rules: FreshnessRules; parse: ParseOptions; nowMs: number } {
	const rules: FreshnessRules = {
		warnAfterMs: thresholdMs(s.warnAfter, 'Warn After'),
		errorAfterMs: thresholdMs(s.errorAfter, 'Error After'),
		clockSkewMs: clockSkewMs(s.clockSkewSeconds),
	};
	validateRules(rules);
	const zone: unknown = s.defaultZone || 'UTC';
	if (typeof zone !== 'string' || !DateTime.now().setZone(zone).isValid) {
		throw new Error(
			`"Default Time Zone": ${preview(zone)} is not an IANA time zone such as Europe/Berlin`,
		);
	}
	if (!FORMATS.includes(s.format))
		throw new Error(`"Timestamp Format": unknown format ${preview(s.format)}`);
	if (s.format === 'custom' && (typeof s.customFormat !== 'string' || !s.customFormat))
		throw new Error(`"Custom Format" is empty or not text: ${preview(s.customFormat)}`);
	const parse: ParseOptions = { format: s.format, customFormat: s.customFormat, defaultZone: zone };
	if (s.referenceTime !== undefined && s.referenceTime !== '') {
		const ref = readDate(s.referenceTime, { format: 'auto', defaultZone: zone });
		if (!ref.ok) throw new Error(`"Reference Time" ${ref.why}`);
		nowMs = ref.ms;
	}
	return { rules, parse, nowMs };
}

function clockSkewMs(seconds: unknown): number {
	if (seconds === undefined || seconds === null || seconds === '') return 300_000;
	const n = typeof seconds === 'string' ? Number(seconds) : seconds;
	if (typeof n !== 'number' || !Number.isFinite(n) || n < 0)
		throw new Error('"Allowed Clock Skew (Seconds)" must be a number of 0 or more');
	return n * 1000;
}

/** A threshold in milliseconds; a count of 0 (or none) leaves it out, like a missing dbt `warn_after`. */
export function thresholdMs(t: Threshold | undefined, name: string): number | undefined {
	if (!t) return undefined;
	const raw: unknown = t.count;
	const count = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
	if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
		throw new Error(`"${name}" must be a number of 0 or more, not ${preview(raw)}`);
	}
	if (count === 0) return undefined;
	const unit = Object.prototype.hasOwnProperty.call(PERIOD_MS, t.period) ? PERIOD_MS[t.period] : 0;
	if (!unit) throw new Error(`"${name} Unit": unknown unit ${preview(t.period)}`);
	const ms = count * unit;
	if (ms > MAX_TIME_MS) throw new Error(`"${name}" is longer than any date range`);
	return ms;
}

export function validateRules(rules: FreshnessRules): void {
	const { warnAfterMs: warn, errorAfterMs: error } = rules;
	if (warn === undefined && error === undefined) {
		throw new Error(
			'Set "Warn After", "Error After" or both above 0: without either, nothing can be judged stale',
		);
	}
	if (warn !== undefined && error !== undefined && warn >= error) {
		throw new Error(
			`"Warn After" (${formatAge(warn)}) must be shorter than "Error After" (${formatAge(error)})`,
		);
	}
}

/**
 * Epoch milliseconds from what a field or expression gave (see `readDate`): undefined when there
 * is no value, NaN when it cannot be read. Kept for callers that want a number.
 */
export function parseTimestamp(value: unknown, options: ParseOptions): number | undefined {
	const read = readDate(value, options);
	if (read.ok) return read.ms;
	return read.missing ? undefined : NaN;
}

/**
 * The verdict for one date read, with a message naming where it came from
 * (`source`, e.g. 'field "updatedAt"') when the timestamp is missing, unreadable or in the future.
 */
export function assess(
	read: DateRead,
	source: string,
	nowMs: number,
	rules: FreshnessRules,
): FreshnessResult {
	if (!read.ok) {
		return {
			...judge(read.missing ? undefined : NaN, nowMs, rules),
			message: `${source} ${read.why}`,
		};
	}
	const result = judge(read.ms, nowMs, rules);
	if (result.reason === 'future_timestamp') {
		result.message = `${source} is ${formatAge(read.ms - nowMs)} ahead of the check time, more than the allowed clock skew of ${formatAge(rules.clockSkewMs)}`;
	}
	return result;
}

export function judge(
	timestampMs: number | undefined,
	nowMs: number,
	rules: FreshnessRules,
): FreshnessResult {
	const base = {
		checkedAt: new Date(nowMs).toISOString(),
		warnAfterMs: rules.warnAfterMs ?? null,
		errorAfterMs: rules.errorAfterMs ?? null,
		message: null,
	};
	if (
		timestampMs === undefined ||
		!Number.isFinite(timestampMs) ||
		Math.abs(timestampMs) > MAX_TIME_MS
	) {
		return {
			...base,
			status: 'stale',
			reason: timestampMs === undefined ? 'missing_timestamp' : 'invalid_timestamp',
			ageMs: null,
			age: null,
			timestamp: null,
		};
	}
	let ageMs = nowMs - timestampMs;
	const timestamp = new Date(timestampMs).toISOString();
	if (ageMs < -rules.clockSkewMs) {
		return {
			...base,
			status: 'stale',
			reason: 'future_timestamp',
			ageMs,
			age: `in ${formatAge(-ageMs)}`,
			timestamp,
		};
	}
	// Inside the clock skew a timestamp counts as now: its age is 0, not negative.
	if (ageMs < 0) ageMs = 0;
	const age = formatAge(ageMs);
	if (rules.errorAfterMs !== undefined && ageMs > rules.errorAfterMs) {
		return { ...base, status: 'stale', reason: 'error_after_exceeded', ageMs, age, timestamp };
	}
	if (rules.warnAfterMs !== undefined && ageMs > rules.warnAfterMs) {
		return { ...base, status: 'warn', reason: 'warn_after_exceeded', ageMs, age, timestamp };
	}
	return { ...base, status: 'fresh', reason: 'within_thresholds', ageMs, age, timestamp };
}

const AGE_UNITS: Array<[string, number]> = [
	['d', 86_400_000],
	['h', 3_600_000],
	['m', 60_000],
	['s', 1_000],
];

/** "2d 3h", "4m 10s", "850ms": the two largest units, enough to read at a glance. */
export function formatAge(ms: number): string {
	if (ms < 1000) return `${Math.round(ms)}ms`;
	const parts: string[] = [];
	let rest = ms;
	for (const [unit, size] of AGE_UNITS) {
		if (rest >= size || parts.length) {
			const n = Math.floor(rest / size);
			rest -= n * size;
			if (n || parts.length) parts.push(`${n}${unit}`);
		}
		if (parts.length === 2) break;
	}
	return parts.filter((p) => !/^0/.test(p)).join(' ') || '0s';
}

/** Longest "Source Name" published: it becomes a metrics label, which must stay short. */
export const MAX_SOURCE_NAME = 200;

/** A "Source Name" value, trimmed; or why it cannot name a source (the item is then not published). */
export function readSourceName(value: unknown): { name: string } | { skipped: string } {
	if (typeof value !== 'string') return { skipped: `"Source Name" is not text: ${preview(value)}` };
	const name = value.trim();
	if (!name) return { skipped: '"Source Name" is empty for this item' };
	if (name.length > MAX_SOURCE_NAME)
		return { skipped: `"Source Name" is longer than ${MAX_SOURCE_NAME} characters` };
	return { name };
}

const RANK: Record<FreshnessStatus, number> = { fresh: 0, warn: 1, stale: 2 };

/** Whether `a` is the worse item: status first, then the older one (no readable age: oldest). */
function worse(a: FreshnessResult, b: FreshnessResult): boolean {
	if (RANK[a.status] !== RANK[b.status]) return RANK[a.status] > RANK[b.status];
	return (a.ageMs ?? Infinity) > (b.ageMs ?? Infinity);
}

/** One execution's results per source: each source's status is that of its worst item. */
export class SourceTally {
	private readonly sources = new Map<
		string,
		{ worst: FreshnessResult; items: Record<FreshnessStatus, number> }
	>();

	get size(): number {
		return this.sources.size;
	}

	has(source: string): boolean {
		return this.sources.has(source);
	}

	add(source: string, result: FreshnessResult): void {
		let s = this.sources.get(source);
		if (!s)
			this.sources.set(source, (s = { worst: result, items: { fresh: 0, warn: 0, stale: 0 } }));
		else if (worse(result, s.worst)) s.worst = result;
		s.items[result.status]++;
	}

	entries(): Array<{ id: string; value: FreshnessStatusEntry }> {
		return [...this.sources].map(([source, { worst, items }]) => ({
			id: source,
			value: {
				source,
				status: worst.status,
				ageMs: worst.ageMs,
				reason: worst.reason,
				checkedAt: worst.checkedAt,
				items: { ...items },
			},
		}));
	}
}
