import {
	formatAge,
	judge,
	parseTimestamp,
	resolveSettings,
	type TimestampFormat,
} from '../../lib/freshness';

const utc = (format: TimestampFormat, extra = {}) => ({ format, defaultZone: 'UTC', ...extra });
const T = Date.UTC(2024, 4, 1, 12, 30, 0); // 2024-05-01T12:30:00Z

describe('parseTimestamp', () => {
	it.each<[string, unknown, TimestampFormat, number]>([
		['ISO with Z', '2024-05-01T12:30:00Z', 'iso', T],
		['ISO with offset', '2024-05-01T14:30:00+02:00', 'iso', T],
		['ISO with milliseconds', '2024-05-01T12:30:00.000Z', 'iso', T],
		['RFC 2822', 'Wed, 01 May 2024 12:30:00 +0000', 'rfc2822', T],
		['HTTP date', 'Wed, 01 May 2024 12:30:00 GMT', 'http', T],
		['SQL', '2024-05-01 12:30:00', 'sql', T],
		['SQL with fraction', '2024-05-01 12:30:00.000', 'sql', T],
		['epoch seconds (number)', T / 1000, 'epochSeconds', T],
		['epoch seconds (string)', String(T / 1000), 'epochSeconds', T],
		['epoch millis (number)', T, 'epochMillis', T],
		['epoch millis (string)', String(T), 'epochMillis', T],
		['detect: epoch seconds', T / 1000, 'auto', T],
		['detect: epoch millis', T, 'auto', T],
		['detect: numeric string seconds', String(T / 1000), 'auto', T],
		['detect: ISO', '2024-05-01T12:30:00Z', 'auto', T],
		['detect: RFC 2822', 'Wed, 01 May 2024 12:30:00 +0000', 'auto', T],
		['detect: HTTP', 'Wed, 01 May 2024 12:30:00 GMT', 'auto', T],
		['detect: SQL', '2024-05-01 12:30:00', 'auto', T],
		['detect: date only', '2024-05-01', 'auto', Date.UTC(2024, 4, 1)],
		['a Date', new Date(T), 'auto', T],
		['a DateTime-like object', { toMillis: () => T }, 'iso', T],
	])('%s', (_name, value, format, expected) => {
		expect(parseTimestamp(value, utc(format))).toBe(expected);
	});

	it('reads a custom Luxon format', () => {
		expect(
			parseTimestamp('01.05.2024 12:30', utc('custom', { customFormat: 'dd.MM.yyyy HH:mm' })),
		).toBe(T);
	});

	it('applies the default zone only to timestamps without one', () => {
		const berlin = { format: 'auto' as const, defaultZone: 'Europe/Berlin' };
		expect(parseTimestamp('2024-05-01 14:30:00', berlin)).toBe(T); // CEST = UTC+2
		expect(parseTimestamp('2024-05-01T12:30:00Z', berlin)).toBe(T);
	});

	it('gives undefined for nothing and NaN for what it cannot read', () => {
		for (const v of [undefined, null, '']) expect(parseTimestamp(v, utc('auto'))).toBeUndefined();
		for (const [v, f] of [
			['yesterday', 'auto'],
			['2024-13-45', 'iso'],
			['Wed, 01 May 2024', 'sql'],
			[{}, 'auto'],
			[true, 'auto'],
			['12:30', 'epochSeconds'],
			[NaN, 'auto'],
			[T, 'iso'],
		] as Array<[unknown, TimestampFormat]>) {
			expect(parseTimestamp(v, utc(f))).toBeNaN();
		}
	});
});

describe('judge (dbt semantics)', () => {
	const day = 86_400_000;
	const rules = { warnAfterMs: day, errorAfterMs: 3 * day, clockSkewMs: 300_000 };
	it.each([
		[0, 'fresh', 'within_thresholds'],
		[day, 'fresh', 'within_thresholds'], // at the threshold: not yet exceeded
		[day + 1, 'warn', 'warn_after_exceeded'],
		[3 * day + 1, 'stale', 'error_after_exceeded'],
		[-400_000, 'stale', 'future_timestamp'],
	])('age %d ms → %s', (age, status, reason) => {
		const now = T + 10 * day;
		expect(judge(now - age, now, rules)).toMatchObject({ status, reason, ageMs: age });
	});

	it('inside the clock skew a timestamp counts as now: age 0, not negative', () => {
		expect(judge(T + 120_000, T, rules)).toMatchObject({
			status: 'fresh',
			reason: 'within_thresholds',
			ageMs: 0,
			age: '0ms',
			timestamp: new Date(T + 120_000).toISOString(),
		});
	});

	it('with only error after, old data is stale and never warn', () => {
		const r = { errorAfterMs: day, clockSkewMs: 0 };
		expect(judge(T - 2 * day, T, r).status).toBe('stale');
		expect(judge(T - day / 2, T, r).status).toBe('fresh');
	});

	it('with only warn after, old data is warn and never stale', () => {
		const r = { warnAfterMs: day, clockSkewMs: 0 };
		expect(judge(T - 100 * day, T, r)).toMatchObject({
			status: 'warn',
			errorAfterMs: null,
			warnAfterMs: day,
		});
	});

	it('a missing or unreadable timestamp is stale with its reason', () => {
		expect(judge(undefined, T, rules)).toMatchObject({
			status: 'stale',
			reason: 'missing_timestamp',
			ageMs: null,
		});
		expect(judge(NaN, T, rules)).toMatchObject({
			status: 'stale',
			reason: 'invalid_timestamp',
			timestamp: null,
		});
	});

	it('reports the timestamp, the check time and a readable age', () => {
		expect(judge(T - (2 * day + 3 * 3_600_000), T, rules)).toEqual({
			status: 'warn',
			reason: 'warn_after_exceeded',
			ageMs: 2 * day + 3 * 3_600_000,
			age: '2d 3h',
			timestamp: new Date(T - (2 * day + 3 * 3_600_000)).toISOString(),
			checkedAt: new Date(T).toISOString(),
			warnAfterMs: day,
			errorAfterMs: 3 * day,
			message: null,
		});
	});
});

describe('formatAge', () => {
	it.each([
		[850, '850ms'],
		[1_000, '1s'],
		[65_000, '1m 5s'],
		[3_600_000, '1h'],
		[90_061_000, '1d 1h'],
		[86_400_000 + 60_000, '1d'],
	])('%d ms → %s', (ms, text) => expect(formatAge(ms)).toBe(text));
});

describe('resolveSettings', () => {
	const ok = { format: 'auto' as const, warnAfter: { count: 1, period: 'day' as const } };
	it.each([
		[{ format: 'auto' }, /Warn After", "Error After" or both/],
		[
			{ ...ok, errorAfter: { count: 12, period: 'hour' } },
			/"Warn After" \(1d\) must be shorter than "Error After" \(12h\)/,
		],
		[{ ...ok, warnAfter: { count: -1, period: 'day' } }, /"Warn After" must be a number of 0/],
		[{ ...ok, warnAfter: { count: 1, period: 'year' } }, /"Warn After Unit": unknown unit/],
		[{ ...ok, clockSkewSeconds: -5 }, /"Allowed Clock Skew \(Seconds\)" must be/],
		[{ ...ok, warnAfter: { count: 0, period: 'day' } }, /Warn After", "Error After" or both/],
		[{ ...ok, defaultZone: 'Mars/Olympus' }, /"Default Time Zone": "Mars\/Olympus"/],
		[{ ...ok, defaultZone: [{ toString: null }] }, /"Default Time Zone": a list of 1 is not/],
		[{ ...ok, format: 'custom', customFormat: {} }, /"Custom Format" is empty or not text/],
		[{ ...ok, format: 'unix' }, /"Timestamp Format": unknown format "unix"/],
		[{ ...ok, format: 'custom' }, /"Custom Format" is empty/],
		[{ ...ok, referenceTime: 'someday' }, /"Reference Time" is "someday", not a readable date/],
		[{ ...ok, referenceTime: 1e20 }, /"Reference Time" is 100000000000000000000, too large/],
	])('rejects %j', (settings, message) => {
		expect(() => resolveSettings(settings as never, T)).toThrow(message);
	});

	it('uses the reference time when given', () => {
		expect(resolveSettings({ ...ok, referenceTime: '2024-05-01T12:30:00Z' }, 0).nowMs).toBe(T);
		expect(resolveSettings(ok, 42).nowMs).toBe(42);
	});
});
