/**
 * The one date reader of the package (Freshness Check, Completeness Check's Date Parseable).
 * It never throws and never returns a time that `new Date(ms).toISOString()` rejects.
 */
import { DateTime } from 'luxon';

export type DateFormat =
	| 'auto'
	| 'iso'
	| 'sql'
	| 'rfc2822'
	| 'http'
	| 'epochSeconds'
	| 'epochMillis'
	| 'epochMicros'
	| 'epochNanos'
	| 'custom';

export interface DateOptions {
	format: DateFormat;
	/** A Luxon format string, for `custom`. */
	customFormat?: string;
	/** IANA zone for timestamps that carry none, e.g. "Europe/Berlin". */
	defaultZone: string;
}

export type DateRead =
	| { ok: true; ms: number }
	| { ok: false; missing: true; why: string }
	| { ok: false; missing: false; why: string };

/** ECMAScript's date range: ±100,000,000 days around 1970 (years -271821 … 275760). */
export const MAX_TIME_MS = 8.64e15;

/** Epoch units by magnitude, for `auto`: each covers the years 1973 … 5138 (seconds: 1970 … 5138). */
const EPOCH_UNITS: Array<[limit: number, msPerUnit: number]> = [
	[1e11, 1_000], // seconds: up to 11 digits
	[1e14, 1], // milliseconds: up to 14 digits
	[1e17, 1e-3], // microseconds: up to 17 digits
	[1e20, 1e-6], // nanoseconds: up to 20 digits
];
const UNIT_MS: Partial<Record<DateFormat, number>> = {
	epochSeconds: 1_000,
	epochMillis: 1,
	epochMicros: 1e-3,
	epochNanos: 1e-6,
};
const NUMERIC = /^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/;
/** Longer text is no date in any format read here; also keeps megabyte strings away from the parsers. */
const MAX_TEXT = 100;

const PARSERS = {
	iso: DateTime.fromISO,
	sql: DateTime.fromSQL,
	rfc2822: DateTime.fromRFC2822,
	http: DateTime.fromHTTP,
};

const missing = (why: string): DateRead => ({ ok: false, missing: true, why });
const invalid = (why: string): DateRead => ({ ok: false, missing: false, why });

function valid(ms: number, what: string): DateRead {
	if (!Number.isFinite(ms)) return invalid(`is ${what}, not a finite number`);
	if (Math.abs(ms) > MAX_TIME_MS) return invalid(`is ${what}, outside the range of dates`);
	return { ok: true, ms: ms === 0 ? 0 : ms }; // no -0
}

function fromEpoch(n: number, format: DateFormat, what: string): DateRead {
	if (!Number.isFinite(n)) return invalid(`is ${what}, not a finite number`);
	if (format === 'auto') {
		const unit = EPOCH_UNITS.find(([limit]) => Math.abs(n) < limit);
		if (!unit) return invalid(`is ${what}, too large for an epoch time in any unit`);
		return valid(n * unit[1], what);
	}
	const perUnit = UNIT_MS[format];
	if (perUnit === undefined)
		return invalid(`is the number ${what}, not a date in the chosen format`);
	return valid(n * perUnit, what);
}

/**
 * Reads a date from a string in one of the formats, a number (epoch), a Date, or a Luxon DateTime
 * (n8n expressions return those, possibly from another copy of Luxon). Auto-detect takes numbers
 * and numeric text as epoch seconds, milliseconds, microseconds or nanoseconds by their magnitude.
 */
export function readDate(value: unknown, options: DateOptions): DateRead {
	if (value === undefined || value === null) return missing('is missing');
	const { format, defaultZone: zone } = options;
	if (typeof value === 'number') return fromEpoch(value, format, preview(value));
	if (typeof value === 'string') {
		const text = value.trim();
		if (text === '') return missing('is empty');
		if (text.length > MAX_TEXT) return invalid(`is text of ${text.length} characters, not a date`);
		const what = preview(text);
		if (UNIT_MS[format] !== undefined || format === 'auto') {
			if (NUMERIC.test(text)) return fromEpoch(Number(text), format, what);
			if (format !== 'auto') return invalid(`is ${what}, not a number`);
		}
		if (format === 'custom') {
			if (!options.customFormat) return invalid('no custom format is set');
			return fromLuxon(
				DateTime.fromFormat(text, options.customFormat, { zone, setZone: true }),
				what,
			);
		}
		const parsers =
			format === 'auto' ? Object.values(PARSERS) : [PARSERS[format as keyof typeof PARSERS]];
		for (const parse of parsers) {
			if (!parse) break;
			const dt = parse(text, { zone, setZone: true });
			if (dt.isValid) return fromLuxon(dt, what);
		}
		return invalid(`is ${what}, not a readable date`);
	}
	if (value instanceof Date) {
		const ms = value.getTime();
		return Number.isNaN(ms) ? invalid('is an invalid Date') : valid(ms, 'a Date');
	}
	if (typeof value === 'object') {
		try {
			const toMillis = (value as { toMillis?: unknown }).toMillis;
			if (typeof toMillis === 'function') {
				const ms: unknown = toMillis.call(value);
				if (typeof ms === 'number')
					return Number.isNaN(ms) ? invalid('is an invalid DateTime') : valid(ms, 'a DateTime');
			}
		} catch {
			// a hostile or broken object: unreadable like any other
		}
		return invalid(`is ${Array.isArray(value) ? 'a list' : 'an object'}, not a date`);
	}
	return invalid(`is ${typeof value === 'boolean' ? 'a boolean' : typeof value}, not a date`);
}

function fromLuxon(dt: DateTime, what: string): DateRead {
	return dt.isValid ? valid(dt.toMillis(), what) : invalid(`is ${what}, not a readable date`);
}

/** A short, safe rendering of any value for a reason text: never throws, never long. */
export function preview(value: unknown, max = 60): string {
	let text: string;
	try {
		if (typeof value === 'string') {
			let head = value.length > max ? value.slice(0, max) : value;
			if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1); // no half of a pair
			text = JSON.stringify(head) + (head.length < value.length ? '…' : '');
		} else if (typeof value === 'number') text = Object.is(value, -0) ? '-0' : String(value);
		else if (typeof value === 'bigint') text = `${value}n`;
		else if (value === undefined || typeof value === 'boolean' || value === null)
			text = String(value);
		else if (value instanceof Date)
			text = Number.isNaN(value.getTime()) ? 'an invalid Date' : 'a Date';
		else if (Array.isArray(value)) text = `a list of ${value.length}`;
		else if (typeof value === 'object') text = 'an object';
		else text = `a ${typeof value}`;
	} catch {
		text = 'a value';
	}
	return text.length > max + 3 ? `${text.slice(0, max)}…` : text;
}
