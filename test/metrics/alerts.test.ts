/**
 * Watch State Changes: each change alerts once, however many watches overlap; a thing first seen
 * in a fine state says nothing; recoveries say so; what a watch does not look at stays untouched.
 */
import { stateChanges, type AlertKind } from '../../lib/metrics/alerts';
import type { States } from '../../lib/metrics/collect';
import type { BudgetState } from '../../lib/ai/budget';
import { MemoryStore } from '../../lib/stores/memory';

const T0 = Date.parse('2026-12-02T10:00:00Z');
const ALL = new Set<AlertKind>(['budget', 'breaker', 'queue', 'freshness']);

function budget(status: BudgetState['status'], percent: number): BudgetState {
	return {
		name: 'daily',
		scopeKey: 'customer-42',
		period: 'day',
		periodStart: T0,
		resetAt: T0 + 86_400_000,
		spentUsd: percent / 100,
		reservedUsd: 0,
		spentTokens: 0,
		reservedTokens: 0,
		limitUsd: 1,
		limitTokens: 0,
		remainingUsd: 1 - percent / 100,
		remainingTokens: null,
		percent,
		status,
	};
}

function states(over: Partial<States> = {}): States {
	return { breakers: [], budgets: [], queues: [], freshness: [], ...over };
}

const queue = (status: 'normal' | 'warn' | 'critical' | 'unknown', depth: number) => ({
	id: 'rabbitmq:ai-jobs',
	at: T0,
	value: {
		source: 'rabbitmq',
		queue: 'ai-jobs',
		status,
		depth,
		inProgress: 0,
		consumers: 1,
		oldestAgeMs: null,
		reason: status === 'critical' ? 'depth_critical' : 'within_thresholds',
		checkedAt: new Date(T0).toISOString(),
	},
});

describe('Watch State Changes', () => {
	it('says nothing about things first seen fine, and alerts the ones that are not', async () => {
		const store = new MemoryStore();
		const first = await stateChanges(
			store,
			states({
				budgets: [budget('within', 10)],
				breakers: [{ name: 'sim:gpt', state: 'open', seenAt: T0 }],
			}),
			ALL,
			T0,
		);
		expect(first.map((c) => [c.kind, c.state, c.previousState, c.severity])).toEqual([
			['breaker', 'open', null, 'critical'],
		]);
		expect(first[0].message).toMatch(/Circuit breaker "sim:gpt" opened/);
	});

	it('alerts a budget passing its warn threshold once, then running out, then recovering', async () => {
		const store = new MemoryStore();
		await stateChanges(store, states({ budgets: [budget('within', 50)] }), ALL, T0);
		const warn = await stateChanges(store, states({ budgets: [budget('warn', 82)] }), ALL, T0);
		expect(warn).toHaveLength(1);
		expect(warn[0]).toMatchObject({
			kind: 'budget',
			state: 'warn',
			previousState: 'within',
			severity: 'warning',
		});
		expect(warn[0].message).toBe(
			'Budget "daily (customer-42)" passed its warn threshold: 82.0 % of 1 USD this day',
		);
		// still warn, a little more spent: no new alert
		expect(await stateChanges(store, states({ budgets: [budget('warn', 90)] }), ALL, T0)).toEqual(
			[],
		);
		const out = await stateChanges(store, states({ budgets: [budget('exceeded', 100)] }), ALL, T0);
		expect(out.map((c) => c.severity)).toEqual(['critical']);
		const back = await stateChanges(store, states({ budgets: [budget('within', 0)] }), ALL, T0);
		expect(back.map((c) => [c.state, c.previousState, c.severity])).toEqual([
			['within', 'exceeded', 'resolved'],
		]);
	});

	it('treats half-open as still open: a failed probe does not alert again', async () => {
		const store = new MemoryStore();
		const b = (state: 'closed' | 'open' | 'half-open') =>
			states({ breakers: [{ name: 'sim:gpt', state, seenAt: T0 }] });
		await stateChanges(store, b('closed'), ALL, T0);
		expect(await stateChanges(store, b('open'), ALL, T0)).toHaveLength(1);
		expect(await stateChanges(store, b('half-open'), ALL, T0)).toEqual([]);
		expect(await stateChanges(store, b('open'), ALL, T0)).toEqual([]);
		expect((await stateChanges(store, b('closed'), ALL, T0)).map((c) => c.severity)).toEqual([
			'resolved',
		]);
	});

	it('reports a change once between watches that overlap', async () => {
		const store = new MemoryStore();
		await stateChanges(store, states({ queues: [queue('normal', 3)] }), ALL, T0);
		const critical = states({ queues: [queue('critical', 1500)] });
		const watches = await Promise.all(
			Array.from({ length: 8 }, () => stateChanges(store, critical, ALL, T0)),
		);
		const reported = watches.flat();
		expect(reported).toHaveLength(1);
		expect(reported[0]).toMatchObject({
			kind: 'queue',
			state: 'critical',
			previousState: 'normal',
		});
		expect(reported[0].message).toBe(
			'Queue "rabbitmq ai-jobs" is critical: depth_critical (depth 1500)',
		);
	});

	it('leaves the kinds a watch does not look at as they were', async () => {
		const store = new MemoryStore();
		const bad = states({ queues: [queue('critical', 1500)], budgets: [budget('warn', 85)] });
		// a watch of budgets only
		expect((await stateChanges(store, bad, new Set(['budget']), T0)).map((c) => c.kind)).toEqual([
			'budget',
		]);
		// a later watch of everything still reports the queue, and the budget not again
		expect((await stateChanges(store, bad, ALL, T0)).map((c) => c.kind)).toEqual(['queue']);
	});

	it('quotes hostile names and cuts long ones', async () => {
		const store = new MemoryStore();
		const name = `x"\n${'y'.repeat(500)}`;
		const [change] = await stateChanges(
			store,
			states({
				freshness: [
					{
						id: name,
						at: T0,
						value: {
							source: name,
							status: 'stale',
							ageMs: 7_200_000,
							reason: 'older_than_error',
							checkedAt: new Date(T0).toISOString(),
							items: { fresh: 0, warn: 0, stale: 1 },
						},
					},
				],
			}),
			ALL,
			T0,
		);
		expect(change.message).toContain('"x\\"\\n');
		expect(change.message.length).toBeLessThan(250);
	});
});
