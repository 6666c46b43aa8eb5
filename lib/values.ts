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

/**
 * An item's value as text, as n8n itself puts objects into text parameters: as JSON. Whatever
 * the value does (a toJSON that throws, a cycle, a BigInt) comes back as an error naming the field.
 */
export function text(value: unknown, field: string): string {
	if (value === undefined || value === null) return '';
	if (typeof value === 'string') return value;
	if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
		return String(value);
	}
	if (typeof value === 'object') {
		let json: string | undefined;
		try {
			json = JSON.stringify(value) as string | undefined;
		} catch {
			json = undefined;
		}
		if (typeof json === 'string') {
			// a Date or Luxon DateTime becomes its ISO text, not a quoted JSON string
			if (json.startsWith('"')) return JSON.parse(json) as string;
			return json;
		}
	}
	throw new Error(`"${field}" is not text for this item and cannot be written as JSON`);
}
