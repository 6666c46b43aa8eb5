/**
 * Dot and bracket paths into item JSON: `customer.address.city`, `rows[0].ts`, `meta["content-type"]`.
 * Parsed once and cached; `__proto__`, `constructor` and `prototype` are never walked into.
 */
export type PathSegment = string | number;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const cache = new Map<string, PathSegment[]>();

export class PathError extends Error {}

export function parsePath(path: string): PathSegment[] {
	const cached = cache.get(path);
	if (cached) return cached;
	const segments: PathSegment[] = [];
	const re = /([^.[\]]+)|\[(\d+)\]|\[\s*(["'])((?:\\.|(?!\3).)*)\3\s*\]|(\.)|(.)/g;
	let expectSegment = true;
	let m: RegExpExecArray | null;
	while ((m = re.exec(path))) {
		if (m[1] !== undefined) {
			if (!expectSegment) throw new PathError(`path "${path}": missing "." before "${m[1]}"`);
			segments.push(m[1]);
			expectSegment = false;
		} else if (m[2] !== undefined) {
			segments.push(Number(m[2]));
			expectSegment = false;
		} else if (m[4] !== undefined) {
			segments.push(m[4].replace(/\\(.)/g, '$1'));
			expectSegment = false;
		} else if (m[5] !== undefined) {
			if (expectSegment) throw new PathError(`path "${path}": empty segment`);
			expectSegment = true;
		} else {
			throw new PathError(`path "${path}": unexpected "${m[6]}" at position ${m.index + 1}`);
		}
	}
	if (!segments.length || expectSegment)
		throw new PathError(`path "${path}": empty or ends with "."`);
	if (cache.size > 10_000) cache.clear();
	cache.set(path, segments);
	return segments;
}

/** `found` tells a missing key from a key whose value is undefined or null. */
export function getPath(
	root: unknown,
	path: string | PathSegment[],
): { found: boolean; value: unknown } {
	const segments = typeof path === 'string' ? parsePath(path) : path;
	let current: unknown = root;
	for (const segment of segments) {
		if (current === null || typeof current !== 'object') return { found: false, value: undefined };
		if (typeof segment === 'string' && FORBIDDEN.has(segment))
			return { found: false, value: undefined };
		if (!Object.prototype.hasOwnProperty.call(current, segment))
			return { found: false, value: undefined };
		current = (current as Record<PathSegment, unknown>)[segment];
	}
	return { found: true, value: current };
}
