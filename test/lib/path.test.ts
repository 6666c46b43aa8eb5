import { getPath, parsePath } from '../../lib/path';

describe('paths', () => {
	it.each([
		['a', ['a']],
		['a.b.c', ['a', 'b', 'c']],
		['rows[0].ts', ['rows', 0, 'ts']],
		['meta["content-type"]', ['meta', 'content-type']],
		["meta['a.b']", ['meta', 'a.b']],
		['m[2][3]', ['m', 2, 3]],
	])('parses %s', (path, segments) => {
		expect(parsePath(path)).toEqual(segments);
	});

	it.each(['', 'a.', '.a', 'a..b', 'a[x]', 'a]b'])('rejects %j', (path) => {
		expect(() => parsePath(path)).toThrow(/path/);
	});

	it('tells missing from present-but-null', () => {
		const obj = { a: { b: null, c: [1, { d: 2 }] } };
		expect(getPath(obj, 'a.b')).toEqual({ found: true, value: null });
		expect(getPath(obj, 'a.x')).toEqual({ found: false, value: undefined });
		expect(getPath(obj, 'a.c[1].d')).toEqual({ found: true, value: 2 });
		expect(getPath(obj, 'a.c[5]')).toEqual({ found: false, value: undefined });
		expect(getPath(obj, 'a.b.z')).toEqual({ found: false, value: undefined });
	});

	it('never walks into prototypes', () => {
		expect(getPath({}, '__proto__')).toEqual({ found: false, value: undefined });
		expect(getPath({}, 'constructor.prototype')).toEqual({ found: false, value: undefined });
		expect(getPath({ a: 'x' }, 'a.length')).toEqual({ found: false, value: undefined });
		expect(getPath(JSON.parse('{"__proto__": {"polluted": 1}}'), '__proto__.polluted').found).toBe(
			false,
		);
	});
});
