import { MAX_TIME_MS, preview, readDate, type DateFormat } from '../../lib/dates';

const T = Date.UTC(2024, 4, 1, 12, 30, 0, 123); // 2024-05-01T12:30:00.123Z
const auto = { format: 'auto' as DateFormat, defaultZone: 'UTC' };
const ms = (value: unknown, format: DateFormat = 'auto') => {
	const read = readDate(value, { format, defaultZone: 'UTC' });
	return read.ok ? read.ms : read.why;
};

describe('readDate: epoch numbers', () => {
	it.each<[string, unknown, number]>([
		['seconds', T / 1000, T],
		['milliseconds', T, T],
		['microseconds', T * 1000, T],
		['nanoseconds', T * 1e6, T],
		['seconds as text', String(T / 1000), T],
		['microseconds as text', `${T}000`, T],
		['nanoseconds as text', `${T}000000`, T],
		['before 1970, seconds', -86_400, -86_400_000],
		['-0 is the epoch itself, not -0', -0, 0],
	])('auto-detects %s by magnitude', (_name, value, expected) => {
		const got = ms(value);
		expect(typeof got === 'number' ? Math.round(got) : got).toBe(expected);
		expect(Object.is(got, -0)).toBe(false);
	});

	it.each<[DateFormat, number]>([
		['epochSeconds', T / 1000],
		['epochMillis', T],
		['epochMicros', T * 1000],
		['epochNanos', T * 1e6],
	])('reads %s when told so', (format, value) => {
		expect(Math.round(ms(value, format) as number)).toBe(T);
		expect(Math.round(ms(String(value), format) as number)).toBe(T);
	});

	it.each<[unknown, RegExp]>([
		[1e20, /^is 100000000000000000000, too large for an epoch time in any unit$/],
		[-1e308, /^is -1e\+308, too large/],
		[Number.MAX_VALUE, /too large/],
		['1e300', /too large/],
		[Infinity, /^is Infinity, not a finite number$/],
		[-Infinity, /not a finite number/],
		[NaN, /^is NaN, not a finite number$/],
	])('%p is no valid time, with a reason', (value, reason) => {
		expect(ms(value)).toMatch(reason);
	});

	it('rejects an explicit unit that leaves the range of dates', () => {
		expect(ms(9e15, 'epochMillis')).toMatch(/outside the range of dates/);
		expect(ms(1e13, 'epochSeconds')).toMatch(/outside the range of dates/);
		expect(ms(T, 'iso')).toMatch(/not a date in the chosen format/);
	});

	it('reads 2^53 + 1 and numeric text beyond 2^53 as microseconds (year 2255)', () => {
		for (const v of [2 ** 53 + 1, '9007199254740994'])
			expect(new Date(ms(v) as number).getUTCFullYear()).toBe(2255);
	});
});

describe('readDate: text, Dates and DateTimes', () => {
	it.each<[string, unknown, DateFormat]>([
		['ISO', '2024-05-01T12:30:00.123Z', 'iso'],
		['ISO, detected', '2024-05-01T14:30:00.123+02:00', 'auto'],
		['SQL, detected', '2024-05-01 12:30:00.123', 'auto'],
		['a Date', new Date(T), 'auto'],
		['a DateTime-like object', { toMillis: () => T }, 'auto'],
	])('%s', (_name, value, format) => expect(ms(value, format)).toBe(T));

	it('tells missing from unreadable', () => {
		for (const v of [undefined, null, '', '   ']) {
			const read = readDate(v, auto);
			expect(read).toMatchObject({ ok: false, missing: true });
		}
		for (const v of ['yesterday', {}, [], true, 12n, new Date(NaN), Symbol('x')]) {
			expect(readDate(v, auto)).toMatchObject({ ok: false, missing: false });
		}
	});
});

describe('readDate never throws and never returns a time Date rejects', () => {
	const hostile: unknown[] = [
		1e20,
		-1e308,
		8.64e15 + 1,
		2 ** 53 + 1,
		'9007199254740994',
		'99999999999999999999',
		'+275761-01-01T00:00:00Z',
		'-271822-01-01T00:00:00Z',
		'\uD800',
		`2024-05-01${'\uDFFF'.repeat(3)}`,
		'x'.repeat(2_000_000),
		`${' '.repeat(1_000_000)}1714566600`,
		{ toMillis: () => Infinity },
		{ toMillis: () => 1e300 },
		{
			toMillis: () => {
				throw new Error('boom');
			},
		},
		{ toMillis: 'not a function', toString: 'not a function' },
		{
			toString() {
				throw new Error('boom');
			},
			valueOf() {
				throw new Error('boom');
			},
		},
		JSON.parse('{"__proto__": {"toMillis": 1}}'),
		Object.create(null),
		new Proxy(
			{},
			{
				get() {
					throw new Error('trap');
				},
			},
		),
		Buffer.from('2024-05-01'),
		new Date(8.64e15),
	];
	it.each(hostile.map((v, i) => [i, v]))('hostile value #%i', (_i, value) => {
		for (const format of ['auto', 'iso', 'epochNanos', 'custom'] as DateFormat[]) {
			const read = readDate(value, { format, defaultZone: 'UTC', customFormat: 'yyyy' });
			if (read.ok) {
				expect(Math.abs(read.ms)).toBeLessThanOrEqual(MAX_TIME_MS);
				expect(() => new Date(read.ms).toISOString()).not.toThrow();
			} else {
				expect(read.why.length).toBeLessThan(120);
			}
		}
		expect(Object.prototype).not.toHaveProperty('toMillis');
	});
});

describe('preview', () => {
	it('is short and safe for any value', () => {
		expect(preview('x'.repeat(1_000_000))).toBe(`"${'x'.repeat(60)}"…`);
		expect(preview(`${'a'.repeat(59)}\uD83D\uDE00`)).toBe(`"${'a'.repeat(59)}"…`); // no half emoji
		expect(preview(-0)).toBe('-0');
		expect(preview([1, 2])).toBe('a list of 2');
		expect(
			preview({
				toJSON() {
					throw new Error('boom');
				},
			}),
		).toBe('an object');
	});
});
