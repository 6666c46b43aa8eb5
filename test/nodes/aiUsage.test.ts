import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { closeAllStores } from '../../lib/stores';
import { startSimulator, type Simulator } from '../../simulator';
import { logLines } from '../harness';
import { pairedIndexes, runNode } from './helpers';

let sim: Simulator;
beforeAll(async () => {
	sim = await startSimulator({ seed: 5 });
});
afterAll(async () => {
	await closeAllStores();
	await sim.close();
});
beforeEach(() => sim.reset());

let unique = 0;
/** A tag and budget name of its own per test: the memory store is shared by the file, as by one n8n process. */
const fresh = (what: string) => `${what}-${++unique}-${Date.now()}`;
const memory = { store: 'memory' };

function ai(params: Record<string, unknown>, items: IDataObject[]) {
	return runNode(
		'aiCall',
		{
			model: { mode: 'id', value: 'sim-standard' },
			userPrompt: '={{ $json.text }}',
			...memory,
			...params,
			options: { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 20, ...(params.options as object) },
		} as never,
		items,
		{
			credentials: { p: { provider: 'openai', baseUrl: sim.baseUrl, apiKey: 'sim-key' } } as never,
			nodeCredentials: { aiServiceApi: { id: 'p', name: 'AI' } },
		},
	);
}
const usage = (params: Record<string, unknown>, items: IDataObject[] = [{}]) =>
	runNode('aiUsage', { ...memory, ...params } as never, items);

/** Every item's cost, answered or failed: what the ledger must add up to. */
const costOf = (item: INodeExecutionData) =>
	Number(
		((item.json.ai ?? item.json.error) as { cost?: { totalUsd: number } } | undefined)?.cost
			?.totalUsd ?? NaN,
	);

const budget = (over: IDataObject = {}) => ({
	budgets: {
		budget: [
			{
				budgetName: 'b',
				budgetScope: 'all',
				budgetPeriod: 'day',
				budgetTimeZone: 'UTC',
				budgetLimitUsd: 1,
				budgetWarnPercent: 80,
				...over,
			},
		],
	},
});

describe('AI Usage: the ledger across executions', () => {
	it('reports what the AI Calls cost, equal to the sum of every item’s cost, and the cost per recorded outcome', async () => {
		const tag = fresh('doc');
		const runs = [
			await ai({ options: { costTag: tag } }, [
				{ text: 'one' },
				{ text: 'two' },
				{ text: 'three' },
			]),
			await ai({ options: { costTag: tag } }, [
				{ text: `four [[sim:fail-first=1;status=500;key=${tag}]]` },
				{ text: 'five' },
			]),
			await ai({ options: { costTag: tag } }, [{ text: 'six [[sim:status=400]]' }]),
		];
		const items = runs.flatMap((r) => r.out.flat());
		expect(items).toHaveLength(6);
		expect(items.every((i) => Number.isFinite(costOf(i)))).toBe(true);
		const spent = items.reduce((sum, i) => sum + costOf(i), 0);
		expect(spent).toBeGreaterThan(0);

		const recorded = await usage(
			{ operation: 'recordOutcome', outcomeTag: tag, outcomeCount: '={{ $json.pages }}' },
			[{ pages: 2 }, { pages: 3 }, { pages: 'many' }, { pages: -1 }],
		);
		expect(pairedIndexes(recorded.out)).toEqual([
			[0, 1],
			[2, 3],
		]);
		expect(recorded.out[1][0].json.outcome).toMatchObject({
			recorded: false,
			reason: expect.stringMatching(/^"Count" is not a number.*"many"/),
		});

		const { out } = await usage({
			operation: 'report',
			window: 'lastHour',
			groupBy: 'tag',
			filterTag: tag,
		});
		expect(out[0]).toHaveLength(1);
		const row = out[0][0].json as IDataObject;
		expect(row).toMatchObject({
			group: { tag },
			calls: 6,
			succeeded: 5,
			failed: 1,
			failuresByClass: { bad_request: 1 },
			outcomes: { [tag]: 5 },
			store: 'memory',
		});
		expect(row.retries).toBeGreaterThanOrEqual(1);
		expect(row.costUsd as number).toBeCloseTo(spent, 8);
		expect((row.costPerOutcome as IDataObject)[tag] as number).toBeCloseTo(spent / 5, 8);
		expect(row.latencyP50Ms).toEqual(expect.any(Number));
	});

	it('sends hostile outcome tags to Invalid naming the field', async () => {
		const { out } = await usage({ operation: 'recordOutcome', outcomeTag: '={{ $json.tag }}' }, [
			{ tag: '' },
			{ tag: 'x'.repeat(201) },
			{ tag: '   ' },
			{ tag: 'ok' },
		]);
		expect(pairedIndexes(out)).toEqual([[3], [0, 1, 2]]);
		for (const item of out[1])
			expect((item.json.outcome as IDataObject).reason).toMatch(/^"Outcome Tag" /);
	});

	it('stops on a configuration mistake in the window, naming the parameter and the item', async () => {
		const { error } = await usage({
			operation: 'report',
			window: 'custom',
			from: '2026-12-02T10:00:00Z',
			to: '2026-12-01T10:00:00Z',
		});
		expect(error?.message).toMatch(/^Item 0: "To" must be after "From"/);
	});
});

describe('AI Call budgets and Check Budget', () => {
	/** Every call below: prompt "q" (1 token by the estimate) and at most 50 output tokens. */
	const SMALL = { maxConcurrency: 1, maxTokens: 50 };
	/** The worst case the AI Call reserves for it at sim-standard's price (1 / 4 USD per million). */
	const ESTIMATE = 1e-6 + 50 * 4e-6;
	/** What one such call really costs (the simulator answers the same prompt the same way). */
	let actual: number;
	beforeAll(async () => {
		const { out } = await ai({ options: SMALL }, [{ text: 'q' }]);
		actual = costOf(out[0][0]);
		expect(actual).toBeGreaterThan(0);
		expect(actual).toBeLessThanOrEqual(ESTIMATE);
	});
	const q = (n: number, extra: IDataObject = {}) =>
		Array.from({ length: n }, () => ({ text: 'q', ...extra }));

	it('refuses once a daily budget is spent (budget_exceeded until the day ends), and Check Budget says Exceeded', async () => {
		const name = fresh('daily');
		// room for two calls' worst case after one real call, not for a third
		const limit = ESTIMATE + 1.5 * actual;
		const b = budget({ budgetName: name, budgetLimitUsd: limit });
		const started = Date.now();
		const { out } = await ai({ ...b, options: SMALL }, q(4));
		expect(pairedIndexes(out)).toEqual([
			[0, 1],
			[2, 3],
		]);
		const refused = out[1][0].json.error as IDataObject;
		expect(refused).toMatchObject({ class: 'budget_exceeded', retryable: false, attempts: 0 });
		expect(refused.message).toContain(`"${name}"`);
		const midnight = Date.parse(new Date(started).toISOString().slice(0, 10)) + 86_400_000;
		expect(refused.retryAfterMs as number).toBeGreaterThan(midnight - Date.now() - 1000);
		expect(refused.retryAfterMs as number).toBeLessThanOrEqual(midnight - started);
		expect(refused.budgets).toEqual([expect.objectContaining({ name, status: 'exceeded' })]);
		const spent = out[0].reduce((sum, i) => sum + costOf(i), 0);
		expect(spent).toBeLessThanOrEqual(limit);
		expect(sim.counters().requests).toBe(2);

		const check = await usage({ operation: 'checkBudget', ...b.budgets.budget[0] });
		expect(check.out.map((o) => o.length)).toEqual([0, 0, 1, 0]);
		const state = check.out[2][0].json.budget as IDataObject;
		expect(state.spentUsd as number).toBeCloseTo(spent, 9);
		expect(state).toMatchObject({ name, reservedUsd: 0, status: 'exceeded', store: 'memory' });
	});

	it('keeps one budget per customer key; an item without a key fails alone, without a call', async () => {
		const name = fresh('per-customer');
		const b = budget({
			budgetName: name,
			budgetScope: 'key',
			budgetKey: '={{ $json.customer }}',
			budgetLimitUsd: ESTIMATE + 0.5 * actual, // one call each
		});
		const { out } = await ai({ ...b, options: SMALL }, [
			...q(2, { customer: 'acme' }),
			...q(1, { customer: 'globex' }),
			...q(1, { customer: '' }),
		]);
		expect(pairedIndexes(out)).toEqual([
			[0, 2],
			[1, 3],
		]);
		expect(out[1][0].json.error).toMatchObject({ class: 'budget_exceeded' });
		expect(out[1][1].json.error).toMatchObject({
			class: 'bad_request',
			message: expect.stringMatching(/"Key" is empty for this item/),
			attempts: 0,
		});
		expect(sim.counters().requests).toBe(2);
		const check = await usage({ operation: 'checkBudget', ...b.budgets.budget[0] }, [
			{ customer: 'globex' },
			{ customer: 'acme' },
			{ customer: 'initech' },
			{ customer: '' },
		]);
		expect(check.error).toBeUndefined();
		const keys = check.out.map((o) =>
			o.map((i) => (i.json.budget as IDataObject).scopeKey ?? null),
		);
		// acme was refused a call it has no room for; globex spent as much but was never refused
		expect(keys[2]).toEqual(['acme']);
		expect(keys[0]).toContain('initech');
		expect([...keys[0], ...keys[1]]).toContain('globex');
		expect(check.out[3][0].json.budget).toMatchObject({
			status: 'invalid',
			reason: expect.stringMatching(/"Key" is empty/),
		});
	});

	it('logs the warn threshold once per period, however many executions pass it', async () => {
		const name = fresh('warned');
		// 0.001 % of 10 USD: the first real call passes it
		const b = budget({ budgetName: name, budgetLimitUsd: 10, budgetWarnPercent: 0.001 });
		logLines.length = 0;
		await ai({ ...b, options: SMALL }, q(2));
		const second = await ai({ ...b, options: SMALL }, q(1));
		const warnings = logLines.filter((l) => /passed its warn threshold/.test(l.message));
		expect(warnings).toHaveLength(1);
		expect(warnings[0].message).toContain(`"${name}"`);
		const [state] = (second.out[0][0].json.ai as IDataObject).budgets as IDataObject[];
		expect(state.status).toBe('warn');
	});

	it('stops on a budget that cannot work, naming it: a token count for unpriced models without a token limit', async () => {
		const { error } = await ai(budget({ budgetUnpriced: 'countTokens', budgetLimitTokens: 0 }), [
			{ text: 'a' },
		]);
		expect(error?.message).toMatch(/Budget "b".*Token Limit/);
		expect(sim.counters().requests).toBe(0);
	});

	it('refuses a model without a price by default, and counts its tokens when asked', async () => {
		const name = fresh('unpriced');
		const model = { mode: 'id', value: 'sim-mystery' };
		const refused = await ai({ model, ...budget({ budgetName: name }) }, [{ text: 'a' }]);
		expect(refused.out[1][0].json.error).toMatchObject({
			class: 'budget_exceeded',
			retryAfterMs: null,
			message: expect.stringMatching(/without a known price/),
		});
		expect(sim.counters().requests).toBe(0);
		const counted = await ai(
			{
				model,
				...budget({
					budgetName: `${name}-t`,
					budgetUnpriced: 'countTokens',
					budgetLimitTokens: 100_000,
				}),
			},
			[{ text: 'a' }],
		);
		expect(counted.out[0]).toHaveLength(1);
		const [state] = (counted.out[0][0].json.ai as IDataObject).budgets as IDataObject[];
		expect(state.spentTokens as number).toBeGreaterThan(0);
	});
});
