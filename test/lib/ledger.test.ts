import {
	LATENCY_BOUNDS_MS,
	LedgerWriter,
	rollUp,
	granularityFor,
	percentile,
	reportWindow,
	usageReport,
	type UsageEvent,
} from '../../lib/ai/ledger';
import { MemoryStore } from '../../lib/stores/memory';
import type { StateStore } from '../../lib/stores/types';
import { usageEvent } from './usageEvent';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const HOUR = 3_600_000;

const event = (over: Partial<UsageEvent> = {}) => usageEvent(T0, over);

const cost = (usd: number, tag: string | null = 'doc', priced = true) => ({
	inputUsd: usd / 2,
	outputUsd: usd / 2,
	totalUsd: usd,
	tag,
	priced,
});

async function write(
	store: StateStore,
	events: UsageEvent[],
	outcomes: Array<[string, number]> = [],
) {
	const w = new LedgerWriter(store);
	for (const e of events) w.record(e, 7 * 86_400_000);
	for (const [tag, count] of outcomes) w.recordOutcome({ at: T0, tag, count });
	await w.flush();
	return w;
}

describe('usage ledger', () => {
	it('reports calls, tokens, exact cost, failures by class, retries, cache hits and cost per outcome per tag', async () => {
		const store = new MemoryStore({ now: () => T0 });
		const events = [
			event({ cost: cost(0.001234567), cache: 'miss' }),
			event({ cost: cost(0.002), retries: 2, attempts: 3, latencyMs: 900, cache: 'miss' }),
			// an item that did not ask the cache is not in the hit rate
			event({
				outcome: 'failed',
				failureClass: 'timeout',
				timeouts: 2,
				attempts: 2,
				cost: cost(0),
			}),
			event({
				outcome: 'cached',
				attempts: 0,
				inputTokens: 0,
				outputTokens: 0,
				cost: cost(0),
				latencyMs: 1,
			}),
			event({ tag: 'chat', cost: cost(0.01, 'chat'), model: 'sim-large', fallbackUsed: true }),
		];
		await write(store, events, [
			['doc', 2],
			['doc', 1],
		]);
		const rows = await usageReport(store, {
			from: T0 - HOUR,
			to: T0 + 60_000,
			groupBy: 'tag',
			timeZone: 'UTC',
			now: T0,
		});
		const doc = rows.find((r) => r.group.tag === 'doc')!;
		const chat = rows.find((r) => r.group.tag === 'chat')!;
		expect(doc).toMatchObject({
			calls: 4,
			succeeded: 2,
			failed: 1,
			cached: 1,
			attempts: 6,
			retries: 2,
			timeouts: 2,
			inputTokens: 300,
			outputTokens: 150,
			failuresByClass: { timeout: 1 },
			cacheHitRate: 1 / 3,
			outcomes: { doc: 3 },
			granularity: 'minute',
		});
		// nano-USD integers: the sum is exact to 1e-9, as the items' costs are rounded
		expect(doc.costUsd).toBeCloseTo(0.003234567, 12);
		expect(doc.costPerOutcome!.doc).toBeCloseTo(0.003234567 / 3, 12);
		expect(chat).toMatchObject({ calls: 1, fallbacks: 1, outcomes: {}, costPerOutcome: {} });
		expect(chat.costUsd).toBeCloseTo(0.01, 12);
	});

	it('groups by model, workflow, node, hour and day; a quiet window still has one total', async () => {
		const store = new MemoryStore({ now: () => T0 + 2 * HOUR });
		await write(store, [
			event({ model: 'a' }),
			event({
				model: 'b',
				at: T0 + HOUR + 5,
				workflowId: 'w2',
				workflowName: 'Other',
				node: 'Ask',
			}),
		]);
		const q = { from: T0 - HOUR, to: T0 + 2 * HOUR, timeZone: 'Europe/Berlin', now: T0 + 2 * HOUR };
		const groups = async (groupBy: 'model' | 'workflow' | 'node' | 'hour' | 'day') =>
			(await usageReport(store, { ...q, groupBy })).map((r) => [r.group, r.calls]);
		expect(await groups('model')).toEqual([
			[{ model: 'a' }, 1],
			[{ model: 'b' }, 1],
		]);
		expect(await groups('workflow')).toEqual([
			[{ workflowId: 'w1', workflowName: 'Pipeline' }, 1],
			[{ workflowId: 'w2', workflowName: 'Other' }, 1],
		]);
		expect((await groups('node')).map(([g]) => (g as { node: string }).node)).toEqual([
			'AI Call',
			'Ask',
		]);
		// 10:00 UTC is 11:00 in Berlin
		expect(await groups('hour')).toEqual([
			[{ hour: '2026-12-01T11:00:00+01:00' }, 1],
			[{ hour: '2026-12-01T12:00:00+01:00' }, 1],
		]);
		expect(await groups('day')).toEqual([[{ day: '2026-12-01' }, 2]]);
		const quiet = await usageReport(store, {
			...q,
			from: T0 - 10 * HOUR,
			to: T0 - 9 * HOUR,
			groupBy: 'none',
		});
		expect(quiet).toHaveLength(1);
		expect(quiet[0]).toMatchObject({
			calls: 0,
			costUsd: 0,
			latencyP50Ms: null,
			cacheHitRate: null,
		});
	});

	it('filters by tag and workflow, and counts unpriced calls apart instead of as free', async () => {
		const store = new MemoryStore({ now: () => T0 });
		await write(store, [
			event({ cost: cost(0, 'doc', false), model: 'mystery' }),
			event({ workflowId: 'w2' }),
			event({ tag: 'chat' }),
		]);
		const base = {
			from: T0 - HOUR,
			to: T0 + 1,
			groupBy: 'none' as const,
			timeZone: 'UTC',
			now: T0,
		};
		const [onlyDoc] = await usageReport(store, { ...base, tag: 'doc' });
		expect(onlyDoc).toMatchObject({ calls: 2, unpricedCalls: 1 });
		const [onlyW2] = await usageReport(store, { ...base, workflowId: 'w2' });
		expect(onlyW2.calls).toBe(1);
	});

	it('keeps a batch while the store fails, writes it once the store is back, and counts what it had to drop', async () => {
		const store = new MemoryStore({ now: () => T0 });
		let down = true;
		const flaky = new Proxy(store, {
			get(target, prop, receiver) {
				const value = Reflect.get(target, prop, receiver) as unknown;
				if (typeof value !== 'function') return value;
				return (...args: unknown[]) => {
					if (down && (prop === 'addCounters' || prop === 'appendEvents'))
						return Promise.reject(new Error('connection refused'));
					return (value as (...a: unknown[]) => unknown).apply(target, args);
				};
			},
		});
		const warnings: string[] = [];
		const w = new LedgerWriter(flaky);
		w.warn = (m) => warnings.push(m);
		w.record(event(), 86_400_000);
		w.record(event(), 86_400_000);
		await w.flush();
		await w.flush(); // a second failure is not logged again
		expect(warnings).toHaveLength(1);
		expect(warnings[0]).toMatch(/ledger store failed, 2 records are kept.*connection refused/);
		down = false;
		await w.flush();
		const [total] = await usageReport(store, {
			from: T0 - HOUR,
			to: T0 + 1,
			groupBy: 'none',
			timeZone: 'UTC',
			now: T0,
		});
		expect(total.calls).toBe(2);
		expect(w.written).toBe(2);
		expect(w.missed).toBe(0);

		down = true;
		for (let i = 0; i < 20_005; i++) w.record(event(), 86_400_000);
		expect(w.missed).toBe(5);
	});

	it('sums a batch per row before it leaves the process, and writes a burst in slices', async () => {
		const { usage } = rollUp([event(), event({ at: T0 + 1000 }), event({ model: 'other' })], []);
		expect(usage.get('minute')).toHaveLength(2);
		expect(usage.get('minute')![0].fields.calls).toBe(2);
		const store = new MemoryStore({ now: () => T0 });
		const sizes: number[] = [];
		const counting = new Proxy(store, {
			get(target, prop, receiver) {
				const value = Reflect.get(target, prop, receiver) as unknown;
				if (prop !== 'appendEvents')
					return typeof value === 'function' ? value.bind(target) : value;
				return (ns: string, events: unknown[], ttl: number) => {
					sizes.push(events.length);
					return target.appendEvents(ns, events as never, ttl);
				};
			},
		});
		await write(
			counting,
			Array.from({ length: 2_500 }, (_, i) => event({ executionId: String(i) })),
		);
		expect(sizes).toEqual([1000, 1000, 500]);
		const [total] = await usageReport(store, {
			from: T0 - HOUR,
			to: T0 + 1,
			groupBy: 'none',
			timeZone: 'UTC',
			now: T0,
		});
		expect(total.calls).toBe(2_500);
	});

	it('reads older windows from hour and day roll-ups', () => {
		const now = T0;
		expect(granularityFor(now - 3_600_000, now, 'none').name).toBe('minute');
		expect(granularityFor(now - 3 * 86_400_000, now, 'none').name).toBe('hour');
		expect(granularityFor(now - 100 * 86_400_000, now, 'none').name).toBe('day');
		expect(granularityFor(now - 100 * 86_400_000, now, 'hour').name).toBe('hour');
	});

	it('interpolates percentiles inside the histogram bucket that holds them', () => {
		const h = new Array(LATENCY_BOUNDS_MS.length + 1).fill(0);
		const at = (ms: number) => LATENCY_BOUNDS_MS.findIndex((b) => ms <= b);
		h[at(120)] = 90; // 100–150 ms
		h[at(2000)] = 10; // 1500–2500 ms
		const p50 = percentile(h, 0.5)!;
		const p95 = percentile(h, 0.95)!;
		expect(p50).toBeGreaterThan(100);
		expect(p50).toBeLessThanOrEqual(150);
		expect(p95).toBeGreaterThan(1500);
		expect(p95).toBeLessThanOrEqual(2500);
		expect(percentile(new Array(h.length).fill(0), 0.5)).toBeNull();
	});

	it('reads report windows in the workflow time zone, and says what is wrong with a custom one', () => {
		const now = Date.parse('2026-12-01T10:30:00Z');
		expect(reportWindow('today', '', '', 'Europe/Berlin', now)).toEqual({
			from: Date.parse('2026-11-30T23:00:00Z'),
			to: now,
		});
		expect(reportWindow('yesterday', '', '', 'UTC', now)).toEqual({
			from: Date.parse('2026-11-30T00:00:00Z'),
			to: Date.parse('2026-12-01T00:00:00Z'),
		});
		expect(reportWindow('custom', '2026-12-01T09:00:00Z', '', 'UTC', now)).toEqual({
			from: Date.parse('2026-12-01T09:00:00Z'),
			to: now,
		});
		expect(reportWindow('custom', 'soon', '', 'UTC', now)).toMatch(/^"From" is not a date/);
		expect(reportWindow('custom', '', '', 'UTC', now)).toBe('"From" is empty');
		expect(reportWindow('weekly', '', '', 'UTC', now)).toMatch(/^"Window" has no such choice/);
	});
});
