import type { IDataObject } from 'n8n-workflow';

import { pairedIndexes, runNode } from './helpers';

const NOW = '2024-05-10T12:00:00.000Z';
const ago = (hours: number) => new Date(Date.parse(NOW) - hours * 3_600_000).toISOString();
const base = {
	thresholds: { warnAfter: { count: 1, period: 'day' }, errorAfter: { count: 3, period: 'day' } },
	options: { referenceTime: NOW },
};
const check = (parameters: Record<string, unknown>, items: IDataObject[], opts = {}) =>
	runNode('freshnessCheck', { ...base, ...parameters } as never, items, opts);

describe('Freshness Check node', () => {
	it('routes each item to Fresh, Warn or Stale by its own age, keeping every item once', async () => {
		const items = [
			{ id: 'a', updatedAt: ago(1) },
			{ id: 'b', updatedAt: ago(30) },
			{ id: 'c', updatedAt: ago(100) },
			{ id: 'd' },
			{ id: 'e', updatedAt: 'not a date' },
			{ id: 'f', updatedAt: ago(2) },
		];
		const { out, error } = await check({}, items);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0, 5], [1], [2, 3, 4]]);
		expect(out[0][0].json).toEqual({
			id: 'a',
			updatedAt: ago(1),
			freshness: {
				status: 'fresh',
				reason: 'within_thresholds',
				ageMs: 3_600_000,
				age: '1h',
				timestamp: ago(1),
				checkedAt: NOW,
				warnAfterMs: 86_400_000,
				errorAfterMs: 259_200_000,
			},
		});
		expect(out[2].map((i) => (i.json.freshness as { reason: string }).reason)).toEqual([
			'error_after_exceeded',
			'missing_timestamp',
			'invalid_timestamp',
		]);
	});

	it('reads a nested field by path, or any expression', async () => {
		const items = [{ meta: { rows: [{ ts: ago(40) }] } }];
		const byPath = await check({ source: 'field', field: 'meta.rows[0].ts' }, items);
		expect(pairedIndexes(byPath.out)).toEqual([[], [0], []]);
		const byExpression = await check(
			{ source: 'expression', value: '={{ $json.meta.rows[0].ts }}' },
			items,
		);
		expect(pairedIndexes(byExpression.out)).toEqual([[], [0], []]);
	});

	it('judges the whole batch by its oldest or its newest item', async () => {
		const items = [
			{ updatedAt: ago(2) },
			{ updatedAt: ago(50) },
			{ updatedAt: ago(1) },
			{ updatedAt: 'garbage' },
		];
		const oldest = await check({ mode: 'oldest' }, items);
		expect(pairedIndexes(oldest.out)).toEqual([[], [0, 1, 2], [3]]);
		expect(oldest.out[1][0].json.freshness).toMatchObject({
			status: 'warn',
			timestamp: ago(50),
			batch: { basis: 'oldest', basisItem: 1, items: 3, itemTimestamp: ago(2) },
		});
		const newest = await check({ mode: 'newest' }, items);
		expect(pairedIndexes(newest.out)).toEqual([[0, 1, 2], [], [3]]);
		expect(newest.out[0][1].json.freshness).toMatchObject({ status: 'fresh', timestamp: ago(1) });
	});

	it('sends a timestamp in the future beyond the clock skew to Stale', async () => {
		const future = new Date(Date.parse(NOW) + 600_000).toISOString();
		const soon = new Date(Date.parse(NOW) + 60_000).toISOString();
		const { out } = await check({}, [{ updatedAt: future }, { updatedAt: soon }]);
		expect(pairedIndexes(out)).toEqual([[1], [], [0]]);
		expect(out[2][0].json.freshness).toMatchObject({ reason: 'future_timestamp', age: 'in 10m' });
	});

	it('honours the format, the custom Luxon format and the default time zone', async () => {
		const { out } = await check(
			{
				format: 'custom',
				customFormat: 'dd.MM.yyyy HH:mm',
				options: { referenceTime: NOW, defaultZone: 'Europe/Berlin' },
			},
			[{ updatedAt: '10.05.2024 13:00' }],
		);
		// 13:00 in Berlin (CEST) is 11:00 UTC: one hour old
		expect(out[0][0].json.freshness).toMatchObject({
			ageMs: 3_600_000,
			timestamp: '2024-05-10T11:00:00.000Z',
		});
		const epoch = await check({ format: 'epochSeconds' }, [
			{ updatedAt: Date.parse(ago(30)) / 1000 },
		]);
		expect(pairedIndexes(epoch.out)).toEqual([[], [0], []]);
	});

	it('takes thresholds from expressions per item', async () => {
		const { out } = await check(
			{ thresholds: { errorAfter: { count: '={{ $json.slaHours }}', period: 'hour' } } },
			[
				{ updatedAt: ago(5), slaHours: 4 },
				{ updatedAt: ago(5), slaHours: 6 },
			],
		);
		expect(pairedIndexes(out)).toEqual([[1], [], [0]]);
		expect(out[2][0].json.freshness).toMatchObject({
			warnAfterMs: null,
			errorAfterMs: 4 * 3_600_000,
		});
	});

	it('puts the result where asked', async () => {
		const { out } = await check({ options: { referenceTime: NOW, outputField: 'age_check' } }, [
			{ updatedAt: ago(1) },
		]);
		expect(out[0][0].json).toHaveProperty('age_check.status', 'fresh');
		expect(out[0][0].json).not.toHaveProperty('freshness');
	});

	it('stops with an error naming the item when told to, instead of routing to Stale', async () => {
		const { error, errorNode } = await check(
			{ options: { referenceTime: NOW, onInvalid: 'error' } },
			[{ updatedAt: ago(1) }, { updatedAt: 'soon' }],
		);
		expect(errorNode).toBe('Node');
		expect(error?.message).toBe(
			'Item 1: the timestamp in field "updatedAt" is not a readable date',
		);
	});

	it('stops with an error naming the parameter when the settings are wrong', async () => {
		const none = await check({ thresholds: {} }, [{ updatedAt: ago(1) }]);
		expect(none.error?.message).toMatch(/Set "Warn After", "Error After" or both/);
		const inverted = await check(
			{
				thresholds: {
					warnAfter: { count: 5, period: 'day' },
					errorAfter: { count: 1, period: 'day' },
				},
			},
			[{ updatedAt: ago(1) }],
		);
		expect(inverted.error?.message).toMatch(
			/"Warn After" \(5d\) must be shorter than "Error After" \(1d\)/,
		);
		const badPath = await check({ field: 'a..b' }, [{ updatedAt: ago(1) }]);
		expect(badPath.error?.message).toMatch(/"Timestamp Field": path "a..b"/);
	});

	it('uses now when no reference time is given', async () => {
		const { out } = await check({ options: {} }, [
			{ updatedAt: new Date().toISOString() },
			{ updatedAt: '2001-01-01' },
		]);
		expect(pairedIndexes(out)).toEqual([[0], [], [1]]);
	});
});
