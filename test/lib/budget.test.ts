import {
	BudgetBook,
	BudgetRefusal,
	periodOf,
	validateBudgetSpec,
	type Amount,
	type BudgetSpec,
	type BudgetUse,
} from '../../lib/ai/budget';
import { MemoryStore } from '../../lib/stores/memory';
import type { StateStore } from '../../lib/stores/types';
import { RecordContention, updateRecord } from '../../lib/stores/update';

const HOUR = 3_600_000;
const MINUTE = 60_000;

let unique = 0;
const spec = (over: Partial<BudgetSpec> = {}): BudgetSpec => ({
	name: `b-${++unique}`,
	period: 'day',
	timeZone: 'UTC',
	limitUsd: 1,
	limitTokens: 0,
	warnPercent: 0,
	unpriced: 'refuse',
	...over,
});
const use = (s: BudgetSpec, scopeKey = ''): BudgetUse => ({ spec: s, scopeKey });
const usd = (n: number, tokens = 100): Amount => ({ usd: n, tokens, priced: true });

/** A MemoryStore and a BudgetBook on one fake clock. */
function setup(startIso: string) {
	const clock = { t: Date.parse(startIso) };
	const now = () => clock.t;
	const store = new MemoryStore({ now });
	return { clock, store, book: new BudgetBook(store, { now, random: () => 0.5 }) };
}

async function reserveOk(book: BudgetBook, uses: BudgetUse[], estimate: Amount, holdMs = MINUTE) {
	const r = await book.reserve(uses, estimate, holdMs);
	if (!r.ok) throw new Error(`expected a reservation, got: ${r.refusal.message}`);
	return r;
}

async function refusalOf(book: BudgetBook, uses: BudgetUse[], estimate: Amount) {
	const r = await book.reserve(uses, estimate, MINUTE);
	if (r.ok) throw new Error('expected a refusal');
	return r.refusal;
}

describe('budget arithmetic', () => {
	it('holds the estimate, then replaces it by the actual cost', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1, limitTokens: 10_000 });
		const r = await reserveOk(book, [use(s)], usd(0.3, 1000));
		expect(r.states[0]).toMatchObject({
			spentUsd: 0,
			reservedUsd: 0.3,
			reservedTokens: 1000,
			remainingUsd: 0.7,
			remainingTokens: 9000,
			status: 'within',
		});
		expect(r.states[0].percent).toBeCloseTo(30);
		const settled = await r.hold.settle(usd(0.2, 700));
		expect(settled.states[0]).toMatchObject({
			spentUsd: 0.2,
			reservedUsd: 0,
			spentTokens: 700,
			reservedTokens: 0,
			remainingUsd: 0.8,
			remainingTokens: 9300,
		});
		expect(await book.check(use(s))).toMatchObject({ spentUsd: 0.2, reservedUsd: 0 });
	});

	it('fits calls exactly up to the limit (no float drift): ten of $0.1 in $1, the eleventh refused', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1 });
		for (let i = 0; i < 10; i++)
			await (await reserveOk(book, [use(s)], usd(0.1))).hold.settle(usd(0.1));
		expect((await book.check(use(s))).status).toBe('exceeded');
		expect(await refusalOf(book, [use(s)], usd(0.000001))).toBeInstanceOf(BudgetRefusal);
	});

	it('cancel gives the hold back', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1 });
		const r = await reserveOk(book, [use(s)], usd(0.9));
		await refusalOf(book, [use(s)], usd(0.2));
		await r.hold.cancel();
		expect(await book.check(use(s))).toMatchObject({ spentUsd: 0, reservedUsd: 0 });
		await reserveOk(book, [use(s)], usd(0.2));
	});

	it('an actual cost above the estimate is spent all the same (the estimate’s error), never refused', async () => {
		const { store, book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1 });
		const r = await reserveOk(book, [use(s)], usd(0.9));
		const settled = await r.hold.settle(usd(1.2));
		expect(settled.states[0]).toMatchObject({ spentUsd: 1.2, remainingUsd: 0, status: 'exceeded' });
		expect(settled.states[0].percent).toBeCloseTo(120);
		const [record] = await store.dueRecords(`budget:${s.name}`, 10); // none are due …
		expect(record).toBeUndefined();
		const stored = await store.getRecord<{ overUsd: number }>(
			`budget:${s.name}`,
			`k::day:UTC:${Date.parse('2026-06-10T00:00:00Z')}`,
		);
		expect(stored?.value.overUsd).toBeCloseTo(0.3); // … but the overshoot is recorded
	});
});

describe('refusals', () => {
	it('names the budget, what is left and what the call may cost, and retries at the period’s reset', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ name: 'team-daily', limitUsd: 1 });
		await (await reserveOk(book, [use(s)], usd(0.9))).hold.settle(usd(0.9));
		const refusal = await refusalOf(book, [use(s)], usd(0.25));
		expect(refusal).toBeInstanceOf(BudgetRefusal);
		expect(refusal.failureClass).toBe('budget_exceeded');
		expect(refusal.retryable).toBe(false);
		expect(refusal.message).toMatch(/Budget "team-daily"/);
		expect(refusal.message).toMatch(/\$0\.1000 of \$1\.00 left this day/);
		expect(refusal.message).toMatch(/may cost up to \$0\.2500/);
		expect(refusal.retryAfterMs).toBe(14 * HOUR);
		expect(refusal.budget).toMatchObject({ name: 'team-daily', spentUsd: 0.9, remainingUsd: 0.1 });
		expect(refusal.budget.resetAt).toBe(Date.parse('2026-06-11T00:00:00Z'));
	});

	it('says when held reservations are part of what is taken', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1 });
		await reserveOk(book, [use(s)], usd(0.7));
		const refusal = await refusalOf(book, [use(s)], usd(0.5));
		expect(refusal.message).toMatch(/\$0\.7000 of it held by calls in flight/);
		expect(refusal.budget.reservedUsd).toBe(0.7);
	});

	it('a call whose worst case alone passes the limit gets no retry time: waiting would not help', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const refusal = await refusalOf(book, [use(spec({ limitUsd: 1 }))], usd(1.5));
		expect(refusal.message).toMatch(/more than the whole limit/);
		expect(refusal.retryAfterMs).toBeUndefined();
	});

	it('refuses by tokens where a token limit is set', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 0, limitTokens: 1000 });
		await (await reserveOk(book, [use(s)], usd(0.01, 800))).hold.settle(usd(0.01, 800));
		const refusal = await refusalOf(book, [use(s)], usd(0.01, 300));
		expect(refusal.message).toMatch(/200 tokens of 1,000 tokens left this day.*up to 300 tokens/);
		expect(refusal.retryAfterMs).toBe(14 * HOUR);
	});
});

describe('periods', () => {
	it('a day in Europe/Berlin starts at local midnight', async () => {
		const { clock, book } = setup('2026-11-10T22:30:00Z'); // 23:30 in Berlin (UTC+1)
		const s = spec({ timeZone: 'Europe/Berlin', limitUsd: 1 });
		expect(periodOf(s, clock.t)).toEqual({
			start: Date.parse('2026-11-09T23:00:00Z'),
			end: Date.parse('2026-11-10T23:00:00Z'),
		});
		await (await reserveOk(book, [use(s)], usd(0.8))).hold.settle(usd(0.8));
		const refusal = await refusalOf(book, [use(s)], usd(0.5));
		expect(refusal.retryAfterMs).toBe(30 * MINUTE);
		clock.t = Date.parse('2026-11-10T23:00:00Z'); // midnight in Berlin: a new day
		expect(await book.check(use(s))).toMatchObject({ spentUsd: 0, periodStart: clock.t });
		await reserveOk(book, [use(s)], usd(0.5));
	});

	it('DST days are 23 and 25 hours long', () => {
		const s = spec({ timeZone: 'Europe/Berlin' });
		const spring = periodOf(s, Date.parse('2026-03-29T12:00:00Z'))!;
		expect(spring.start).toBe(Date.parse('2026-03-28T23:00:00Z'));
		expect(spring.end - spring.start).toBe(23 * HOUR);
		const autumn = periodOf(s, Date.parse('2026-10-25T12:00:00Z'))!;
		expect(autumn.start).toBe(Date.parse('2026-10-24T22:00:00Z'));
		expect(autumn.end - autumn.start).toBe(25 * HOUR);
		// hours around the change: the repeated 02:00 is its own hour
		const hour = spec({ period: 'hour', timeZone: 'Europe/Berlin' });
		const first = periodOf(hour, Date.parse('2026-10-25T00:30:00Z'))!;
		const second = periodOf(hour, Date.parse('2026-10-25T01:30:00Z'))!;
		expect(first.start).toBe(Date.parse('2026-10-25T00:00:00Z'));
		expect(second.start).toBe(Date.parse('2026-10-25T01:00:00Z'));
	});

	it('a spend on the DST day resets at its (23 h later) local midnight', async () => {
		const { clock, book } = setup('2026-03-29T21:00:00Z'); // 23:00 CEST
		const s = spec({ timeZone: 'Europe/Berlin', limitUsd: 1 });
		await (await reserveOk(book, [use(s)], usd(1))).hold.settle(usd(1));
		expect((await refusalOf(book, [use(s)], usd(0.1))).retryAfterMs).toBe(HOUR);
		clock.t = Date.parse('2026-03-29T22:00:00Z');
		await reserveOk(book, [use(s)], usd(0.1));
	});

	it('a week runs from Monday 00:00 in the time zone', async () => {
		const { clock, book } = setup('2026-12-06T20:00:00Z'); // Sunday 21:00 in Berlin
		const s = spec({ period: 'week', timeZone: 'Europe/Berlin', limitUsd: 1 });
		expect(periodOf(s, clock.t)).toEqual({
			start: Date.parse('2026-11-29T23:00:00Z'), // Monday 30 November, 00:00 CET
			end: Date.parse('2026-12-06T23:00:00Z'),
		});
		await (await reserveOk(book, [use(s)], usd(1))).hold.settle(usd(1));
		expect((await refusalOf(book, [use(s)], usd(0.1))).retryAfterMs).toBe(3 * HOUR);
		clock.t = Date.parse('2026-12-06T23:00:00Z');
		await reserveOk(book, [use(s)], usd(0.1));
		clock.t = Date.parse('2026-12-13T22:59:59Z'); // still the same week: the spend stays
		expect((await book.check(use(s))).reservedUsd).toBe(0); // the hold (1 min) expired
	});

	it('a calendar month in America/New_York', async () => {
		const { clock, book } = setup('2027-02-01T04:30:00Z'); // 31 January, 23:30 EST
		const s = spec({ period: 'month', timeZone: 'America/New_York', limitUsd: 5 });
		expect(periodOf(s, clock.t)).toEqual({
			start: Date.parse('2027-01-01T05:00:00Z'),
			end: Date.parse('2027-02-01T05:00:00Z'),
		});
		await (await reserveOk(book, [use(s)], usd(5))).hold.settle(usd(4.99));
		expect((await refusalOf(book, [use(s)], usd(0.1))).retryAfterMs).toBe(30 * MINUTE);
		clock.t = Date.parse('2027-02-01T05:00:00Z');
		const feb = await book.check(use(s));
		expect(feb).toMatchObject({ spentUsd: 0, resetAt: Date.parse('2027-03-01T05:00:00Z') });
	});

	it('a rolling window slides: spend leaves it bucket by bucket, and room comes back then', async () => {
		const t0 = Date.parse('2026-06-10T10:00:00Z');
		const { clock, book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ period: 'rolling', rollingMs: HOUR, limitUsd: 1 }); // buckets of 1 min
		expect(periodOf(s, t0)).toBeUndefined();
		await (await reserveOk(book, [use(s)], usd(0.6))).hold.settle(usd(0.6));
		clock.t = t0 + 30 * MINUTE;
		await (await reserveOk(book, [use(s)], usd(0.3))).hold.settle(usd(0.3));
		clock.t = t0 + 59 * MINUTE;
		const refusal = await refusalOf(book, [use(s)], usd(0.2));
		expect(refusal.budget).toMatchObject({ spentUsd: 0.9, periodStart: null });
		expect(refusal.budget.resetAt).toBe(t0 + MINUTE + HOUR); // the first bucket has left
		expect(refusal.retryAfterMs).toBe(2 * MINUTE);
		expect(refusal.message).toMatch(/in the last 1 h/);
		clock.t = t0 + 61 * MINUTE;
		const state = await book.check(use(s));
		expect(state.spentUsd).toBe(0.3);
		expect(state.resetAt).toBe(t0 + 31 * MINUTE + HOUR);
		await reserveOk(book, [use(s)], usd(0.2));
		clock.t = t0 + 92 * MINUTE;
		expect((await book.check(use(s))).spentUsd).toBe(0);
	});

	it('a rolling record keeps at most about 60 buckets however many calls it counts', async () => {
		const { clock, store, book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ period: 'rolling', rollingMs: 10 * MINUTE, limitUsd: 1000 }); // 10 s buckets
		for (let i = 0; i < 300; i++) {
			await (await reserveOk(book, [use(s)], usd(0.01))).hold.settle(usd(0.01));
			clock.t += 3_000;
		}
		const stored = await store.getRecord<{ buckets: unknown[] }>(
			`budget:${s.name}`,
			`k::rolling:${10 * MINUTE}`,
		);
		expect(stored!.value.buckets.length).toBeLessThanOrEqual(61);
		expect(stored!.value.buckets.length).toBeGreaterThanOrEqual(59);
		clock.t += 5_000; // the window's edge now cuts a bucket: 10:05:05 back to 10:15:05
		// 198 calls in the last 10 minutes, plus the 2 of the cut bucket before 10:05:05: counted
		// whole, so the window never holds less than was spent in it
		expect((await book.check(use(s))).spentUsd).toBeCloseTo(2, 6);
	});
});

describe('holds', () => {
	it('a hold expires after its time: a crashed worker’s reservation comes back, and is dropped on the next write', async () => {
		const { clock, store, book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1 });
		await reserveOk(book, [use(s)], usd(0.8), MINUTE); // never settled
		await refusalOf(book, [use(s)], usd(0.3));
		clock.t += MINUTE + 1;
		expect((await book.check(use(s))).reservedUsd).toBe(0);
		const r = await reserveOk(book, [use(s)], usd(0.3));
		const stored = await store.getRecord<{ holds: Record<string, unknown> }>(
			`budget:${s.name}`,
			`k::day:UTC:${Date.parse('2026-06-10T00:00:00Z')}`,
		);
		expect(Object.keys(stored!.value.holds)).toHaveLength(1);
		await r.hold.settle(usd(0.3));
		expect(await book.check(use(s))).toMatchObject({ spentUsd: 0.3, reservedUsd: 0 });
	});

	it('a hold settles once: a second settle or cancel throws instead of counting twice', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1 });
		const r = await reserveOk(book, [use(s)], usd(0.5));
		await r.hold.settle(usd(0.4));
		await expect(r.hold.settle(usd(0.4))).rejects.toThrow(/settle after it was settled/);
		await expect(r.hold.cancel()).rejects.toThrow(/cancel after it was settled/);
		expect((await book.check(use(s))).spentUsd).toBe(0.4);
	});

	it('a settle after its hold expired still counts the spend', async () => {
		const { clock, book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1 });
		const r = await reserveOk(book, [use(s)], usd(0.5), 1000);
		clock.t += 5000;
		await r.hold.settle(usd(0.4));
		expect(await book.check(use(s))).toMatchObject({ spentUsd: 0.4, reservedUsd: 0 });
	});
});

describe('warnings', () => {
	it('warn exactly once per period across two books (workers) on one store', async () => {
		const { clock, store } = setup('2026-06-10T10:00:00Z');
		const now = () => clock.t;
		const a = new BudgetBook(store, { now });
		const b = new BudgetBook(store, { now });
		const s = spec({ limitUsd: 1, warnPercent: 50 });
		const seen: string[] = [];
		const note = (who: string, warnings: Array<{ percent: number; status: string }>) => {
			for (const w of warnings) seen.push(`${who}:${Math.round(w.percent)}:${w.status}`);
		};
		const ra = await reserveOk(a, [use(s)], usd(0.3));
		note('a-reserve', ra.warnings);
		const rb = await reserveOk(b, [use(s)], usd(0.3)); // 60 % with the holds
		note('b-reserve', rb.warnings);
		note('a-settle', (await ra.hold.settle(usd(0.3))).warnings);
		note('b-settle', (await rb.hold.settle(usd(0.3))).warnings);
		const rc = await reserveOk(a, [use(s)], usd(0.3));
		note('a-reserve2', rc.warnings);
		note('a-settle2', (await rc.hold.settle(usd(0.3))).warnings);
		expect(seen).toEqual(['b-reserve:60:warn']);
		expect((await b.check(use(s))).status).toBe('warn');

		clock.t = Date.parse('2026-06-11T08:00:00Z'); // the next day warns again, once
		const next = await reserveOk(b, [use(s)], usd(0.6));
		note('next-day', next.warnings);
		note('next-day-a', (await reserveOk(a, [use(s)], usd(0.1))).warnings);
		expect(seen).toEqual(['b-reserve:60:warn', 'next-day:60:warn']);
	});

	it('no warnings with Warn At 0', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const r = await reserveOk(book, [use(spec({ limitUsd: 1, warnPercent: 0 }))], usd(0.99));
		expect(r.warnings).toEqual([]);
		expect(r.states[0].status).toBe('within');
	});
});

describe('models without a price', () => {
	const unpriced: Amount = { usd: 0, tokens: 600, priced: false };

	it('refused by a USD budget that refuses them, with no retry time', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const refusal = await refusalOf(book, [use(spec({ name: 'usd-only', limitUsd: 1 }))], unpriced);
		expect(refusal.failureClass).toBe('budget_exceeded');
		expect(refusal.message).toMatch(/Budget "usd-only" refuses models without a known price/);
		expect(refusal.message).toMatch(/Price Overrides/);
		expect(refusal.retryAfterMs).toBeUndefined();
	});

	it('counted by their tokens (USD 0) with countTokens', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1, limitTokens: 1000, unpriced: 'countTokens' });
		const r = await reserveOk(book, [use(s)], unpriced);
		expect(r.states[0]).toMatchObject({ reservedUsd: 0, reservedTokens: 600 });
		const refusal = await refusalOf(book, [use(s)], unpriced);
		expect(refusal.message).toMatch(/tokens/);
		await r.hold.settle({ usd: 0, tokens: 500, priced: false });
		expect(await book.check(use(s))).toMatchObject({ spentUsd: 0, spentTokens: 500 });
	});

	it('a token-only budget counts every call, priced or not, whatever it says for unpriced models', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 0, limitTokens: 1000, unpriced: 'refuse' });
		await (await reserveOk(book, [use(s)], unpriced)).hold.settle({ ...unpriced, tokens: 600 });
		await (await reserveOk(book, [use(s)], usd(0.5, 300))).hold.settle(usd(0.5, 300));
		expect(await book.check(use(s))).toMatchObject({ spentTokens: 900, spentUsd: 0.5 });
		expect(await refusalOf(book, [use(s)], usd(0, 101))).toBeInstanceOf(BudgetRefusal);
	});
});

describe('several budgets at once', () => {
	it('all or none: a refusal by the second gives back what the first held', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const wide = spec({ name: 'wide', limitUsd: 10 });
		const narrow = spec({ name: 'narrow', limitUsd: 0.5 });
		const refusal = await refusalOf(book, [use(wide), use(narrow, 'cust-1')], usd(0.6));
		expect(refusal.message).toMatch(/Budget "narrow" for "cust-1"/);
		expect(await book.check(use(wide))).toMatchObject({ reservedUsd: 0, spentUsd: 0 });
		const r = await reserveOk(book, [use(wide), use(narrow, 'cust-1')], usd(0.4));
		expect(r.states.map((s) => s.reservedUsd)).toEqual([0.4, 0.4]);
		const settled = await r.hold.settle(usd(0.3));
		expect(settled.states.map((s) => [s.name, s.spentUsd])).toEqual([
			['wide', 0.3],
			['narrow', 0.3],
		]);
	});

	it('the same budget named twice is held once', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1 });
		const r = await reserveOk(book, [use(s), use(s)], usd(0.6));
		expect(r.states).toHaveLength(1);
		expect((await book.check(use(s))).reservedUsd).toBe(0.6);
	});
});

describe('hostile scope keys', () => {
	const keys = [
		'',
		'plain-key_1.2',
		'k:plain',
		'h:0000',
		'a:b:c',
		'with space',
		'\u0000nul',
		'__proto__',
		'constructor',
		'ключ 🔑',
		'x'.repeat(100_000),
		'x'.repeat(99_999) + 'y',
		'"quoted" \\ back\nslash',
	];

	it('each key is a budget of its own, given back exactly, and messages stay short', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const s = spec({ name: 'per-customer', limitUsd: 1 });
		for (const key of keys)
			await (await reserveOk(book, [use(s, key)], usd(0.9))).hold.settle(usd(0.9));
		for (const key of keys) {
			const state = await book.check(use(s, key));
			expect(state.scopeKey).toBe(key);
			expect(state.spentUsd).toBe(0.9);
			const refusal = await refusalOf(book, [use(s, key)], usd(0.2));
			expect(refusal.budget.scopeKey).toBe(key);
			expect(refusal.message.length).toBeLessThan(400);
		}
		const long = await refusalOf(book, [use(s, keys[10])], usd(0.2));
		expect(long.message).toMatch(/for "x{59}…"/);
		expect((await book.check(use(s, 'never-used'))).spentUsd).toBe(0);
	});

	it('a hostile budget name is safe too', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const a = spec({ name: 'a:b', limitUsd: 1 });
		const b = spec({ name: 'a', limitUsd: 1 });
		await (await reserveOk(book, [use(a, 'b')], usd(0.9))).hold.settle(usd(0.9));
		expect((await book.check(use(b, 'b:b'))).spentUsd).toBe(0);
		expect((await book.check(use(b, 'b'))).spentUsd).toBe(0);
	});
});

describe('validateBudgetSpec', () => {
	const cases: Array<[Partial<BudgetSpec>, RegExp]> = [
		[{ name: '  ' }, /"Budget Name" is empty/],
		[{ limitUsd: 0, limitTokens: 0 }, /"Limit \(USD\)" and "Token Limit" are both 0/],
		[{ limitUsd: -1 }, /"Limit \(USD\)" must be a number of 0 or more/],
		[{ limitTokens: Number.NaN }, /"Token Limit" must be a number of 0 or more/],
		[{ warnPercent: 120 }, /"Warn At \(%\)" must be between 0 and 100/],
		[{ warnPercent: -5 }, /"Warn At \(%\)"/],
		[
			{ timeZone: 'Mars/Olympus_Mons' },
			/"Time Zone" "Mars\/Olympus_Mons" is not a known IANA time zone/,
		],
		[{ timeZone: '' }, /"Time Zone"/],
		[{ period: 'rolling', rollingMs: 0 }, /"Window \(Hours\)" must be more than 0/],
		[{ period: 'rolling', rollingMs: undefined }, /"Window \(Hours\)"/],
		[{ period: 'fortnight' as never }, /"Period" must be one of/],
		[
			{ unpriced: 'countTokens', limitUsd: 5, limitTokens: 0 },
			/"Models Without a Price".*"Token Limit" is 0.*free/,
		],
	];

	it.each(cases)('%j', (over, message) => {
		expect(validateBudgetSpec(spec(over))).toMatch(message);
	});

	it('accepts sound specs (a rolling window needs no time zone)', () => {
		expect(validateBudgetSpec(spec())).toBeUndefined();
		expect(validateBudgetSpec(spec({ timeZone: 'Asia/Kolkata', period: 'month' }))).toBeUndefined();
		expect(
			validateBudgetSpec(spec({ period: 'rolling', rollingMs: HOUR, timeZone: '' })),
		).toBeUndefined();
		expect(
			validateBudgetSpec(spec({ unpriced: 'countTokens', limitUsd: 0, limitTokens: 1000 })),
		).toBeUndefined();
	});

	it('reserve and check throw on an unsound spec, naming the budget', async () => {
		const { book } = setup('2026-06-10T10:00:00Z');
		const bad = spec({ name: 'broken', limitUsd: 0 });
		await expect(book.reserve([use(bad)], usd(0.1), MINUTE)).rejects.toThrow(/Budget "broken": /);
		await expect(book.check(use(bad))).rejects.toThrow(/Budget "broken": /);
	});
});

describe('updateRecord', () => {
	/** Counts lost compare-and-sets. */
	function counting(store: StateStore) {
		const counts = { lost: 0 };
		const put = store.putRecord.bind(store);
		store.putRecord = async (...args) => {
			const version = await put(...args);
			if (!version) counts.lost++;
			return version;
		};
		return counts;
	}

	it('the callers of one process take turns: none of 50 at once loses a write', async () => {
		const store = new MemoryStore();
		const counts = counting(store);
		await Promise.all(
			Array.from({ length: 50 }, () =>
				updateRecord<number>(store, 'ns', 'n', (n) => ({ value: (n ?? 0) + 1, ttlMs: MINUTE })),
			),
		);
		expect((await store.getRecord('ns', 'n'))?.value).toBe(50);
		expect(counts.lost).toBe(0);
	});

	it('callers who queued go together in one write, each deciding on what the one before left', async () => {
		const store = new MemoryStore();
		let puts = 0;
		const put = store.putRecord.bind(store);
		store.putRecord = async (...args) => {
			puts++;
			return await put(...args);
		};
		const seen = await Promise.all(
			Array.from({ length: 30 }, (_, i) =>
				updateRecord<number[]>(store, 'ns', 'list', (list) =>
					i % 10 === 9 ? undefined : { value: [...(list ?? []), i], ttlMs: MINUTE },
				),
			),
		);
		const expected = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 10 !== 9);
		expect((await store.getRecord('ns', 'list'))?.value).toEqual(expected); // first come, first served
		expect(seen[9]).toBeUndefined(); // its decision wrote nothing
		expect(seen[29]).toBeUndefined();
		expect(seen[28]).toEqual(expected);
		expect(seen[0]).toEqual([0]); // each gets the value its own decision made
		expect(puts).toBeLessThan(30);
	});

	it('a decision that throws fails only its own caller', async () => {
		const store = new MemoryStore();
		const results = await Promise.allSettled(
			[1, 2, 3].map((n) =>
				updateRecord<number>(store, 'ns', 'sum', (sum) => {
					if (n === 2) throw new Error('bad decision');
					return { value: (sum ?? 0) + n, ttlMs: MINUTE };
				}),
			),
		);
		expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
		expect((await store.getRecord('ns', 'sum'))?.value).toBe(4);
	});

	it('without turns they race, and still lose no update', async () => {
		const store = new MemoryStore();
		const counts = counting(store);
		await Promise.all(
			Array.from({ length: 20 }, () =>
				updateRecord<number>(store, 'ns', 'n', (n) => ({ value: (n ?? 0) + 1, ttlMs: MINUTE }), {
					takeTurns: false,
				}),
			),
		);
		expect((await store.getRecord('ns', 'n'))?.value).toBe(20);
		expect(counts.lost).toBeGreaterThan(0);
	});

	it('undefined from decide writes nothing; the written value is returned', async () => {
		const store = new MemoryStore();
		expect(await updateRecord(store, 'ns', 'k', () => undefined)).toBeUndefined();
		expect(await store.getRecord('ns', 'k')).toBeUndefined();
		expect(
			await updateRecord(store, 'ns', 'k', () => ({ value: { a: 1 }, ttlMs: MINUTE, tag: 't' })),
		).toEqual({
			a: 1,
		});
		expect(await store.getRecord('ns', 'k')).toMatchObject({ version: 1, tag: 't', dueAt: null });
	});

	it('throws RecordContention, naming the record, after too many lost tries', async () => {
		const store = new MemoryStore();
		store.putRecord = async () => 0; // someone else always wins
		let calls = 0;
		const error = await updateRecord(
			store,
			'ns',
			'k',
			() => {
				calls++;
				return { value: 1, ttlMs: MINUTE };
			},
			{ tries: 4, random: () => 0, what: 'budget "x"' },
		).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(RecordContention);
		expect((error as Error).message).toMatch(/^budget "x": 4 writes in a row lost/);
		expect(calls).toBe(4);
	});
});

describe('exceeded before 100 %', () => {
	it('reads as exceeded once a call was refused for lack of room, until that much room is back', async () => {
		const { book, clock } = setup('2026-06-10T10:00:00Z');
		const s = spec({ limitUsd: 1, warnPercent: 80, period: 'rolling', rollingMs: HOUR });
		const r = await reserveOk(book, [use(s)], usd(0.9));
		await r.hold.settle(usd(0.85));
		expect((await book.check(use(s))).status).toBe('warn');
		// strict reservations keep spend under the limit: 0.85 spent, a 0.2 call does not fit
		const refused = await refusalOf(book, [use(s)], usd(0.2));
		expect(refused.budget.status).toBe('exceeded');
		expect(await book.check(use(s))).toMatchObject({ status: 'exceeded', spentUsd: 0.85 });
		// a call larger than the whole limit says nothing about what is left
		const { book: other } = setup('2026-06-10T10:00:00Z');
		const s2 = spec({ limitUsd: 1 });
		await refusalOf(other, [use(s2)], usd(2));
		expect((await other.check(use(s2))).status).toBe('within');
		// the spend leaves the window: room again
		clock.t += 2 * HOUR;
		expect((await book.check(use(s))).status).toBe('within');
	});
});
