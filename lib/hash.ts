/**
 * Stable hashes of JSON data: sha256 of a serialisation with object keys sorted at every level,
 * so `{a: 1, b: 2}` and `{b: 2, a: 1}` hash alike. Values follow JSON rules (`toJSON` honoured,
 * `undefined` and functions dropped from objects, `null` in arrays).
 */
import { createHash } from 'node:crypto';

export function stableStringify(value: unknown): string {
	const path = new Set<object>();
	const walk = (input: unknown): string | undefined => {
		let v = input;
		if (
			v !== null &&
			typeof v === 'object' &&
			typeof (v as { toJSON?: unknown }).toJSON === 'function'
		) {
			// an item's own toJSON may throw: then its own fields are what gets hashed
			try {
				v = (v as { toJSON: () => unknown }).toJSON();
			} catch {
				v = { ...(v as object) };
			}
		}
		if (v === null || typeof v !== 'object') {
			if (typeof v === 'bigint') throw new Error('cannot hash a BigInt value');
			return JSON.stringify(v);
		}
		if (path.has(v)) throw new Error('cannot hash a circular structure');
		path.add(v);
		let out: string;
		if (Array.isArray(v)) {
			out = `[${v.map((x) => walk(x) ?? 'null').join(',')}]`;
		} else {
			const parts: string[] = [];
			for (const key of Object.keys(v).sort()) {
				const s = walk((v as Record<string, unknown>)[key]);
				if (s !== undefined) parts.push(`${JSON.stringify(key)}:${s}`);
			}
			out = `{${parts.join(',')}}`;
		}
		path.delete(v);
		return out;
	};
	return walk(value) ?? 'null';
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** sha256 (hex) of the stable serialisation. */
export const hashValue = (value: unknown): string => sha256(stableStringify(value));
