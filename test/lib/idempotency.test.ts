import { hashValue, stableStringify } from '../../lib/hash';
import { hashFields, keyText, parseFields, payloadOf, runGrouped } from '../../lib/idempotency';

describe('stable hashes', () => {
	it('ignore key order at every level but not array order', () => {
		expect(stableStringify({ b: 1, a: { d: [2, 1], c: null } })).toBe(
			'{"a":{"c":null,"d":[2,1]},"b":1}',
		);
		expect(hashValue({ a: 1, b: { c: 2, d: 3 } })).toBe(hashValue({ b: { d: 3, c: 2 }, a: 1 }));
		expect(hashValue([1, 2])).not.toBe(hashValue([2, 1]));
		expect(hashValue({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
	});

	it('follow JSON rules for dates, undefined and functions', () => {
		const at = new Date('2024-05-01T00:00:00Z');
		expect(stableStringify({ at, u: undefined, f: () => 1, list: [undefined] })).toBe(
			'{"at":"2024-05-01T00:00:00.000Z","list":[null]}',
		);
		expect(stableStringify(undefined)).toBe('null');
	});

	it('refuse what JSON cannot hold', () => {
		const loop: Record<string, unknown> = {};
		loop.self = loop;
		expect(() => stableStringify(loop)).toThrow(/circular/);
		expect(() => stableStringify({ n: 1n })).toThrow(/BigInt/);
		const shared = { x: 1 };
		expect(stableStringify({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
	});
});

describe('keys and fingerprints', () => {
	it('take the webhook body as the payload, or the whole item without one', () => {
		expect(payloadOf({ headers: {}, body: { id: 1 } })).toEqual({ id: 1 });
		expect(payloadOf({ id: 1 })).toEqual({ id: 1 });
	});

	it('hash chosen fields, and tell when none of them has a value', () => {
		const fields = parseFields('body.id, body["event-type"]', 'Key Fields');
		expect(fields.map((f) => f.path)).toEqual(['body.id', 'body["event-type"]']);
		const a = hashFields({ body: { id: 7, 'event-type': 'paid', at: 1 } }, fields);
		expect(a).toBe(hashFields({ body: { 'event-type': 'paid', id: 7, at: 2 } }, fields));
		expect(a).not.toBe(hashFields({ body: { id: 7, 'event-type': 'refund' } }, fields));
		expect(hashFields({ body: { id: null } }, fields)).toBeUndefined();
		expect(() => parseFields(' , ', 'Key Fields')).toThrow('"Key Fields" is empty');
		expect(() => parseFields('a..b', 'Key Fields')).toThrow(/^"Key Fields": path "a\.\.b"/);
	});

	it('read keys as trimmed text or numbers, hashing very long ones', () => {
		expect(keyText('  evt_1 ')).toBe('evt_1');
		expect(keyText(42)).toBe('42');
		expect(keyText('')).toBeUndefined();
		expect(keyText('   ')).toBeUndefined();
		expect(keyText(null)).toBeUndefined();
		expect(keyText(undefined)).toBeUndefined();
		expect(() => keyText({ a: 1 })).toThrow('the key is an object, not text or a number');
		expect(() => keyText([1], 'namespace')).toThrow(
			'the namespace is a list, not text or a number',
		);
		expect(() => keyText(NaN)).toThrow('the key is NaN, not text or a number');
		expect(() => keyText(-Infinity)).toThrow('the key is -Infinity, not text or a number');
		const long = 'x'.repeat(300);
		expect(keyText(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
		expect(keyText(long)).toBe(keyText(long));
		expect(keyText('y'.repeat(256))).toBe('y'.repeat(256));
	});
});

describe('runGrouped', () => {
	it('runs one group in item order, other groups beside it, within the concurrency', async () => {
		const log: string[] = [];
		let active = 0;
		let peak = 0;
		const groups = ['a', 'b', 'a', undefined, 'b', 'a'];
		const results = await runGrouped(
			groups.length,
			(i) => groups[i],
			async (i) => {
				peak = Math.max(peak, ++active);
				log.push(`start ${i}`);
				await new Promise((r) => setTimeout(r, i === 0 ? 20 : 5));
				log.push(`end ${i}`);
				active--;
				if (i === 4) throw new Error('four');
				return i * 10;
			},
			2,
		);
		expect(results).toEqual([
			{ ok: true, value: 0 },
			{ ok: true, value: 10 },
			{ ok: true, value: 20 },
			{ ok: true, value: 30 },
			{ ok: false, error: new Error('four') },
			{ ok: true, value: 50 },
		]);
		expect(peak).toBe(2);
		const at = (entry: string) => log.indexOf(entry);
		expect(at('start 2')).toBeGreaterThan(at('end 0'));
		expect(at('start 5')).toBeGreaterThan(at('end 2'));
		expect(at('start 4')).toBeGreaterThan(at('end 1'));
		expect(at('start 1')).toBeLessThan(at('end 0')); // b does not wait for a
	});
});
