/** Reading item values without trusting them. */

/**
 * A number from an item value, or undefined: numbers and numeric text only, so an object's own
 * `toString`/`valueOf` (which could throw, or say anything) is never called.
 */
export function readNumber(value: unknown): number | undefined {
	const n =
		typeof value === 'number'
			? value
			: typeof value === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(value)
				? Number(value)
				: NaN;
	return Number.isFinite(n) ? n : undefined;
}

/** A short description of a value for a message, without calling its own toString. */
export function describeValue(value: unknown): string {
	if (typeof value === 'string')
		return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
	if (Array.isArray(value)) return 'a list';
	if (value === null) return 'null';
	if (typeof value === 'object' || typeof value === 'function') return 'an object';
	return String(value);
}
