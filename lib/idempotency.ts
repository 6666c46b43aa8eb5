/**
 * What the Idempotency Guard does per item, without n8n: keys and fingerprints from item data,
 * and running store calls concurrently while keeping calls on one key in item order.
 */
import { hashValue, sha256 } from './hash';
import { getPath, parsePath, type PathSegment } from './path';

export interface Field {
	path: string;
	segments: PathSegment[];
}

/** `body.id, headers["x-event-id"]` → parsed paths; a mistake names the parameter. */
export function parseFields(text: string, parameter: string): Field[] {
	const paths = String(text ?? '')
		.split(',')
		.map((p) => p.trim())
		.filter(Boolean);
	if (!paths.length)
		throw new Error(`"${parameter}" is empty: give one or more paths, comma-separated`);
	return paths.map((path) => {
		try {
			return { path, segments: parsePath(path) };
		} catch (error) {
			throw new Error(`"${parameter}": ${(error as Error).message}`);
		}
	});
}

/** A Webhook node's item keeps the request body in `body`; other items are the payload themselves. */
export const payloadOf = (json: Record<string, unknown>): unknown =>
	Object.prototype.hasOwnProperty.call(json, 'body') ? json.body : json;

/** Hash of the chosen fields, or undefined when none of them holds a value. */
export function hashFields(json: unknown, fields: Field[]): string | undefined {
	const picked: Record<string, unknown> = {};
	let any = false;
	for (const { path, segments } of fields) {
		const { found, value } = getPath(json, segments);
		if (found && value !== null && value !== undefined) any = true;
		picked[path] = found ? value : null;
	}
	return any ? hashValue(picked) : undefined;
}

export const hashPayload = (json: Record<string, unknown>): string => hashValue(payloadOf(json));

const MAX_KEY_LENGTH = 256;

/**
 * A key as stored: text or a number, trimmed; undefined when empty. Longer than 256 characters it
 * becomes `sha256:<hash>` (databases index short keys best), the same every time.
 */
/** An item's key value that is no key: the item is treated as one without a key, with this reason. */
export class UnusableKeyError extends Error {}

export function keyText(value: unknown, what = 'key'): string | undefined {
	if (value === undefined || value === null) return undefined;
	let text: string;
	if (typeof value === 'string') text = value.trim();
	else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
	else
		throw new UnusableKeyError(
			`the ${what} is ${
				Array.isArray(value)
					? 'a list'
					: typeof value === 'number'
						? String(value) // NaN, Infinity
						: typeof value === 'object'
							? 'an object'
							: typeof value
			}, not text or a number`,
		);
	if (!text) return undefined;
	return text.length > MAX_KEY_LENGTH ? `sha256:${sha256(text)}` : text;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs task(i) for every item, at most `concurrency` at a time. Items with the same group run one
 * after another in item order (the second sees what the first did: a duplicate inside one batch
 * is caught by the store like any other). Never rejects: each item gets its own outcome.
 */
export async function runGrouped<T>(
	count: number,
	groupOf: (i: number) => string | undefined,
	task: (i: number) => Promise<T>,
	concurrency = 16,
): Promise<Array<Settled<T>>> {
	const results: Array<Settled<T>> = new Array(count);
	const waiting: Array<() => void> = [];
	let active = 0;
	const inSlot = async (i: number): Promise<T> => {
		while (active >= concurrency) await new Promise<void>((wake) => waiting.push(wake));
		active++;
		try {
			return await task(i);
		} finally {
			active--;
			waiting.shift()?.();
		}
	};
	const last = new Map<string, Promise<void>>();
	const all: Array<Promise<void>> = [];
	for (let i = 0; i < count; i++) {
		const group = groupOf(i);
		const before = group === undefined ? undefined : last.get(group);
		const run = (async () => {
			if (before) await before;
			try {
				results[i] = { ok: true, value: await inSlot(i) };
			} catch (error) {
				results[i] = { ok: false, error };
			}
		})();
		if (group !== undefined) last.set(group, run);
		all.push(run);
	}
	await Promise.all(all);
	return results;
}
