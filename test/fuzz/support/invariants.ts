/**
 * The invariants every node keeps on any input, checked without trusting the values: nothing here
 * calls a getter, toString, valueOf or toJSON of an item value.
 */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

/**
 * A structural copy: own keys with their descriptors, values copied, getters kept by identity.
 * Primitives and functions stand for themselves; objects become an ObjectSnap.
 */
class ObjectSnap {
	constructor(
		readonly ref: object,
		readonly proto: object | null,
		readonly extensible: boolean,
		readonly keys: Array<string | symbol>,
		/** per key: the copied value, or the accessor pair */
		readonly values: unknown[],
		readonly accessors: Array<{ get?: unknown; set?: unknown } | undefined>,
		readonly time?: number,
		readonly bytes?: Buffer,
	) {}
}
type Snap = unknown;

/** The view's own bytes (a small Buffer is a window on a shared pool). */
const bytesOf = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

const isIndex = (k: string | symbol) => typeof k === 'string' && /^\d+$/.test(k);

export function snapshot(value: unknown, seen = new Set<object>()): Snap {
	if (value === null || typeof value !== 'object') return value;
	// shared or repeated references are compared by identity only
	if (seen.has(value)) return value;
	seen.add(value);
	const typed = ArrayBuffer.isView(value);
	const descriptors = Object.getOwnPropertyDescriptors(value) as Record<string | symbol, PropertyDescriptor>;
	const keys = Reflect.ownKeys(descriptors).filter((k) => !(typed && isIndex(k)));
	const values: unknown[] = new Array(keys.length);
	const accessors: ObjectSnap['accessors'] = new Array(keys.length);
	for (let i = 0; i < keys.length; i++) {
		const d = descriptors[keys[i] as string];
		if ('value' in d) values[i] = snapshot(d.value, seen);
		else accessors[i] = { get: d.get, set: d.set };
	}
	return new ObjectSnap(
		value,
		Object.getPrototypeOf(value) as object | null,
		Object.isExtensible(value),
		keys,
		values,
		accessors,
		value instanceof Date ? value.getTime() : undefined,
		typed ? Buffer.from(bytesOf(value as ArrayBufferView)) : undefined,
	);
}

/** Where `value` differs from the snapshot, or undefined. */
export function changed(snap: Snap, value: unknown, path = '$'): string | undefined {
	if (!(snap instanceof ObjectSnap)) return Object.is(snap, value) ? undefined : `${path} was replaced`;
	if (value !== snap.ref) return `${path} was replaced by another object`;
	const o = value as object;
	if (Object.getPrototypeOf(o) !== snap.proto) return `${path}: its prototype was changed`;
	if (Object.isExtensible(o) !== snap.extensible) return `${path} was frozen or sealed`;
	if (snap.time !== undefined && !Object.is((o as Date).getTime(), snap.time))
		return `${path}: the date was changed`;
	if (snap.bytes && !snap.bytes.equals(bytesOf(o as ArrayBufferView)))
		return `${path}: its bytes were changed`;
	const descriptors = Object.getOwnPropertyDescriptors(o) as Record<string | symbol, PropertyDescriptor>;
	const keys = Reflect.ownKeys(descriptors).filter((k) => !(snap.bytes && isIndex(k)));
	if (keys.length !== snap.keys.length || keys.some((k, i) => k !== snap.keys[i]))
		return `${path}: keys changed from [${snap.keys.map(String).join(', ')}] to [${keys.map(String).join(', ')}]`;
	for (let i = 0; i < keys.length; i++) {
		const d = descriptors[keys[i] as string];
		const at = `${path}.${String(keys[i])}`;
		const accessor = snap.accessors[i];
		if (accessor) {
			if (d.get !== accessor.get || d.set !== accessor.set) return `${at}: its accessor was replaced`;
		} else {
			if (!('value' in d)) return `${at} became an accessor`;
			const diff = changed(snap.values[i], d.value, at);
			if (diff) return diff;
		}
	}
	return undefined;
}

/** The items as the node receives them: json and binary (the engine may add pairedItem itself). */
export function snapshotItems(items: INodeExecutionData[]) {
	const seen = new Set<object>(); // a value shared by many items is copied once
	return items.map((item) => ({ json: snapshot(item.json, seen), binary: snapshot(item.binary, seen) }));
}

export function itemsChanged(
	snaps: ReturnType<typeof snapshotItems>,
	items: INodeExecutionData[],
): string | undefined {
	for (const [i, s] of snaps.entries()) {
		const diff = changed(s.json, items[i].json, `item ${i} json`) ?? changed(s.binary, items[i].binary, `item ${i} binary`);
		if (diff) return diff;
	}
	return undefined;
}

/** The built-in prototypes a node could pollute through a `__proto__` key or a path. */
const PROTOTYPES: Array<[string, object]> = [
	['Object.prototype', Object.prototype],
	['Array.prototype', Array.prototype],
	['Function.prototype', Function.prototype],
	['String.prototype', String.prototype],
];
export const snapshotPrototypes = () => PROTOTYPES.map(([, p]) => snapshot(p));
export function prototypesChanged(snaps: Snap[]): string | undefined {
	for (const [i, [name, p]] of PROTOTYPES.entries()) {
		const diff = changed(snaps[i], p, name);
		if (diff) return diff;
	}
	return undefined;
}

/**
 * Every input item leaves on exactly one output, with pairedItem naming it, in input order
 * within each output.
 */
export function routingProblem(outputs: INodeExecutionData[][], inputCount: number): string | undefined {
	const seen = new Map<number, number>();
	for (const [o, items] of outputs.entries()) {
		let last = -1;
		for (const item of items) {
			const p = item.pairedItem as { item?: unknown } | Array<unknown> | number | undefined;
			const index = typeof p === 'number' ? p : Array.isArray(p) ? undefined : p?.item;
			if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= inputCount)
				return `output ${o}: an item has pairedItem ${show(p)}`;
			if (seen.has(index)) return `item ${index} left on output ${seen.get(index)} and on output ${o}`;
			if (index < last) return `output ${o}: item ${index} comes after item ${last} (input order lost)`;
			seen.set(index, o);
			last = index;
		}
	}
	for (let i = 0; i < inputCount; i++) if (!seen.has(i)) return `item ${i} left on no output`;
	return undefined;
}

/** Every string reachable from value (keys included), without calling anything on it. */
export function* strings(value: unknown, seen = new Set<object>()): Generator<string> {
	if (typeof value === 'string') {
		yield value;
		return;
	}
	if (value === null || typeof value !== 'object' || seen.has(value)) return;
	seen.add(value);
	if (ArrayBuffer.isView(value)) {
		yield bytesOf(value as ArrayBufferView).toString('latin1');
		return;
	}
	for (const k of Reflect.ownKeys(value)) {
		if (typeof k === 'string') yield k;
		const d = Object.getOwnPropertyDescriptor(value, k)!;
		if ('value' in d) yield* strings(d.value, seen);
	}
	if (value instanceof Error) {
		yield value.message;
		if (value.stack) yield value.stack;
	}
}

/** The first place a secret (or a 12-character piece of it) shows up in value. */
export function leak(value: unknown, secret: string): string | undefined {
	const pieces = [secret];
	for (let i = 0; i + 12 <= secret.length; i += 4) pieces.push(secret.slice(i, i + 12));
	for (const s of strings(value)) {
		const piece = pieces.find((p) => s.includes(p));
		if (piece) {
			const at = s.indexOf(piece);
			return `…${s.slice(Math.max(0, at - 60), at + piece.length + 20)}…`;
		}
	}
	return undefined;
}

/** A short, safe description of any value, for counterexample reports. */
export function show(value: unknown, depth = 0, seen = new Set<object>()): string {
	if (typeof value === 'string')
		return value.length > 60
			? `${JSON.stringify(value.slice(0, 40))}…(${value.length} chars)`
			: JSON.stringify(value);
	if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
	if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
	if (typeof value !== 'object' || value === null) return String(value);
	if (seen.has(value)) return '[circular]';
	if (depth > 4) return '…';
	seen.add(value);
	try {
		return showObject(value, depth, seen);
	} finally {
		seen.delete(value); // only a cycle on the current path is circular, not a shared value
	}
}

function showObject(value: object, depth: number, seen: Set<object>): string {
	if (value instanceof Date) return `Date(${value.getTime()})`;
	if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as Uint8Array).length} bytes)`;
	if (Array.isArray(value)) {
		const head = value.slice(0, 6).map((v) => show(v, depth + 1, seen));
		return `[${head.join(', ')}${value.length > 6 ? `, …(${value.length} items)` : ''}]`;
	}
	const proto = Object.getPrototypeOf(value);
	const parts = Reflect.ownKeys(value).slice(0, 8).map((k) => {
		const d = Object.getOwnPropertyDescriptor(value, k)!;
		const name = typeof k === 'symbol' ? `[${String(k)}]` : JSON.stringify(k);
		return 'value' in d ? `${name}: ${show(d.value, depth + 1, seen)}` : `${name}: [getter]`;
	});
	return `${proto === null ? 'Object.create(null) ' : ''}{${parts.join(', ')}}`;
}

/** An execution error as the harness returns it (a plain copy of the thrown error). */
export interface RunError {
	name?: string;
	message?: string;
	description?: string;
	context?: { itemIndex?: number };
	stack?: string;
}

/**
 * A documented configuration error: a NodeOperationError naming one of `parameters` (as the editor
 * shows it, in quotes; or, ending in a space, as the start of the message: `Rule 2 `) and a valid item index. Anything else (a TypeError, a RangeError, an error
 * about an item's value) breaks the rule that a value in an item never stops an execution.
 */
export function configErrorProblem(
	error: RunError,
	parameters: string[],
	inputCount: number,
): string | undefined {
	const text = `${error.message ?? ''} ${error.description ?? ''}`;
	const index = error.context?.itemIndex;
	// "Name": the parameter in quotes anywhere; "Rule 2 " (trailing space): the message starts with it
	const named = parameters.find((p) =>
		p.endsWith(' ')
			? new RegExp(`^${p.trim()}[ :]`).test(error.message ?? '')
			: text.includes(`"${p}"`),
	);
	if (error.name === 'NodeOperationError' && named && typeof index === 'number' && index >= 0 && index < inputCount)
		return undefined;
	return `the execution stopped: ${error.name ?? 'Error'}: ${error.message}${error.description ? ` (${error.description})` : ''}${
		parameters.length
			? ` — not a configuration error naming one of ${parameters.map((p) => `"${p}"`).join(', ')} and the item`
			: ' — no configuration error is possible with these parameters'
	}`;
}

export type Json = IDataObject;

/** An own data property, read without calling a getter (undefined when absent or an accessor). */
export function own(value: unknown, key: string): unknown {
	if (value === null || typeof value !== 'object') return undefined;
	const d = Object.getOwnPropertyDescriptor(value, key);
	return d && 'value' in d ? d.value : undefined;
}
