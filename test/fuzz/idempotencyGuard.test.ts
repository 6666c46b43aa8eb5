import fc from 'fast-check';
import type { INodeExecutionData } from 'n8n-workflow';

import { closeAllStores } from '../../lib/stores';
import { hostileBatch, hostileItem, itemJson, FUZZ_TIMEOUT_MS, ITEMS_PER_RUN, RUNS } from './support/arbitraries';
import { own } from './support/invariants';
import { fromItem, fuzz, itemsOf, printSummary, type Case } from './support/run';

const CLAIM = ['new', 'duplicate', 'in_progress', 'conflict'];

const items = hostileBatch((hostile) =>
	hostileItem(
		itemJson(
			{
				// few distinct keys, so that duplicates, in-progress claims and conflicts happen in a batch
				headers: fc.oneof(
					fc.record({ 'idempotency-key': fc.oneof(fc.constantFrom('k1', 'k2', 'k3', 1, 2.5), hostile) }),
					hostile,
				),
				body: fc.oneof(fc.record({ id: fc.oneof(fc.nat(3), hostile), amount: hostile }), hostile),
				idempotency: hostile,
				response: hostile,
				n: hostile,
			},
			hostile,
		),
	),
);

let run = 0;
const cases = (configFromItem: boolean): fc.Arbitrary<Case> =>
	fc
		.record({
			operation: fc.constantFrom('claim', 'claim', 'claim', 'complete', 'release'),
			keyFrom: fc.constantFrom('expression', 'fields', 'payload'),
			fingerprintFrom: fc.constantFrom('payload', 'fields', 'none'),
			onMissingKey: fc.constantFrom('error', 'new'),
			errorOutput: fc.boolean(),
			resultFrom: fc.constantFrom('item', 'expression'),
			leaseFromItem: fc.boolean().map((b) => b && configFromItem),
		})
		.map((r) => {
			// a namespace per run: the memory store is shared by the whole file
			const namespace = `fuzz-${process.pid}-${++run}`;
			const claim = r.operation === 'claim';
			return {
				parameters: {
					operation: r.operation,
					store: 'memory',
					namespace,
					...(claim
						? {
								keyFrom: r.keyFrom,
								key: '={{ $json.headers?.["idempotency-key"] }}',
								keyFields: 'body.id',
								fingerprintFrom: r.fingerprintFrom,
								fingerprintFields: 'body',
								leaseSeconds: r.leaseFromItem ? fromItem('n') : 300,
							}
						: {
								key: '={{ $json.headers?.["idempotency-key"] }}',
								claimId: '={{ $json.idempotency?.token }}',
								resultFrom: r.resultFrom,
								result: fromItem('response'),
								retentionHours: 24,
							}),
					options: { onMissingKey: r.onMissingKey },
				},
				configParameters: [
					...(r.leaseFromItem ? ['Lease (Seconds)'] : []),
					// documented: a missing key stops the node by default, naming the item and the option
					...(claim && r.onMissingKey === 'error' ? ['Missing Key'] : []),
					...(claim ? [] : ['Key']),
				],
				settings: r.errorOutput ? { onError: 'continueErrorOutput' as const } : undefined,
			};
		});

const spec = (configFromItem: boolean) => ({
	node: 'Idempotency Guard',
	type: 'idempotencyGuard',
	cases: cases(configFromItem),
	items,
	runs: RUNS / 2,
	outputCount: (c: Case) =>
		(c.parameters.operation === 'claim' ? 4 : 1) + (c.settings?.onError === 'continueErrorOutput' ? 1 : 0),
	checkItem: (item: INodeExecutionData, output: number, c: Case) => {
		const claim = c.parameters.operation === 'claim';
		const errorOutput = c.settings?.onError === 'continueErrorOutput' && output === (claim ? 4 : 1);
		if (errorOutput) {
			// the documented error output: a message naming the item
			const message = own(item.json, 'error');
			return typeof message === 'string' && /^Item \d+: /.test(message) ? undefined : `error is ${String(message)}`;
		}
		const status = own(own(item.json, 'idempotency'), 'status');
		if (claim) return status === CLAIM[output] ? undefined : `idempotency.status is ${String(status)}`;
		return typeof status === 'string' ? undefined : `idempotency.status is ${String(status)}`;
	},
});

jest.setTimeout(FUZZ_TIMEOUT_MS);

afterAll(async () => {
	printSummary();
	await closeAllStores();
});

describe('Idempotency Guard on hostile items', () => {
	it('sends every item to exactly one output (or the error output) with its status (fixed settings)', async () => {
		const result = await fuzz(spec(false), 'hostile keys and payloads, fixed settings');
		expect(result.counterexample).toBeUndefined();
	});

	it('stops only with an error naming the setting and the item when settings come from the item', async () => {
		const result = await fuzz(spec(true), 'lease from item expressions');
		expect(result.counterexample).toBeUndefined();
	});

	it(`handled at least ${ITEMS_PER_RUN * 100} items`, () => {
		expect(itemsOf('Idempotency Guard')).toBeGreaterThanOrEqual(ITEMS_PER_RUN * 100);
	});
});
