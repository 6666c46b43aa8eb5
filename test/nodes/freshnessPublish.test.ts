import { NodeHelpers, type IDataObject, type INode } from 'n8n-workflow';

import { readStatus, type FreshnessStatusEntry, type StatusEntry } from '../../lib/metrics/status';
import { MemoryStore, closeAllStores, getStore } from '../../lib/stores';
import { FreshnessCheck } from '../../nodes/FreshnessCheck/FreshnessCheck.node';
import { logLines } from '../harness';
import { pairedIndexes, runNode } from './helpers';

const NOW = '2024-05-10T12:00:00.000Z';
const HOUR = 3_600_000;
const ago = (hours: number) => new Date(Date.parse(NOW) - hours * HOUR).toISOString();
const base = {
	warnAfter: 1,
	warnAfterUnit: 'day',
	errorAfter: 3,
	errorAfterUnit: 'day',
	options: { referenceTime: NOW },
	publishStatus: true,
	statusSource: '={{ $json.table }}',
	store: 'memory',
};
const check = (parameters: Record<string, unknown>, items: IDataObject[]) =>
	runNode('freshnessCheck', { ...base, ...parameters } as never, items);

/** What the metrics and the dashboard read: the memory store the node used (one per process). */
const published = async () =>
	Object.fromEntries(
		(await readStatus<FreshnessStatusEntry>(getStore({ kind: 'memory' }), 'freshness')).map(
			(e: StatusEntry<FreshnessStatusEntry>) => [e.id, e.value],
		),
	);
const results = (out: Array<Array<{ json: IDataObject }>>) =>
	out.flat().map((item) => item.json.freshness as IDataObject);

beforeEach(async () => {
	await closeAllStores(); // a fresh memory store per test
	logLines.length = 0;
});
afterEach(() => jest.restoreAllMocks());
afterAll(async () => await closeAllStores());

describe('Freshness Check: Publish Status', () => {
	it('keeps the worst status of each source, with its age, reason and counts, in one write', async () => {
		const items = [
			{ table: 'orders', updatedAt: ago(1) },
			{ table: 'users', updatedAt: ago(2) },
			{ table: 'orders', updatedAt: ago(30) },
			{ table: 'users' },
			{ table: 'orders', updatedAt: ago(40) },
		];
		const write = jest.spyOn(MemoryStore.prototype, 'putRecord');
		const { out, error } = await check({}, items);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0, 1], [2, 4], [3]]);
		expect(results(out).map((r) => r.publishSkipped)).toEqual(Array(5).fill(undefined));
		expect(write).toHaveBeenCalledTimes(1);
		expect(await published()).toEqual({
			orders: {
				source: 'orders',
				status: 'warn',
				ageMs: 40 * HOUR, // the older of the two warn items
				reason: 'warn_after_exceeded',
				checkedAt: NOW,
				items: { fresh: 1, warn: 2, stale: 0 },
			},
			users: {
				source: 'users',
				status: 'stale',
				ageMs: null,
				reason: 'missing_timestamp',
				checkedAt: NOW,
				items: { fresh: 1, warn: 0, stale: 1 },
			},
		});
	});

	it('the next check replaces the last status of its source and leaves the others', async () => {
		await check({}, [
			{ table: 'orders', updatedAt: ago(100) },
			{ table: 'users', updatedAt: ago(1) },
		]);
		expect((await published()).orders).toMatchObject({ status: 'stale' });
		await check({}, [{ table: 'orders', updatedAt: ago(2) }]);
		const now = await published();
		expect(now.orders).toMatchObject({
			status: 'fresh',
			ageMs: 2 * HOUR,
			items: { fresh: 1, warn: 0, stale: 0 },
		});
		expect(now.users).toMatchObject({ status: 'fresh', ageMs: HOUR });
	});

	it('judging the batch, a fixed source counts the verdict of each item and the unreadable ones', async () => {
		const { out, error } = await check({ mode: 'newest', statusSource: 'orders-index' }, [
			{ updatedAt: ago(2) },
			{ updatedAt: ago(50) },
			{ updatedAt: 'garbage' },
		]);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0, 1], [], [2]]);
		expect(await published()).toEqual({
			'orders-index': {
				source: 'orders-index',
				status: 'stale',
				ageMs: null,
				reason: 'invalid_timestamp',
				checkedAt: NOW,
				items: { fresh: 2, warn: 0, stale: 1 },
			},
		});
	});

	it('off (the default), nothing is written and the results are as before', async () => {
		const items = [{ table: 'orders', updatedAt: ago(1) }];
		const write = jest.spyOn(MemoryStore.prototype, 'putRecord');
		const { out, error } = await check({ publishStatus: false }, items);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], [], []]);
		expect(results(out)[0]).not.toHaveProperty('publishSkipped');
		expect(write).not.toHaveBeenCalled();
		expect(await published()).toEqual({});
	});

	it('an item whose source name cannot be published is routed as usual and says why', async () => {
		const items = [
			{ table: 'orders', updatedAt: ago(1) },
			{ table: '', updatedAt: ago(100) },
			{ table: '   ', updatedAt: ago(100) },
			{ table: 42, updatedAt: ago(100) },
			{ table: { name: 'x' }, updatedAt: ago(100) },
			{ table: 'x'.repeat(201), updatedAt: ago(100) },
			{ updatedAt: ago(100) },
		];
		const { out, error } = await check({}, items);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], [], [1, 2, 3, 4, 5, 6]]);
		expect(results(out).map((r) => r.publishSkipped)).toEqual([
			undefined,
			'"Source Name" is empty for this item',
			'"Source Name" is empty for this item',
			'"Source Name" is not text: 42',
			expect.stringMatching(/^"Source Name" is not text/),
			'"Source Name" is longer than 200 characters',
			'"Source Name" is not text: undefined',
		]);
		// the skipped stale items do not make "orders" stale
		expect(await published()).toEqual({
			orders: expect.objectContaining({ status: 'fresh', items: { fresh: 1, warn: 0, stale: 0 } }),
		});
	});

	it('a source name expression that fails for an item skips that item only', async () => {
		const { out, error } = await check(
			{ statusSource: "={{ $json.meta ?? $('Missing').item.json.table }}" },
			[{ meta: 'orders', updatedAt: ago(1) }, { updatedAt: ago(30) }],
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], [1], []]);
		expect(results(out)[1].publishSkipped).toMatch(/^"Source Name" could not be evaluated/);
		expect(Object.keys(await published())).toEqual(['orders']);
	});

	it('publishes at most 200 sources per execution; the items beyond are routed and say why', async () => {
		const items = Array.from({ length: 205 }, (_, n) => ({ table: `t${n}`, updatedAt: ago(1) }));
		const { out, error } = await check({}, items);
		expect(error).toBeUndefined();
		expect(out[0]).toHaveLength(205);
		expect(Object.keys(await published())).toHaveLength(200);
		expect(results(out).filter((r) => r.publishSkipped)).toHaveLength(5);
		expect(results(out)[204].publishSkipped).toMatch(/more than 200/);
	});

	it('a store that fails costs a warning, not the execution or its routing', async () => {
		const items = [
			{ table: 'orders', updatedAt: ago(1) },
			{ table: 'orders', updatedAt: ago(30) },
		];
		const off = await check({ publishStatus: false }, items);
		jest.spyOn(MemoryStore.prototype, 'putRecord').mockRejectedValue(new Error('store is down'));
		const { out, error } = await check({}, items);
		expect(error).toBeUndefined();
		expect(out).toEqual(off.out);
		expect(logLines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
			'Freshness Check: the status of 1 source(s) could not be kept for the metrics (store is down)',
		]);
	});

	it('a store that cannot be opened (Redis without a credential) costs a warning too', async () => {
		const { out, error } = await check({ store: 'redis' }, [
			{ table: 'orders', updatedAt: ago(1) },
		]);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[0], [], []]);
		expect(
			logLines.some((l) => l.level === 'warn' && l.message.startsWith('Freshness Check')),
		).toBe(true);
	});
});

describe('Freshness Check: Publish Status in the editor', () => {
	const description = new FreshnessCheck().description;
	const node = (parameters: INode['parameters']): INode => ({
		id: '1',
		name: 'Freshness Check',
		type: 'n8n-nodes-ai-patterns.freshnessCheck',
		typeVersion: 1,
		position: [0, 0],
		parameters,
	});
	const shown = (values: INode['parameters']) =>
		NodeHelpers.getNodeParameters(
			description.properties,
			values,
			true,
			false,
			node(values),
			description,
		)!;

	it('shows Source Name and Store (Auto) only when Publish Status is on, and asks for the name', () => {
		const off = shown({});
		expect(off.publishStatus).toBe(false);
		expect(off).not.toHaveProperty('statusSource');
		expect(off).not.toHaveProperty('store');
		const on = shown({ publishStatus: true });
		expect(on).toMatchObject({ publishStatus: true, statusSource: '', store: 'auto' });
		expect(
			NodeHelpers.getNodeParametersIssues(description.properties, node(on), description)
				?.parameters,
		).toEqual({ statusSource: [expect.any(String)] });
		expect(
			NodeHelpers.getNodeParametersIssues(
				description.properties,
				node({ ...on, statusSource: 'orders-index' }),
				description,
			),
		).toBeNull();
	});

	it('asks for a Redis credential only for the Redis store', () => {
		const redis = description.credentials!.find((c) => c.name === 'redis')!;
		expect(redis.displayOptions).toEqual({ show: { '/store': ['redis'] } });
	});
});
