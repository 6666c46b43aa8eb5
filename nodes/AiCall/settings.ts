import {
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeProperties,
} from 'n8n-workflow';

import { AiCallError, type FailureClass } from '../../lib/ai/failure';
import type { SharedLimitSettings } from '../../lib/ai/sharedLimit';
import { parseMessages, schemaValidator } from '../../lib/ai/request';
import {
	USES_MAX_COMPLETION_TOKENS,
	type AiRequest,
	type ChatMessage,
	type ResponseFormat,
} from '../../lib/ai/wire';
import { text } from '../../lib/values';
import { budgetScopeKey, budgetSpec, type BudgetUse, type BudgetValues } from '../shared/budget';
import { hasExpression, itemParameter, rawParameter } from '../shared/parameters';
import { properties } from './properties';

export { text };

/** What is sent when the user sets no Temperature or Max Tokens (an output cap is a cost control). */
export const DEFAULT_TEMPERATURE = 0.2;
export const DEFAULT_MAX_TOKENS = 1024;

/** Per-attempt timeout and default total budget of each use-case preset. */
export const TIMEOUT_PRESETS = {
	realtime: { attemptMs: 2_000, totalMs: 5_000 },
	interactive: { attemptMs: 15_000, totalMs: 60_000 },
	batch: { attemptMs: 30_000, totalMs: 180_000 },
} as const;

interface Options {
	temperature?: unknown;
	maxTokens?: unknown;
	stop?: unknown;
	maxRetries?: number;
	baseDelayMs?: number;
	maxDelayMs?: number;
	totalTimeoutMs?: number;
	maxConcurrency?: number;
	requestsPerMinute?: number;
	outputField?: unknown;
	outputMode?: 'merge' | 'resultOnly';
	costTag?: unknown;
	budgetUsd?: number;
	usageEventDays?: number;
	priceOverrides?: string | IDataObject;
	simulate?: 'off' | 'all' | 'percent' | 'expression';
	simulateClass?: FailureClass;
	simulatePercent?: number;
	simulateWhen?: boolean;
	cacheNamespace?: string;
	cacheTtlSeconds?: number;
	forceRefresh?: boolean;
	lastGoodRetentionHours?: number;
	breakerName?: string;
	breakerConsecutiveFailures?: number;
	breakerFailureRatePercent?: number;
	breakerMinCalls?: number;
	breakerWindowSeconds?: number;
	breakerCooldownSeconds?: number;
}

export interface FallbackSetting {
	model: string;
	credential: 'primary' | 'fallback';
	on: FailureClass[];
}

export interface ItemSettings {
	/**
	 * The item's own values cannot make a request (an empty user prompt, a prompt that is not text,
	 * an empty model from an expression, ...): the item goes to Failed with this error, without a
	 * call. Its request then has no messages, so that no call can be made from it either way.
	 */
	inputError?: AiCallError;
	model: string;
	request: AiRequest;
	validate?: (value: unknown) => string | undefined;
	attemptTimeoutMs: number;
	totalTimeoutMs: number;
	maxRetries: number;
	baseDelayMs: number;
	maxDelayMs: number;
	fallbacks: FallbackSetting[];
	costTag: string | null;
	outputField: string;
	outputMode: 'merge' | 'resultOnly';
	simulate: boolean;
	simulateClass: FailureClass;
	/** The user's cache key (Key Expression mode); otherwise the node hashes the request. */
	cacheKey?: string;
	cacheNamespace: string;
	cacheTtlMs: number;
	forceRefresh: boolean;
	lastGoodRetentionMs: number;
	/** The budgets this item counts against (Budgets), with their scope keys. */
	budgets: BudgetUse[];
}

/**
 * Settings that hold for the whole node run (read from the first item; a chat model sub-node reads
 * them for the root node's item it is asked for).
 */
export function readNodeSettings(ctx: IExecuteFunctions, i = 0) {
	const o = ctx.getNodeParameter('options', i, {}) as Options;
	return {
		responseCache: ctx.getNodeParameter('responseCache', i, 'off') as 'off' | 'exact' | 'key',
		keepLastGood: ctx.getNodeParameter('keepLastGood', i, false) as boolean,
		circuitBreaker: ctx.getNodeParameter('circuitBreaker', i, false) as boolean,
		breaker: {
			name: o.breakerName || undefined,
			consecutiveFailures: o.breakerConsecutiveFailures ?? 5,
			failureRate: (o.breakerFailureRatePercent ?? 50) / 100,
			minCalls: o.breakerMinCalls ?? 10,
			windowMs: (o.breakerWindowSeconds ?? 60) * 1000,
			cooldownMs: (o.breakerCooldownSeconds ?? 30) * 1000,
		},
		useFallbackCredential: ctx.getNodeParameter('useFallbackCredential', i, false) as boolean,
		maxConcurrency: Math.max(1, o.maxConcurrency ?? 5),
		requestsPerMinute: o.requestsPerMinute ?? 0,
		budgetUsd: o.budgetUsd ?? 0,
		priceOverrides: o.priceOverrides,
		sharedLimit: readSharedLimit(ctx, i),
		usageLedger: ctx.getNodeParameter('usageLedger', i, true) as boolean,
		usageEventTtlMs: Math.max(0.01, o.usageEventDays ?? 7) * 86_400_000,
	};
}

/** The shared limit's settings, or undefined when it is off; wrong numbers stop the node naming them. */
function readSharedLimit(ctx: IExecuteFunctions, i: number): SharedLimitSettings | undefined {
	if (!(ctx.getNodeParameter('sharedLimit', i, false) as boolean)) return undefined;
	const name = ctx.getNodeParameter('sharedLimitName', i, '') as unknown;
	const problem = (message: string) =>
		new NodeOperationError(ctx.getNode(), message, { itemIndex: i });
	if (typeof name !== 'string' || !name.trim())
		throw problem('"Limit Name" is empty: give the name every AI Call sharing the limit uses');
	const number = (parameter: string, label: string, fallback: number) => {
		const value = ctx.getNodeParameter(parameter, i, fallback) as unknown;
		if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
			throw problem(`"${label}" must be a number of 0 or more, got ${String(value)}`);
		return value;
	};
	const settings: SharedLimitSettings = {
		name: name.trim(),
		requestsPerMinute: number('sharedRequestsPerMinute', 'Requests per Minute (Shared)', 60),
		tokensPerMinute: number('sharedTokensPerMinute', 'Tokens per Minute (Shared)', 0),
		maxInFlight: Math.floor(number('sharedMaxInFlight', 'Calls in Flight (Shared)', 5)),
		maxWaitMs: number('sharedMaxWaitSeconds', 'Max Wait (Seconds)', 60) * 1000,
	};
	if (!settings.requestsPerMinute && !settings.tokensPerMinute && !settings.maxInFlight)
		throw problem(
			'The shared limit has no limit: set Requests per Minute, Tokens per Minute or Calls in Flight (Shared)',
		);
	return settings;
}

/**
 * Reads item i's settings; a configuration mistake throws an error naming the parameter and the item.
 * `chat`: the chat model sub-node, whose messages come from the agent, not from parameters.
 */
export function readItemSettings(ctx: IExecuteFunctions, i: number, chat = false): ItemSettings {
	const reader = readers.get(ctx) ?? createReaders(ctx, chat);
	readers.set(ctx, reader);
	try {
		return reader(i);
	} catch (error) {
		throw new NodeOperationError(ctx.getNode(), (error as Error).message, { itemIndex: i });
	}
}

const readers = new WeakMap<IExecuteFunctions, (i: number) => ItemSettings>();

function createReaders(ctx: IExecuteFunctions, chat: boolean): (i: number) => ItemSettings {
	/** The first of this item's unusable values; the item fails with it, the node goes on. */
	let problem: string | undefined;
	const itemProblem = (message: string) => {
		problem ??= message;
	};
	// A value that comes from an expression is the item's; a fixed one is the configuration's.
	const fromExpression = (name: string) => hasExpression(rawParameter(ctx, name));
	/**
	 * A parameter read per item. n8n's expression errors (e.g. parseJson() of text that is no
	 * JSON) name no field: an expression's error fails the item naming the field it came from.
	 */
	const p = <T>(name: string, fallback: T): ((i: number) => T) => {
		const read = itemParameter<T>(ctx, name, fallback);
		if (!fromExpression(name)) return read;
		return (i) => {
			try {
				return read(i);
			} catch (error) {
				itemProblem(
					`"${failingField(ctx, name, i)}" could not be read: ${(error as Error).message}`,
				);
				return fallback;
			}
		};
	};
	const model = p<unknown>('model', '');
	const promptType = p<'prompts' | 'messages'>('promptType', 'prompts');
	const systemPrompt = p<unknown>('systemPrompt', '');
	const userPrompt = p<unknown>('userPrompt', '');
	const messages = p<unknown>('messages', '[]');
	const responseFormat = p<ResponseFormat>('responseFormat', 'text');
	const jsonSchema = p<unknown>('jsonSchema', '{}');
	const preset = p<keyof typeof TIMEOUT_PRESETS | 'custom'>('timeoutPreset', 'interactive');
	const timeoutMs = p<unknown>('timeoutMs', 10_000);
	const fallbacks = p<{
		fallback?: Array<{ model: unknown; credential: 'primary' | 'fallback'; on: FailureClass[] }>;
	}>('fallbacks', {});
	const options = p<Options>('options', {});
	const cacheMode = p<'off' | 'exact' | 'key'>('responseCache', 'off');
	const cacheKey = p<unknown>('cacheKey', '');
	const budgets = p<{ budget?: BudgetValues[] }>('budgets', {});
	const budgetsAreExpression = fromExpression('budgets');
	const workflowId = String(ctx.getWorkflow().id ?? '');
	const timeZone = ctx.getTimezone();
	const modelIsExpression = fromExpression('model');
	const messagesAreExpression = fromExpression('messages');
	const fallbacksAreExpression = fromExpression('fallbacks');
	const schemaIsExpression = fromExpression('jsonSchema');

	return (i) => {
		problem = undefined;
		/** A value the item decides: its problem fails the item; a fixed value's stops the node. */
		const check = <T>(fixed: boolean, read: () => T, otherwise: T, field?: string): T => {
			try {
				return read();
			} catch (error) {
				let message = (error as Error).message;
				// n8n's own expression errors (e.g. a value too deep to copy) do not say which field
				if (field && !message.includes(`"${field}"`))
					message = `"${field}" could not be read: ${message}`;
				if (fixed) {
					throw new NodeOperationError(ctx.getNode(), message, { itemIndex: i });
				}
				itemProblem(message);
				return otherwise;
			}
		};
		const o = options(i) ?? {};

		const m = model(i);
		const modelName = check(
			!modelIsExpression,
			() => {
				const id = text(m && typeof m === 'object' ? (m as { value?: unknown }).value : m, 'Model');
				if (!id)
					throw new Error(
						`"Model" is empty${modelIsExpression ? ' for this item' : ''}: choose a model from the list or enter its ID`,
					);
				return id;
			},
			'',
		);

		let messageList: ChatMessage[] = [];
		if (chat) {
			// the agent's conversation, per call
		} else if (promptType(i) === 'messages') {
			messageList = check(!messagesAreExpression, () => parseMessages(messages(i)), [], 'Messages');
			if (!problem && !messageList.some((c) => c.role !== 'system' && c.content.trim())) {
				itemProblem(
					'"Messages" has no user or assistant message with text for this item: nothing to answer, no call was made',
				);
			}
		} else {
			const system = check(
				false,
				() => text(systemPrompt(i), 'System Prompt'),
				'',
				'System Prompt',
			);
			const user = check(false, () => text(userPrompt(i), 'User Prompt'), '', 'User Prompt');
			if (!problem && !user.trim()) {
				itemProblem(
					'"User Prompt" is empty for this item (e.g. {{ $json.text }} found no text): nothing to answer, no call was made',
				);
			}
			messageList = [
				...(system ? [{ role: 'system' as const, content: system }] : []),
				{ role: 'user', content: user },
			];
		}

		const format = chat ? 'text' : responseFormat(i);
		const schema =
			format === 'jsonSchema'
				? check(!schemaIsExpression, () => schemaValidator(jsonSchema(i)), undefined, 'JSON Schema')
				: undefined;
		/** A number option; a value from an expression that is no number fails the item. */
		const num = (value: unknown, field: string, fallback: number) =>
			check(false, () => numberOption(value, field), undefined) ?? fallback;
		let pre = preset(i);
		if (pre !== 'custom' && !Object.hasOwn(TIMEOUT_PRESETS, pre)) {
			itemProblem(
				`"Timeout" is "${String(pre).slice(0, 40)}" for this item: use realtime, interactive, batch or custom`,
			);
			pre = 'interactive';
		}
		const attemptTimeoutMs =
			pre === 'custom'
				? Math.max(1, num(timeoutMs(i), 'Timeout per Attempt (ms)', 10_000))
				: TIMEOUT_PRESETS[pre].attemptMs;
		const totalTimeoutMs =
			num(o.totalTimeoutMs, 'Total Time Budget (ms)', 0) ||
			(pre === 'custom' ? attemptTimeoutMs * 4 : TIMEOUT_PRESETS[pre].totalMs);

		const fb = check(
			!fallbacksAreExpression,
			() =>
				(fallbacks(i)?.fallback ?? []).map((f, n) => {
					const id = text(f.model, `Fallback Models" entry ${n + 1}: "Model`);
					if (!id) throw new Error(`"Fallback Models" entry ${n + 1}: the model is empty`);
					return { model: id, credential: f.credential ?? 'primary', on: f.on ?? [] };
				}),
			[],
		);

		const temperature = check(false, () => numberOption(o.temperature, 'Temperature'), undefined);
		const maxTokens = check(false, () => numberOption(o.maxTokens, 'Max Tokens'), undefined);
		const stop = check(false, () => stopSequences(o.stop), undefined);
		const costTag = check(false, () => text(o.costTag, 'Cost Tag'), '');
		const outputField = check(false, () => text(o.outputField, 'Put Result in Field'), '');
		const key =
			cacheMode(i) === 'key' ? check(false, () => keyText(cacheKey(i)), undefined) : undefined;

		const simulateMode = o.simulate ?? 'off';
		const simulate =
			simulateMode === 'all' ||
			(simulateMode === 'percent' &&
				Math.random() * 100 < num(o.simulatePercent, 'Simulated Percentage', 50)) ||
			(simulateMode === 'expression' && o.simulateWhen === true);

		// read before the result below, so that their problems reach inputError
		const maxRetries = Math.min(20, Math.max(0, num(o.maxRetries, 'Max Retries', 3)));
		const baseDelayMs = num(o.baseDelayMs, 'Retry Base Delay (ms)', 500);
		const maxDelayMs = num(o.maxDelayMs, 'Retry Max Delay (ms)', 30_000);
		const cacheTtlMs = num(o.cacheTtlSeconds, 'Cache TTL (Seconds)', 3600) * 1000;
		const lastGoodRetentionMs =
			num(o.lastGoodRetentionHours, 'Last Good Retention (Hours)', 168) * 3_600_000;

		// a budget's definition is the configuration's; which key an item counts against is the item's
		const uses = check(
			!budgetsAreExpression,
			() => (budgets(i)?.budget ?? []).map((v) => ({ v, spec: budgetSpec(v, timeZone) })),
			[],
		).flatMap(({ v, spec }) => {
			const scope = budgetScopeKey(v, { workflowId, costTag: costTag || null });
			if ('issue' in scope) {
				itemProblem(scope.issue);
				return [];
			}
			return [{ spec, scopeKey: scope.key }];
		});

		return {
			inputError: problem ? new AiCallError('bad_request', problem) : undefined,
			model: modelName,
			request: {
				model: modelName,
				messages: problem ? [] : messageList,
				temperature:
					temperature ??
					// OpenAI reasoning models accept no temperature but their own: the default is not sent to them
					(USES_MAX_COMPLETION_TOKENS.test(modelName) ? undefined : DEFAULT_TEMPERATURE),
				maxTokens: maxTokens ?? DEFAULT_MAX_TOKENS,
				stop,
				responseFormat: format,
				schema: schema?.schema,
			},
			validate: schema?.validate,
			attemptTimeoutMs,
			totalTimeoutMs: Math.max(totalTimeoutMs, 1),
			maxRetries,
			baseDelayMs,
			maxDelayMs,
			fallbacks: fb,
			costTag: costTag || null,
			outputField: outputField || 'ai',
			outputMode: o.outputMode ?? 'merge',
			simulate,
			simulateClass: o.simulateClass ?? 'simulated',
			cacheKey: key,
			cacheNamespace: o.cacheNamespace || 'ai-call',
			cacheTtlMs,
			forceRefresh: o.forceRefresh === true,
			lastGoodRetentionMs,
			budgets: uses,
		};
	};
}

/** The label of the field whose expression failed: an option inside Options is named itself. */
function failingField(ctx: IExecuteFunctions, name: string, i: number): string {
	const property = properties.find((p) => p.name === name);
	const raw = rawParameter(ctx, name);
	if (property?.type === 'collection' && raw && typeof raw === 'object') {
		for (const [key, value] of Object.entries(raw)) {
			if (!hasExpression(value)) continue;
			try {
				ctx.getNodeParameter(`${name}.${key}`, i);
			} catch {
				const option = (property.options as INodeProperties[]).find((o) => o.name === key);
				return option?.displayName ?? key;
			}
		}
	}
	return property?.displayName ?? name;
}

function numberOption(value: unknown, field: string): number | undefined {
	if (value === undefined || value === null || value === '') return undefined;
	const n = typeof value === 'string' ? Number(value.trim()) : value;
	if (typeof n === 'number' && Number.isFinite(n)) return n;
	throw new Error(`"${field}" is not a number for this item`);
}

function stopSequences(value: unknown): string[] | undefined {
	const list = Array.isArray(value)
		? value.map((v) => text(v, 'Stop Sequences'))
		: text(value, 'Stop Sequences').split(',');
	const stop = list.map((s) => s.trim()).filter(Boolean);
	return stop.length ? stop : undefined;
}

function keyText(value: unknown): string {
	const key = text(value, 'Cache Key');
	if (!key) {
		throw new Error(
			'"Cache Key" is empty for this item: the expression must give text or a number',
		);
	}
	return key;
}
