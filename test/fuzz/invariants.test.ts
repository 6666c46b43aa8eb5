/**
 * The invariants of the property tests catch what they claim to: each check below is given a
 * planted violation and must report it (and must stay quiet on the untouched data).
 */
import type { INodeExecutionData } from 'n8n-workflow';

import {
	changed,
	configErrorProblem,
	itemsChanged,
	leak,
	prototypesChanged,
	routingProblem,
	snapshot,
	snapshotItems,
	snapshotPrototypes,
} from './support/invariants';

const items = (): INodeExecutionData[] => [
	{ json: { a: { b: [1, 2] }, d: new Date(0), buf: Buffer.from([1, 2]) } },
	{ json: JSON.parse('{"__proto__": {"x": 1}}') },
];
const out = (...indexes: number[][]) =>
	indexes.map((list) => list.map((item) => ({ json: {}, pairedItem: { item } })));

describe('fuzz invariants detect planted violations', () => {
	it('an input item changed at any depth, in a Date, a Buffer or a getter', () => {
		const plants: Array<(i: INodeExecutionData[]) => void> = [
			(i) => ((i[0].json.a as { b: number[] }).b[1] = 3),
			(i) => (i[0].json.extra = 1),
			(i) => (i[0].json.d as Date).setTime(5),
			(i) => ((i[0].json.buf as Buffer)[0] = 9),
			(i) => Object.defineProperty(i[1].json, 'y', { get: () => 1 }),
			(i) => (i[0].binary = { data: { data: '', mimeType: 'x' } }),
		];
		for (const plant of plants) {
			const list = items();
			const snap = snapshotItems(list);
			expect(itemsChanged(snap, list)).toBeUndefined();
			plant(list);
			expect(itemsChanged(snap, list)).toEqual(expect.any(String));
		}
		const v = { n: NaN, z: -0 };
		expect(changed(snapshot(v), v)).toBeUndefined();
	});

	it('a polluted Object.prototype', () => {
		const snap = snapshotPrototypes();
		expect(prototypesChanged(snap)).toBeUndefined();
		(Object.prototype as Record<string, unknown>).polluted = 'yes';
		try {
			expect(prototypesChanged(snap)).toMatch(/Object\.prototype/);
		} finally {
			delete (Object.prototype as Record<string, unknown>).polluted;
		}
	});

	it('an item lost, doubled, misnamed or out of order', () => {
		expect(routingProblem(out([0, 2], [1]), 3)).toBeUndefined();
		expect(routingProblem(out([0], []), 2)).toMatch(/item 1 left on no output/);
		expect(routingProblem(out([0, 1], [1]), 2)).toMatch(/item 1 left on output 0 and on output 1/);
		expect(routingProblem(out([1, 0]), 2)).toMatch(/input order/);
		expect(routingProblem([[{ json: {} }]], 1)).toMatch(/pairedItem/);
		expect(routingProblem(out([5]), 1)).toMatch(/pairedItem/);
	});

	it('a secret in an output, an error or a log line, also in part', () => {
		const secret = 'sk-fuzz-3b9f0c77e1d24a6b8c5e9f1a';
		expect(leak([{ json: { text: 'masked sk-…9f1a' } }], secret)).toBeUndefined();
		expect(leak([{ json: { deep: [{ t: `Bearer ${secret}` }] } }], secret)).toMatch(/Bearer/);
		expect(leak({ message: `headers: ${secret.slice(8, 22)}` }, secret)).toEqual(expect.any(String));
		expect(leak(new Error(`key ${secret}`), secret)).toEqual(expect.any(String));
	});

	it('a stop that is not a configuration error naming the parameter and the item', () => {
		const config = { name: 'NodeOperationError', message: '"Warn After" must be a number', context: { itemIndex: 0 } };
		expect(configErrorProblem(config, ['Warn After'], 1)).toBeUndefined();
		expect(configErrorProblem(config, [], 1)).toEqual(expect.any(String));
		expect(configErrorProblem({ ...config, context: {} }, ['Warn After'], 1)).toEqual(expect.any(String));
		expect(
			configErrorProblem({ name: 'NodeOperationError', message: 'Cannot convert object to primitive value', context: { itemIndex: 0 } }, ['Warn After'], 1),
		).toEqual(expect.any(String));
		expect(configErrorProblem({ ...config, name: 'TypeError' }, ['Warn After'], 1)).toEqual(expect.any(String));
		expect(configErrorProblem({ name: 'NodeOperationError', message: 'Rule 2: bad', context: { itemIndex: 0 } }, ['Rule 2 '], 1)).toBeUndefined();
	});
});
