import {
	NodeConnectionTypes,
	NodeOperationError,
	jsonParse,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import {
	hashFields,
	hashPayload,
	keyText,
	UnusableKeyError,
	parseFields,
	runGrouped,
	type Field,
} from '../../lib/idempotency';
import { StoreError } from '../../lib/stores/common';
import { type ClaimOutcome, type StateStore } from '../../lib/stores';
import { describeValue, readNumber } from '../../lib/values';
import { itemParameter } from '../shared/parameters';
import { openStore, storeCredentials } from '../shared/store';
import { properties } from './properties';

type Operation = 'claim' | 'complete' | 'release';

interface Options {
	onMissingKey?: 'error' | 'new';
	onStoreError?: 'failClosed' | 'failOpen';
	outputField?: string;
}

const CLAIM_OUTPUTS = ['New', 'Duplicate', 'In Progress', 'Conflict'];
const OUTPUT: Record<ClaimOutcome['outcome'], number> = {
	claimed: 0,
	completed: 1,
	in_progress: 2,
	conflict: 3,
};
const STATUS: Record<ClaimOutcome['outcome'], string> = {
	claimed: 'new',
	completed: 'duplicate',
	in_progress: 'in_progress',
	conflict: 'conflict',
};

const FAIL_OPEN_STATUS: Record<Operation, string> = {
	claim: 'new',
	complete: 'not_completed',
	release: 'not_released',
};

/** A stored time as ISO text; null for one no date can hold (a record written with absurd settings). */
const iso = (ms: number) =>
	Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : null;

/** Upper bounds that keep every lease and retention a real date: a year, and ten years. */
const MAX_LEASE_SECONDS = 365 * 86_400;
const MAX_RETENTION_HOURS = 10 * 8_760;

type Task = (i: number, target: { namespace: string; key: string }) => Promise<Emit>;

/** One output item: what goes out, or why it failed. */
type Emit = { output: number; idempotency: IDataObject } | { error: NodeOperationError };

export class IdempotencyGuard implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Idempotency Guard',
		name: 'idempotencyGuard',
		icon: { light: 'file:idempotencyGuard.svg', dark: 'file:idempotencyGuard.dark.svg' },
		group: ['transform'],
		// 1.1: Store defaults to Auto (1 keeps the Local File, so saved workflows keep their store)
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: '={{ $parameter["operation"] + " · " + $parameter["store"] }}',
		description:
			'Make duplicate webhook deliveries harmless: claim a key, replay the stored result to duplicates',
		defaults: { name: 'Idempotency Guard' },
		usableAsTool: undefined, // not an agent tool (no "… Tool" variant): that needs its own design and tests
		inputs: [NodeConnectionTypes.Main],
		// Claim routes to four outputs, Complete and Release pass items on through one.
		outputs: `={{ ["complete", "release"].includes($parameter["operation"]) ? ["${NodeConnectionTypes.Main}"] : ${JSON.stringify(
			CLAIM_OUTPUTS.map((displayName) => ({ type: NodeConnectionTypes.Main, displayName })),
		)} }}`,
		credentials: storeCredentials,
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const operation = this.getNodeParameter('operation', 0) as Operation;
		const outputs: INodeExecutionData[][] = CLAIM_OUTPUTS.slice(
			0,
			operation === 'claim' ? 4 : 1,
		).map(() => []);
		if (!items.length) return outputs;

		const store = await openStore(this);
		const options = itemParameter<Options>(this, 'options', {});
		const namespace = itemParameter<unknown>(this, 'namespace');
		const fieldOf = (i: number) => options(i).outputField || 'idempotency';
		const failOpen = (i: number) => options(i).onStoreError === 'failOpen';

		const fail = (i: number, message: string, description?: string) => {
			const text = `Item ${i}: ${message}`;
			const error = new NodeOperationError(this.getNode(), text, { itemIndex: i, description });
			// n8n swaps a message mentioning ECONNREFUSED & co. for a generic one; keep the store's name in it.
			error.message = text;
			return error;
		};

		/** Namespace and key of item i (key undefined when missing); wrong settings throw naming the item. */
		let keyOf: (i: number) => string | undefined;
		if (operation === 'claim') {
			const keyFrom = this.getNodeParameter('keyFrom', 0) as 'expression' | 'fields' | 'payload';
			const keyParam = keyFrom === 'expression' ? itemParameter<unknown>(this, 'key') : undefined;
			const keyFields =
				keyFrom === 'fields' ? fieldList(this, 'keyFields', 'Key Fields') : undefined;
			keyOf = (i) =>
				keyFrom === 'payload'
					? hashPayload(items[i].json)
					: keyFrom === 'fields'
						? hashFields(items[i].json, keyFields!(i))
						: keyText(keyParam!(i));
		} else {
			const keyParam = itemParameter<unknown>(this, 'key');
			keyOf = (i) => keyText(keyParam(i));
		}

		interface Target {
			namespace: string;
			key?: string;
			/** Why the item's key value is no key (it is then treated as missing). */
			keyIssue?: string;
		}
		const targets: Array<Target | Error> = items.map((_, i) => {
			let ns: string | undefined;
			try {
				ns = keyText(namespace(i), 'namespace');
			} catch (error) {
				return error as Error;
			}
			if (!ns) return new Error('the namespace is empty (set "Namespace")');
			try {
				return { namespace: ns, key: keyOf(i) };
			} catch (error) {
				if (!(error instanceof UnusableKeyError)) return error as Error;
				// a hostile key value (a list, NaN, an object, a payload that cannot be hashed) is no key
				return { namespace: ns, keyIssue: `"Key": ${(error as Error).message}` };
			}
		});

		const task =
			operation === 'claim'
				? claimTask(this, items, store, fail)
				: operation === 'complete'
					? completeTask(this, items, store, fieldOf, fail)
					: releaseTask(this, store);

		// Items inside one batch with the same namespace and key run in order (the later ones see the claim).
		const newInBatch = new Set<string>();
		const group = (i: number) => {
			const t = targets[i];
			return t instanceof Error || t.key === undefined
				? undefined
				: JSON.stringify([t.namespace, t.key]);
		};
		const settled = await runGrouped(items.length, group, async (i): Promise<Emit> => {
			const t = targets[i];
			if (t instanceof Error) return { error: fail(i, t.message) };
			if (t.key === undefined) return missingKey(i, t.namespace, t.keyIssue);
			const base = { key: t.key, namespace: t.namespace, store: store.kind };
			try {
				const emit = await task(i, { namespace: t.namespace, key: t.key });
				if ('error' in emit) return emit;
				if (emit.output === 0 && operation === 'claim') newInBatch.add(group(i)!);
				return { output: emit.output, idempotency: { ...base, ...emit.idempotency } };
			} catch (error) {
				if (!(error instanceof StoreError)) return { error: fail(i, (error as Error).message) };
				if (!failOpen(i))
					return {
						error: fail(
							i,
							`the state store failed, so the item was stopped (fail closed). ${error.message}`,
							'Check that the store is reachable, or set "Store Unreachable" to "Fail Open" to let items through flagged.',
						),
					};
				// Fail open, but a key already let through in this batch still counts as in progress.
				const again = operation === 'claim' && newInBatch.has(group(i)!);
				if (operation === 'claim' && !again) newInBatch.add(group(i)!);
				return {
					output: again ? OUTPUT.in_progress : 0,
					idempotency: {
						...base,
						status: again ? 'in_progress' : FAIL_OPEN_STATUS[operation],
						failOpen: true,
						error: error.message,
					},
				};
			}
		});

		function missingKey(i: number, ns: string, issue?: string): Emit {
			const what = issue
				? `no idempotency key: ${issue}`
				: operation === 'claim'
					? 'no idempotency key: the key is empty or the chosen fields hold no value'
					: `no key to ${operation}: "Key" is empty`;
			if (operation === 'claim' && options(i).onMissingKey === 'new')
				return {
					output: 0,
					idempotency: {
						status: 'new',
						key: null,
						namespace: ns,
						warning: 'missing_key',
						message: what,
					},
				};
			return {
				error: fail(
					i,
					what,
					operation === 'claim'
						? 'Send the item to an HTTP 400 response through the error output (Settings → On Error), or set "Missing Key" to "Send to New With a Warning".'
						: 'Pass the key the Claim gave out, e.g. {{ $("Idempotency Guard").item.json.idempotency.key }}.',
				),
			};
		}

		for (let i = 0; i < items.length; i++) {
			const result = settled[i];
			const emit: Emit = result.ok
				? result.value
				: { error: fail(i, (result.error as Error).message) };
			if ('error' in emit) {
				if (!this.continueOnFail()) throw emit.error;
				// n8n moves items with `error` to the error output ("Continue (using error output)").
				outputs[0].push({
					json: { ...items[i].json, error: emit.error.message },
					error: emit.error,
					pairedItem: { item: i },
				});
				continue;
			}
			const field = fieldOf(i);
			const previous = items[i].json[field];
			const carried =
				previous && typeof previous === 'object' && operation !== 'claim' ? previous : {};
			outputs[emit.output].push({
				json: { ...items[i].json, [field]: { ...(carried as IDataObject), ...emit.idempotency } },
				binary: items[i].binary,
				pairedItem: { item: i },
			});
		}
		return outputs;
	}
}

/** A comma-separated path list parameter, parsed once per distinct value. */
function fieldList(ctx: IExecuteFunctions, name: string, label: string): (i: number) => Field[] {
	const raw = itemParameter<string>(ctx, name, '');
	let last: string | undefined;
	let parsed: Field[] = [];
	return (i) => {
		const text = raw(i);
		if (text !== last) {
			parsed = parseFields(text, label);
			last = text;
		}
		return parsed;
	};
}

function claimTask(
	ctx: IExecuteFunctions,
	items: INodeExecutionData[],
	store: StateStore,
	fail: (i: number, message: string) => NodeOperationError,
): Task {
	const fingerprintFrom = ctx.getNodeParameter('fingerprintFrom', 0) as
		| 'payload'
		| 'fields'
		| 'none';
	const fields =
		fingerprintFrom === 'fields'
			? fieldList(ctx, 'fingerprintFields', 'Fingerprint Fields')
			: undefined;
	const leaseSeconds = itemParameter<number>(ctx, 'leaseSeconds', 300);

	return async (i, { namespace, key }) => {
		const raw = leaseSeconds(i);
		const lease = readNumber(raw);
		if (lease === undefined || !(lease > 0) || lease > MAX_LEASE_SECONDS)
			return {
				error: fail(
					i,
					`"Lease (Seconds)" must be more than 0 and at most ${MAX_LEASE_SECONDS} (a year), got ${describeValue(raw)}`,
				),
			};
		const fingerprint =
			fingerprintFrom === 'payload'
				? hashPayload(items[i].json)
				: fingerprintFrom === 'fields'
					? hashFields(items[i].json, fields!(i))
					: undefined;
		const { outcome, record } = await store.claim(namespace, key, {
			leaseMs: lease * 1000,
			fingerprint,
		});
		const out: IDataObject = { status: STATUS[outcome], firstSeenAt: iso(record.createdAt) };
		if (outcome === 'claimed') {
			out.token = record.token;
			out.leaseExpiresAt = iso(record.expiresAt);
		} else if (outcome === 'in_progress') {
			out.leaseExpiresAt = iso(record.expiresAt);
		} else if (outcome === 'completed') {
			out.retainedUntil = iso(record.expiresAt);
			out.result = record.result as IDataObject;
		} else {
			// The other request's result is not shown to a request with another payload.
			out.storedStatus = record.status;
		}
		return { output: OUTPUT[outcome], idempotency: out };
	};
}

function completeTask(
	ctx: IExecuteFunctions,
	items: INodeExecutionData[],
	store: StateStore,
	fieldOf: (i: number) => string,
	fail: (i: number, message: string) => NodeOperationError,
): Task {
	const resultFrom = ctx.getNodeParameter('resultFrom', 0) as 'item' | 'expression';
	const resultParam =
		resultFrom === 'expression' ? itemParameter<unknown>(ctx, 'result') : undefined;
	const resultIsExpression = String(ctx.getNode().parameters.result ?? '').startsWith('=');
	const retentionHours = itemParameter<number>(ctx, 'retentionHours', 24);
	const token = itemParameter<unknown>(ctx, 'claimId', '');

	return async (i, { namespace, key }) => {
		const rawHours = retentionHours(i);
		const hours = readNumber(rawHours);
		if (hours === undefined || !(hours > 0) || hours > MAX_RETENTION_HOURS)
			return {
				error: fail(
					i,
					`"Retention (Hours)" must be more than 0 and at most ${MAX_RETENTION_HOURS} (ten years), got ${describeValue(rawHours)}`,
				),
			};
		let result: unknown;
		if (resultParam) {
			result = resultParam(i);
			// A JSON literal typed into the field arrives as text; an expression's value is kept as it is.
			if (!resultIsExpression && typeof result === 'string')
				result = jsonParse(result, { errorMessage: '"Result" is not valid JSON' });
		} else {
			const item = { ...items[i].json };
			delete item[fieldOf(i)];
			result = item;
		}
		const retentionMs = Math.round(hours * 3_600_000);
		const rawToken = token(i);
		const ownToken =
			typeof rawToken === 'string' || typeof rawToken === 'number'
				? String(rawToken) || undefined
				: undefined;
		try {
			JSON.stringify(result);
		} catch (error) {
			// the item's own value cannot be kept: the key stays claimed until its lease ends, then a retry runs
			return {
				output: 0,
				idempotency: {
					status: 'not_completed',
					completed: false,
					warning: `"Result" cannot be stored as JSON (${(error as Error).message}), so the key was not completed`,
				},
			};
		}
		const completed = await store.complete(namespace, key, {
			result,
			retentionMs,
			token: ownToken,
		});
		return {
			output: 0,
			idempotency: completed
				? { status: 'completed', completed, retainedUntil: iso(Date.now() + retentionMs) }
				: {
						status: 'not_completed',
						completed,
						warning:
							'another execution holds the claim on this key (the lease ran out and the key was claimed again), so the result was not stored',
					},
		};
	};
}

function releaseTask(ctx: IExecuteFunctions, store: StateStore): Task {
	const token = itemParameter<unknown>(ctx, 'claimId', '');
	return async (i, { namespace, key }) => {
		const released = await store.release(namespace, key, {
			token: String(token(i) ?? '') || undefined,
		});
		return {
			output: 0,
			idempotency: { status: released ? 'released' : 'not_released', released },
		};
	};
}
