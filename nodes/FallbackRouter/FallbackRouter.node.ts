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
	buildTable,
	readNumber,
	parseStrategies,
	readAttempts,
	readFailure,
	rotation,
	route,
	withPath,
	type CacheLookup,
	type Decision,
	type Rule,
	type Strategy,
	type StrategyTable,
} from '../../lib/fallback';
import { readCached } from '../../lib/ai/cache';
import { CallLimiter } from '../../lib/limit';
import { getPath } from '../../lib/path';
import type { StateStore } from '../../lib/stores';
import { itemParameter } from '../shared/parameters';
import { openStore, storeCredentials } from '../shared/store';
import { properties } from './properties';

const OUTPUT: Record<Strategy, number> = { cached: 0, queue: 1, human: 2, degraded: 3 };

interface Options {
	answerField?: string;
	attemptsField?: string;
	cacheKey?: unknown;
	cacheNamespace?: unknown;
	maxRequeues?: number;
	onMissingError?: 'error' | 'human';
	outputField?: string;
	queueBaseSeconds?: number;
	queueMaxSeconds?: number;
}

/** Namespace or key as the AI Call wrote it: text or a number, exactly (no trimming). */
const cacheText = (value: unknown): string | undefined =>
	typeof value === 'string'
		? value || undefined
		: typeof value === 'number'
			? String(value)
			: undefined;

export class FallbackRouter implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Fallback Router',
		name: 'fallbackRouter',
		icon: { light: 'file:fallbackRouter.svg', dark: 'file:fallbackRouter.dark.svg' },
		group: ['transform'],
		// 1.1: Store defaults to Auto (1 keeps the Local File, so saved workflows keep their store)
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: '={{ $parameter["routing"] === "custom" ? "custom rules" : "default table" }}',
		description:
			'When an AI call fails, serve a cached answer, queue the item for later, hand it to a person or answer degraded, by the kind of failure',
		defaults: { name: 'Fallback Router' },
		usableAsTool: undefined, // not an agent tool (no "… Tool" variant): that needs its own design and tests
		inputs: [NodeConnectionTypes.Main],
		outputs: [
			NodeConnectionTypes.Main,
			NodeConnectionTypes.Main,
			NodeConnectionTypes.Main,
			NodeConnectionTypes.Main,
		],
		outputNames: ['Cached', 'Queue', 'Human', 'Degraded'],
		credentials: storeCredentials,
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const outputs: INodeExecutionData[][] = [[], [], [], []];
		if (!items.length) return outputs;
		const node = this.getNode();

		const fail = (i: number, message: string, description?: string) =>
			new NodeOperationError(node, `Item ${i}: ${message}`, { itemIndex: i, description });
		/** Reads a parameter for item i; an expression that throws names the parameter and the item. */
		const param = <T>(name: string, label: string, fallback?: T) => {
			const read = itemParameter<T>(this, name, fallback);
			return (i: number): T => {
				try {
					return read(i);
				} catch (error) {
					throw fail(i, `"${label}": ${(error as Error).message}`);
				}
			};
		};

		const options = param<Options>('options', 'Options', {});
		const errorField = param<string>('errorField', 'Error Field', 'error');
		const custom = this.getNodeParameter('routing', 0) === 'custom';
		const rules = custom ? param<{ rule?: Rule[] }>('rules', 'Rules', {}) : undefined;
		const drill = this.getNodeParameter('drill', 0) as 'rotate' | 'list';
		const drillList =
			drill === 'list' ? param<unknown>('drillStrategies', 'Drill Strategy List', '') : undefined;
		const degradedText = param<unknown>('degradedText', 'Degraded Answer', '');
		const degradedJson = param<unknown>('degradedJson', 'Degraded JSON', '');
		const jsonIsExpression = String(node.parameters.degradedJson ?? '').startsWith('=');

		// Custom rules are parsed once per distinct value (they hold expressions only rarely).
		let lastRules: string | undefined;
		let table: StrategyTable = buildTable([]);
		const tableFor = (i: number): StrategyTable => {
			if (!rules) return table;
			const value = rules(i).rule ?? [];
			const text = JSON.stringify(value);
			if (text !== lastRules) {
				try {
					table = buildTable(value);
				} catch (error) {
					throw fail(i, (error as Error).message, 'Fix the rules of "Routing: Custom".');
				}
				lastRules = text;
			}
			return table;
		};

		// Opened once, and only when an item gets as far as the Cached strategy.
		let store: Promise<StateStore> | undefined;
		const lookup = async (namespace?: string, key?: string): Promise<CacheLookup> => {
			if (!namespace || !key) return { outcome: 'no_cache_key' };
			try {
				store ??= openStore(this);
				const found = await readCached(await store, { namespace, key });
				return found ? { found } : { outcome: 'not_found' };
			} catch (error) {
				// A fallback must not fail when the store does: the next strategy serves the item.
				return { outcome: 'store_unreachable', detail: (error as Error).message };
			}
		};

		const degradedAnswer = (i: number): IDataObject => {
			const text = degradedText(i);
			const answer: IDataObject = {
				text: typeof text === 'string' ? text : text == null ? '' : JSON.stringify(text),
				degraded: true,
				cached: false,
			};
			let json = degradedJson(i);
			if (typeof json === 'string' && !jsonIsExpression) {
				if (!json.trim()) return answer;
				try {
					json = jsonParse(json);
				} catch {
					throw fail(i, '"Degraded JSON" is not valid JSON'); // a fixed value: configuration
				}
			}
			// `{}` (the default: the editor's JSON field marks an empty text as invalid) means none
			const none =
				json === undefined ||
				json === null ||
				json === '' ||
				(typeof json === 'object' && !Array.isArray(json) && Object.keys(json).length === 0);
			if (!none) answer.json = json as IDataObject;
			return answer;
		};

		const decide = async (i: number): Promise<[number, INodeExecutionData]> => {
			const o = options(i);
			const path = errorField(i) || 'error';
			const attemptsField = o.attemptsField || 'fallback.queueAttempts';
			const outputField = o.outputField || 'fallback';
			// read without calling an item value's own toString/valueOf (they may throw)
			const count = (label: string, raw: unknown, otherwise: number): number => {
				const n = raw === undefined ? otherwise : readNumber(raw);
				if (n === undefined || n < 0)
					throw fail(
						i,
						`"${label}" must be 0 or more, got ${typeof raw === 'object' || typeof raw === 'function' ? 'an object' : String(raw)}`,
					);
				return n;
			};
			const maxRequeues = count('Max Re-Queues', o.maxRequeues, 5);
			const baseSeconds = count('Queue Base Delay (Seconds)', o.queueBaseSeconds, 60);
			const maxSeconds = count('Queue Max Delay (Seconds)', o.queueMaxSeconds, 3600);

			let errorValue: unknown;
			try {
				errorValue = getPath(items[i].json, path).value;
			} catch (error) {
				throw fail(i, `"Error Field": ${(error as Error).message}`);
			}
			const failure = readFailure(errorValue);
			const now = Date.now();
			let decision: Decision;
			if (!failure) {
				if (o.onMissingError !== 'human')
					throw fail(
						i,
						`no error object in field "${path}"`,
						'Connect the AI Call\'s Failed output, set "Error Field", or set "Missing Error Object" to "Send to Human".',
					);
				decision = {
					strategy: 'human',
					code: 'no_error_object',
					reason: `no error object in field "${path}"; a person decides`,
					tried: [{ strategy: 'human', outcome: 'used' }],
				};
			} else {
				let strategies: readonly Strategy[];
				try {
					strategies =
						failure.class !== 'simulated'
							? (tableFor(i).get(failure.class) ?? ['human'])
							: drillList
								? parseStrategies(drillList(i), '"Drill Strategy List"')
								: rotation(i);
				} catch (error) {
					throw error instanceof NodeOperationError ? error : fail(i, (error as Error).message);
				}
				// The AI Call names its cache entry in the error; options override (items from elsewhere).
				const cache = (errorValue as IDataObject).cache as IDataObject | undefined;
				decision = await route(
					{
						class: failure.class,
						strategies,
						retryAfterMs: failure.retryAfterMs,
						queueAttempts: readAttempts(items[i].json, attemptsField),
						maxRequeues,
						backoff: { baseMs: baseSeconds * 1000, maxMs: maxSeconds * 1000 },
						now,
					},
					async () =>
						await lookup(
							cacheText('cacheNamespace' in o ? o.cacheNamespace : cache?.namespace),
							cacheText('cacheKey' in o ? o.cacheKey : cache?.key),
						),
				);
			}

			const fallback: IDataObject = {
				strategy: decision.strategy,
				code: decision.code,
				reason: decision.reason,
				class: failure?.class ?? null,
				tried: decision.tried as unknown as IDataObject[],
				at: new Date(now).toISOString(),
			};
			if (failure) fallback.failure = failure.summary as IDataObject;
			if (decision.retryAt !== undefined) {
				fallback.retryAt = new Date(decision.retryAt).toISOString();
				fallback.retryInMs = decision.retryInMs;
			}
			let json: IDataObject = { ...items[i].json };
			let degraded: IDataObject | undefined;
			if (decision.strategy === 'degraded') {
				try {
					degraded = degradedAnswer(i);
				} catch (error) {
					// eslint-disable-next-line @n8n/community-nodes/require-node-api-error -- already names the item
					if (error instanceof NodeOperationError) throw error;
					// the item's own value cannot be an answer: a person decides instead
					decision = {
						strategy: 'human',
						code: 'needs_person',
						reason: `"Degraded Answer" could not be made from this item (${(error as Error).message}); a person decides`,
						tried: [...decision.tried, { strategy: 'human', outcome: 'used' }],
					};
					fallback.strategy = 'human';
					fallback.code = decision.code;
					fallback.reason = decision.reason;
					fallback.tried = decision.tried as unknown as IDataObject[];
				}
			}
			if (decision.strategy === 'cached' || decision.strategy === 'degraded') {
				// Served: the item reads like an AI Call success; the failure stays in fallback.failure.
				json = withPath(json, path, undefined) as IDataObject;
				json[o.answerField || 'ai'] =
					decision.strategy === 'cached'
						? { ...decision.cached!.value, cached: true, stale: decision.cached!.stale }
						: degraded!;
			}
			json[outputField] = fallback;
			if (decision.queueAttempts !== undefined) {
				try {
					json = withPath(json, attemptsField, decision.queueAttempts) as IDataObject;
				} catch (error) {
					throw fail(i, `"Queue Attempts Field": ${(error as Error).message}`);
				}
			}
			const out: INodeExecutionData = { json, pairedItem: { item: i } };
			if (items[i].binary) out.binary = items[i].binary;
			return [OUTPUT[decision.strategy], out];
		};

		// Store reads overlap; every item leaves on one output, in input order.
		const limiter = new CallLimiter(16);
		const settled = await Promise.allSettled(items.map((_, i) => limiter.run(() => decide(i))));
		for (const [i, result] of settled.entries()) {
			if (result.status === 'fulfilled') {
				outputs[result.value[0]].push(result.value[1]);
				continue;
			}
			const error =
				result.reason instanceof NodeOperationError
					? result.reason
					: fail(i, (result.reason as Error).message);
			if (!this.continueOnFail()) throw error;
			// "Continue (using error output)": n8n moves items with `error` there from any output.
			// "Continue (using regular output)": Human, the one output that serves no answer.
			outputs[OUTPUT.human].push({
				json: { ...items[i].json, error: error.message },
				error,
				pairedItem: { item: i },
			});
		}
		return outputs;
	}
}
