/**
 * Freshness of data by the age of a timestamp, with dbt source-freshness semantics:
 * `warn after` and `error after`, either of which may be left out.
 */
import { DateTime } from 'luxon';

export type TimestampFormat =
	| 'auto'
	| 'iso'
	| 'rfc2822'
	| 'http'
	| 'sql'
	| 'epochSeconds'
	| 'epochMillis'
	| 'custom';

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

export interface ParseOptions {
	format: TimestampFormat;
	customFormat?: string;
	/** IANA zone for timestamps that carry none, e.g. "Europe/Berlin". */
	defaultZone: string;
}

export interface FreshnessResult {
	status: FreshnessStatus;
	reason: FreshnessReason;
	ageMs: number | null;
	age: string | null;
	timestamp: string | null;
	checkedAt: string;
	warnAfterMs: number | null;
	errorAfterMs: number | null;
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
		clockSkewMs: (s.clockSkewSeconds ?? 300) * 1000,
	};
	validateRules(rules);
	const zone = s.defaultZone || 'UTC';
	if (!DateTime.now().setZone(zone).isValid) {
		throw new Error(
			`"Default Time Zone": "${zone}" is not an IANA time zone such as Europe/Berlin`,
		);
	}
	if (s.format === 'custom' && !s.customFormat) throw new Error('"Custom Format" is empty');
	const parse: ParseOptions = { format: s.format, customFormat: s.customFormat, defaultZone: zone };
	if (s.referenceTime !== undefined && s.referenceTime !== '') {
		const ref = parseTimestamp(s.referenceTime, { format: 'auto', defaultZone: zone });
		if (ref === undefined || Number.isNaN(ref)) {
			throw new Error(
				`"Reference Time" could not be read as a date: ${JSON.stringify(s.referenceTime)}`,
			);
		}
		nowMs = ref;
	}
	return { rules, parse, nowMs };
}

export function thresholdMs(t: Threshold | undefined, name: string): number | undefined {
	if (!t) return undefined;
	if (typeof t.count !== 'number' || !Number.isFinite(t.count) || t.count < 0) {
		throw new Error(`${name}: the count must be a number of 0 or more`);
	}
	const unit = PERIOD_MS[t.period];
	if (!unit) throw new Error(`${name}: unknown period "${String(t.period)}"`);
	return t.count * unit;
}

export function validateRules(rules: FreshnessRules): void {
	const { warnAfterMs: warn, errorAfterMs: error } = rules;
	if (warn === undefined && error === undefined) {
		throw new Error(
			'Set "Warn After", "Error After" or both: without either, nothing can be judged stale',
		);
	}
	if (warn !== undefined && error !== undefined && warn >= error) {
		throw new Error(
			`"Warn After" (${formatAge(warn)}) must be shorter than "Error After" (${formatAge(error)})`,
		);
	}
}

/** Values below this are epoch seconds, above it milliseconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const EPOCH_SECONDS_LIMIT = 1e11;
const NUMERIC = /^-?\d+(\.\d+)?$/;

/**
 * Parses what a field or expression gave: a string in one of the formats, a number (epoch),
 * a Date, or a Luxon DateTime (n8n expressions return those, possibly from another Luxon copy).
 * Returns epoch milliseconds, undefined when there is no value, NaN when it cannot be read.
 */
export function parseTimestamp(value: unknown, options: ParseOptions): number | undefined {
	if (value === undefined || value === null || value === '') return undefined;
	if (value instanceof Date) return value.getTime();
	if (
		typeof value === 'object' &&
		typeof (value as { toMillis?: unknown }).toMillis === 'function'
	) {
		return (value as { toMillis(): number }).toMillis();
	}
	const { format, defaultZone: zone } = options;
	if (typeof value === 'number') {
		if (!Number.isFinite(value)) return NaN;
		if (format === 'epochSeconds') return value * 1000;
		if (format === 'epochMillis') return value;
		if (format === 'auto') return Math.abs(value) < EPOCH_SECONDS_LIMIT ? value * 1000 : value;
		return NaN;
	}
	if (typeof value !== 'string') return NaN;
	const text = value.trim();
	switch (format) {
		case 'epochSeconds':
			return NUMERIC.test(text) ? Number(text) * 1000 : NaN;
		case 'epochMillis':
			return NUMERIC.test(text) ? Number(text) : NaN;
		case 'iso':
			return millis(DateTime.fromISO(text, { zone, setZone: true }));
		case 'rfc2822':
			return millis(DateTime.fromRFC2822(text, { zone, setZone: true }));
		case 'http':
			return millis(DateTime.fromHTTP(text, { zone, setZone: true }));
		case 'sql':
			return millis(DateTime.fromSQL(text, { zone, setZone: true }));
		case 'custom':
			if (!options.customFormat) return NaN;
			return millis(DateTime.fromFormat(text, options.customFormat, { zone, setZone: true }));
		case 'auto': {
			if (NUMERIC.test(text)) return parseTimestamp(Number(text), options);
			for (const parse of [
				DateTime.fromISO,
				DateTime.fromRFC2822,
				DateTime.fromHTTP,
				DateTime.fromSQL,
			]) {
				const dt = parse(text, { zone, setZone: true });
				if (dt.isValid) return dt.toMillis();
			}
			return NaN;
		}
	}
}

function millis(dt: DateTime): number {
	return dt.isValid ? dt.toMillis() : NaN;
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
	};
	if (timestampMs === undefined || Number.isNaN(timestampMs)) {
		return {
			...base,
			status: 'stale',
			reason: timestampMs === undefined ? 'missing_timestamp' : 'invalid_timestamp',
			ageMs: null,
			age: null,
			timestamp: null,
		};
	}
	const ageMs = nowMs - timestampMs;
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
	const age = formatAge(Math.max(ageMs, 0));
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
