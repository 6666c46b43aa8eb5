import {
	NodeHelpers,
	type IDataObject,
	type INode,
	type INodeParameters,
	type INodePropertyOptions,
} from 'n8n-workflow';

import { FreshnessCheck } from '../../nodes/FreshnessCheck/FreshnessCheck.node';
import { pairedIndexes, runNode } from './helpers';

const NOW = '2024-05-10T12:00:00.000Z';
const ago = (hours: number) => new Date(Date.parse(NOW) - hours * 3_600_000).toISOString();
const base = {
	warnAfter: 1,
	warnAfterUnit: 'day',
	errorAfter: 3,
	errorAfterUnit: 'day',
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
				message: null,
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
			{ warnAfter: 0, errorAfter: '={{ $json.slaHours }}', errorAfterUnit: 'hour' },
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
		const none = await check({ warnAfter: 0, errorAfter: 0 }, [{ updatedAt: ago(1) }]);
		expect(none.error?.message).toMatch(/Set "Warn After", "Error After" or both/);
		const inverted = await check({ warnAfter: 5, errorAfter: 1 }, [{ updatedAt: ago(1) }]);
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

describe('Freshness Check node: hostile timestamps', () => {
	const T = Date.parse(NOW) - 3_600_000; // one hour old

	it('sends numbers that are no valid time to Stale with a reason naming the field, stopping nothing', async () => {
		const items = [
			{ updatedAt: 1e20 },
			{ updatedAt: -1e308 },
			{ updatedAt: '99999999999999999999' },
			{ updatedAt: { toString: 'x', valueOf: 'y' } },
			{ updatedAt: ['2024-05-10'] },
			{ updatedAt: T * 1e6 }, // nanoseconds: fine
		];
		for (const mode of ['item', 'oldest', 'newest']) {
			const { out, error } = await check({ mode }, items);
			expect(error).toBeUndefined();
			expect(pairedIndexes(out)).toEqual([[5], [], [0, 1, 2, 3, 4]]);
			expect(out[2].map((i) => (i.json.freshness as IDataObject).message)).toEqual([
				'field "updatedAt" is 100000000000000000000, too large for an epoch time in any unit',
				'field "updatedAt" is -1e+308, too large for an epoch time in any unit',
				'field "updatedAt" is "99999999999999999999", too large for an epoch time in any unit',
				'field "updatedAt" is an object, not a date',
				'field "updatedAt" is a list, not a date',
			]);
			expect(out[2][0].json.freshness).toMatchObject({ reason: 'invalid_timestamp' });
		}
	});

	it('reads epoch microseconds and nanoseconds as such, not as a far future', async () => {
		const { out } = await check({}, [
			{ updatedAt: T * 1000 },
			{ updatedAt: `${T}000000` },
			{ updatedAt: T / 1000 },
		]);
		expect(pairedIndexes(out)).toEqual([[0, 1, 2], [], []]);
		for (const item of out[0])
			expect(item.json.freshness).toMatchObject({ ageMs: 3_600_000, timestamp: ago(1) });
	});

	it('names the field in the error when told to stop, also for a value out of range', async () => {
		const { error } = await check({ options: { referenceTime: NOW, onInvalid: 'error' } }, [
			{ updatedAt: 1e20 },
		]);
		expect(error?.message).toBe(
			'Item 0: the timestamp in field "updatedAt" is not a readable date',
		);
		expect((error as { description?: string }).description).toMatch(
			/^field "updatedAt" is 100000000000000000000, too large/,
		);
	});

	it('reports age 0 inside the clock skew, and a negative age with a message beyond it', async () => {
		const soon = new Date(Date.parse(NOW) + 120_000).toISOString();
		const later = new Date(Date.parse(NOW) + 600_000).toISOString();
		const { out } = await check({}, [{ updatedAt: soon }, { updatedAt: later }]);
		expect(out[0][0].json.freshness).toMatchObject({ ageMs: 0, age: '0ms', message: null });
		expect(out[2][0].json.freshness).toMatchObject({
			ageMs: -600_000,
			age: 'in 10m',
			message:
				'field "updatedAt" is 10m ahead of the check time, more than the allowed clock skew of 5m',
		});
	});

	it('leaves the input items and Object.prototype as they were', async () => {
		const items = [
			JSON.parse('{"__proto__": {"polluted": 1}, "updatedAt": "2024-05-10T11:00:00Z"}'),
		];
		const before = JSON.stringify(items);
		const { out } = await check({}, items);
		expect(JSON.stringify(items)).toBe(before);
		expect(pairedIndexes(out)).toEqual([[0], [], []]);
		expect(({} as IDataObject).polluted).toBeUndefined();
	});
});

describe('Freshness Check in the editor', () => {
	const description = new FreshnessCheck().description;
	const node = (parameters: INodeParameters): INode => ({
		id: '1',
		name: 'Freshness Check',
		type: 'n8n-nodes-ai-patterns.freshnessCheck',
		typeVersion: 1,
		position: [0, 0],
		parameters,
	});
	/** What the editor does when a node is added: the chosen action's values, then the defaults. */
	const add = (values: INodeParameters) =>
		NodeHelpers.getNodeParameters(
			description.properties,
			values,
			true,
			false,
			node(values),
			description,
		);

	it('a fresh node gets the defaults a person expects, without an error marker', () => {
		expect(
			NodeHelpers.getNodeParameters(description.properties, {}, true, false, null, null),
		).toEqual({
			mode: 'item',
			source: 'field',
			field: 'updatedAt',
			format: 'auto',
			warnAfter: 1,
			warnAfterUnit: 'day',
			errorAfter: 3,
			errorAfterUnit: 'day',
			publishStatus: false,
			options: {},
		});
		const parameters = add({})!;
		expect(
			NodeHelpers.getNodeParametersIssues(description.properties, node(parameters), description),
		).toBeNull();
	});

	it('every action the node creator derives from "Judge" adds the node', () => {
		// n8n's node creator turns the "mode" options of a node in its AI category into actions
		// (useActionsGeneration's modeCategory): the action sets "mode", then the defaults follow.
		const mode = description.properties.find((p) => p.name === 'mode')!;
		const options = mode.options as INodePropertyOptions[];
		expect(options.map((o) => o.action)).toEqual([
			'Judge each item by its own timestamp',
			'Judge the whole batch by its oldest item',
			'Judge the whole batch by its newest item',
		]);
		for (const option of options) {
			const parameters = add({ mode: option.value })!;
			expect(parameters).toMatchObject({ mode: option.value, warnAfter: 1, errorAfter: 3 });
			expect(
				NodeHelpers.getNodeParametersIssues(description.properties, node(parameters), description),
			).toBeNull();
		}
	});

	it('a fresh node runs: one hour old is Fresh, five days old is Stale', async () => {
		const defaults = add({})!;
		const { out, error } = await runNode(
			'freshnessCheck',
			{ ...defaults, options: { referenceTime: NOW } },
			[{ updatedAt: ago(1) }, { updatedAt: ago(120) }],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], [], [1]]);
	});
});

it('a result field from an expression that is not a name is a configuration error naming it', async () => {
	const { error } = await check(
		{ options: { referenceTime: NOW, outputField: '={{ $json.f }}' } },
		[{ updatedAt: ago(1), f: { toString: 1 } }],
	);
	expect(error?.message).toBe('"Put Result in Field" must be a field name');
});
