/**
 * Hostile item values: what webhooks, files, other nodes and model output can put in an item.
 * Every hostile object is built fresh per use, so a node that mutates one is caught by the
 * before/after snapshot of that very object.
 */
import fc from 'fast-check';
import type { IBinaryData, INodeExecutionData } from 'n8n-workflow';

/** One shared megabyte string per kind (cheap to put in many items; strings are immutable). */
export const MEGABYTE = 'a'.repeat(1 << 20);
const MEGABYTE_SURROGATES = '\uD800x'.repeat(1 << 19);

export const edgeNumber = fc.constantFrom(
	0,
	-0,
	NaN,
	Infinity,
	-Infinity,
	2 ** 53 + 1,
	-(2 ** 53 + 1),
	Number.MAX_SAFE_INTEGER,
	Number.MIN_VALUE,
	1e308,
	-1e308,
	1e20,
	-1e20,
	1e21,
	8.64e15,
	8.64e15 + 1,
	-1,
	0.5,
	1,
	1e12,
	1e9,
);

const number = fc.oneof(edgeNumber, fc.double(), fc.integer());

/** Text that looks like dates, numbers, keys and paths, or breaks them. */
const trickyString = fc.constantFrom(
	'',
	' ',
	'\u0000',
	'\uD800',
	'a\uDC00b',
	'\uFFFD\uFFFD',
	'NaN',
	'-0',
	'1e20',
	'Infinity',
	'2024-05-01T12:00:00Z',
	'2024-05-01 12:30:00',
	'Wed, 01 May 2024 12:30:00 GMT',
	'+275760-09-13T00:00:00.000Z',
	'-271821-04-20T00:00:00.000Z',
	'0000-00-00',
	'9999-12-31T23:59:59Z',
	'1714566600',
	'1714566600000',
	'99999999999999999999',
	'__proto__',
	'constructor',
	'prototype',
	'toString',
	'a.b[0]',
	'a..b',
	'[[sim: hang]]',
	'{{ $json }}',
	'={{ $json.x }}',
	'Summary\nParties\nTerms',
	MEGABYTE,
	MEGABYTE_SURROGATES,
);

const string = fc.oneof(
	{ weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
	{ weight: 3, arbitrary: trickyString },
	{ weight: 1, arbitrary: fc.date({ noInvalidDate: false }).map((d) => safeIso(d)) },
);

function safeIso(d: Date): string {
	return Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString();
}

const boom = (what: string) => () => {
	throw new Error(`hostile ${what} called`);
};

/** Shared by all items (the snapshot copies each once per batch): 1,000 levels deep, 2,000 wide. */
const DEEP: unknown = (() => {
	let v: unknown = 'bottom';
	for (let i = 0; i < 1000; i++) v = i % 2 ? { a: v } : [v];
	return v;
})();
const WIDE = Array.from({ length: 2_000 }, (_, i) => i);

/** Objects that misbehave when a node turns them into text, numbers or JSON. */
export const exoticObject: fc.Arbitrary<unknown> = fc.constantFrom(
	'throwingToString',
	'throwingValueOf',
	'throwingToJSON',
	'throwingToPrimitive',
	'toStringNotFunction',
	'toJSONUndefined',
	'toJSONItself',
	'nullPrototype',
	'ownProto',
	'constructorKey',
	'prototypeKey',
	'getter',
	'dateValid',
	'dateInvalid',
	'dateMax',
	'buffer',
	'uint8',
	'deep',
	'wideArray',
	'sparseArray',
).map((kind): unknown => {
	switch (kind) {
		case 'throwingToString':
			return { toString: boom('toString'), a: 1 };
		case 'throwingValueOf':
			return { valueOf: boom('valueOf'), toString: boom('toString') };
		case 'throwingToJSON':
			return { toJSON: boom('toJSON'), text: 'x' };
		case 'throwingToPrimitive':
			return { [Symbol.toPrimitive]: boom('Symbol.toPrimitive') };
		case 'toStringNotFunction':
			return { toString: 'not a function', valueOf: 42 };
		case 'toJSONUndefined':
			return { toJSON: () => undefined };
		case 'toJSONItself': {
			const o: Record<string, unknown> = { a: 1 };
			o.toJSON = () => ({ nested: { toJSON: boom('nested toJSON') } });
			return o;
		}
		case 'nullPrototype':
			return Object.assign(Object.create(null) as object, { a: 1, class: 'timeout' });
		case 'ownProto':
			// as JSON.parse of a webhook body makes it: an own "__proto__" key
			return JSON.parse('{"__proto__": {"polluted": "yes", "class": "auth"}, "a": 1}');
		case 'constructorKey':
			return JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}');
		case 'prototypeKey':
			return { prototype: { polluted: 'yes' }, __defineGetter__: 1 };
		case 'getter':
			// a getter that answers differently each time it is read
			return Object.defineProperty({}, 'value', {
				enumerable: true,
				get: (() => {
					let n = 0;
					return () => (++n % 2 ? 'first' : { second: true });
				})(),
			});
		case 'dateValid':
			return new Date(Date.UTC(2024, 4, 1, 12, 30));
		case 'dateInvalid':
			return new Date(NaN);
		case 'dateMax':
			return new Date(8.64e15);
		case 'buffer':
			return Buffer.from([0, 255, 0xd8, 0x00]);
		case 'uint8':
			return new Uint8Array([1, 2, 3]);
		case 'deep':
			return DEEP;
		case 'wideArray':
			return WIDE;
		default: {
			const a: unknown[] = [];
			a[1000] = 1;
			return a;
		}
	}
});

const leaf = fc.oneof(
	{ weight: 2, arbitrary: number },
	{ weight: 3, arbitrary: string },
	{ weight: 1, arbitrary: fc.constantFrom(true, false, null, undefined) },
	{ weight: 2, arbitrary: exoticObject },
);

const key = fc.oneof(
	fc.string({ maxLength: 6 }),
	fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'toJSON', 'class'),
);

/** Any value, nested a few levels, hostile at every level. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
	value: fc.oneof(
		{ depthSize: 'small', withCrossShrink: true },
		{ weight: 5, arbitrary: leaf },
		{ weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
		{
			weight: 1,
			arbitrary: fc
				.array(fc.tuple(key, tie('value')), { maxLength: 4 })
				.map((entries) => ownObject(entries)),
		},
	),
})).value;

/** An object from entries with own properties only (also for "__proto__"). */
export function ownObject(entries: Array<[string, unknown]>): Record<string, unknown> {
	const o: Record<string, unknown> = {};
	for (const [k, v] of entries)
		Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
	return o;
}

/** Item json: the given fields (well-formed or hostile), plus hostile extras under odd keys. */
export function itemJson(
	fields: Record<string, fc.Arbitrary<unknown>>,
	hostile: fc.Arbitrary<unknown>,
): fc.Arbitrary<Record<string, unknown>> {
	const names = Object.keys(fields);
	return fc
		.tuple(
			fc.tuple(...names.map((n) => fc.option(fields[n], { nil: undefined, freq: 6 }))),
			fc.array(fc.tuple(key, hostile), { maxLength: 2 }),
		)
		.map(([values, extras]) =>
			ownObject([
				...extras,
				...(names
					.map((n, i) => [n, values[i]] as [string, unknown])
					.filter(([, v]) => v !== undefined) as Array<[string, unknown]>),
			]),
		);
}

const binaryData: fc.Arbitrary<IBinaryData> = fc
	.record({
		data: fc.oneof(fc.base64String({ maxLength: 40 }), fc.constant(''), fc.constant('%%%')),
		mimeType: fc.constantFrom('application/pdf', 'text/plain', '', 'x/\u0000'),
		fileName: fc.option(fc.constantFrom('a.pdf', '../../etc/passwd', '\uD800.txt'), {
			nil: undefined,
		}),
	})
	.map((b) => (b.fileName === undefined ? { data: b.data, mimeType: b.mimeType } : b));

/** An n8n item: json as given, sometimes with binary data. */
export function hostileItem(
	json: fc.Arbitrary<Record<string, unknown>>,
): fc.Arbitrary<INodeExecutionData> {
	return fc
		.tuple(json, fc.option(fc.dictionary(fc.constantFrom('data', 'file'), binaryData), { freq: 4 }))
		.map(([j, binary]) => (binary ? { json: j, binary } : { json: j })) as fc.Arbitrary<
		INodeExecutionData
	>;
}

/** How many fast-check runs: 100 in `npm test`, FUZZ_RUNS times more in `npm run fuzz`. */
export const RUNS = 100 * Math.max(1, Number(process.env.FUZZ_RUNS) || 1);
export const ITEMS_PER_RUN = 100;
/** Time for one property: two minutes per 100 runs (AI Call, which calls a service, takes the most). */
export const FUZZ_TIMEOUT_MS = (RUNS / 100) * 120_000;

/**
 * A batch of exactly ITEMS_PER_RUN items: the engine's cost is paid per run, not per item.
 * Hostile values come from a pool drawn per batch (generating them is what costs), so items
 * also share objects, as items of one webhook body do.
 */
export function hostileBatch(
	item: (hostile: fc.Arbitrary<unknown>) => fc.Arbitrary<INodeExecutionData>,
): fc.Arbitrary<INodeExecutionData[]> {
	return fc
		.array(hostileValue, { minLength: 40, maxLength: 40 })
		.chain((pool) =>
			fc.array(item(fc.constantFrom(...pool)), { minLength: ITEMS_PER_RUN, maxLength: ITEMS_PER_RUN }),
		);
}
