import { NodeOperationError, type IDataObject, type IExecuteFunctions } from 'n8n-workflow';

import type { FailureClass } from '../../lib/ai/failure';
import { parseMessages, schemaValidator } from '../../lib/ai/request';
import type { AiRequest, ChatMessage, ResponseFormat } from '../../lib/ai/wire';
import { itemParameter } from '../shared/parameters';

/** Per-attempt timeout and default total budget of each use-case preset. */
export const TIMEOUT_PRESETS = {
	realtime: { attemptMs: 2_000, totalMs: 5_000 },
	interactive: { attemptMs: 15_000, totalMs: 60_000 },
	batch: { attemptMs: 30_000, totalMs: 180_000 },
} as const;

interface Options {
	temperature?: number;
	maxTokens?: number;
	stop?: string;
	maxRetries?: number;
	baseDelayMs?: number;
	maxDelayMs?: number;
	totalTimeoutMs?: number;
	maxConcurrency?: number;
	requestsPerMinute?: number;
	outputField?: string;
	outputMode?: 'merge' | 'resultOnly';
	costTag?: string;
	budgetUsd?: number;
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
}

/** Settings that hold for the whole node run (read from the first item). */
export function readNodeSettings(ctx: IExecuteFunctions) {
	const o = ctx.getNodeParameter('options', 0, {}) as Options;
	return {
		responseCache: ctx.getNodeParameter('responseCache', 0, 'off') as 'off' | 'exact' | 'key',
		keepLastGood: ctx.getNodeParameter('keepLastGood', 0, false) as boolean,
		circuitBreaker: ctx.getNodeParameter('circuitBreaker', 0, false) as boolean,
		breaker: {
			name: o.breakerName || undefined,
			consecutiveFailures: o.breakerConsecutiveFailures ?? 5,
			failureRate: (o.breakerFailureRatePercent ?? 50) / 100,
			minCalls: o.breakerMinCalls ?? 10,
			windowMs: (o.breakerWindowSeconds ?? 60) * 1000,
			cooldownMs: (o.breakerCooldownSeconds ?? 30) * 1000,
		},
		useFallbackCredential: ctx.getNodeParameter('useFallbackCredential', 0, false) as boolean,
		maxConcurrency: Math.max(1, o.maxConcurrency ?? 5),
		requestsPerMinute: o.requestsPerMinute ?? 0,
		budgetUsd: o.budgetUsd ?? 0,
		priceOverrides: o.priceOverrides,
	};
}

/** Reads item i's settings; a configuration mistake throws an error naming the parameter and the item. */
export function readItemSettings(ctx: IExecuteFunctions, i: number): ItemSettings {
	const reader = readers.get(ctx) ?? createReaders(ctx);
	readers.set(ctx, reader);
	try {
		return reader(i);
	} catch (error) {
		throw new NodeOperationError(ctx.getNode(), (error as Error).message, { itemIndex: i });
	}
}

const readers = new WeakMap<IExecuteFunctions, (i: number) => ItemSettings>();

function createReaders(ctx: IExecuteFunctions): (i: number) => ItemSettings {
	const p = <T>(name: string, fallback?: T) => itemParameter<T>(ctx, name, fallback);
	const model = p<{ value?: string } | string>('model', '');
	const promptType = p<'prompts' | 'messages'>('promptType', 'prompts');
	const systemPrompt = p<string>('systemPrompt', '');
	const userPrompt = p<string>('userPrompt', '');
	const messages = p<unknown>('messages', '[]');
	const responseFormat = p<ResponseFormat>('responseFormat', 'text');
	const jsonSchema = p<unknown>('jsonSchema', '{}');
	const preset = p<keyof typeof TIMEOUT_PRESETS | 'custom'>('timeoutPreset', 'interactive');
	const timeoutMs = p<number>('timeoutMs', 10_000);
	const fallbacks = p<{
		fallback?: Array<{ model: string; credential: 'primary' | 'fallback'; on: FailureClass[] }>;
	}>('fallbacks', {});
	const options = p<Options>('options', {});
	const cacheMode = p<'off' | 'exact' | 'key'>('responseCache', 'off');
	const cacheKey = p<unknown>('cacheKey', '');

	return (i) => {
		const o = options(i);
		const m = model(i);
		const modelName = (typeof m === 'string' ? m : (m?.value ?? '')).trim();
		if (!modelName)
			throw new Error('"Model" is empty: choose a model from the list or enter its ID');

		let chat: ChatMessage[];
		if (promptType(i) === 'messages') {
			chat = parseMessages(messages(i));
		} else {
			const system = systemPrompt(i);
			const user = userPrompt(i);
			chat = [
				...(system ? [{ role: 'system' as const, content: String(system) }] : []),
				{
					role: 'user',
					content:
						user === undefined || user === null
							? ''
							: typeof user === 'string'
								? user
								: JSON.stringify(user),
				},
			];
		}

		const format = responseFormat(i);
		const schema = format === 'jsonSchema' ? schemaValidator(jsonSchema(i)) : undefined;
		const pre = preset(i);
		const attemptTimeoutMs =
			pre === 'custom' ? Math.max(1, timeoutMs(i)) : TIMEOUT_PRESETS[pre].attemptMs;
		const totalTimeoutMs =
			o.totalTimeoutMs || (pre === 'custom' ? attemptTimeoutMs * 4 : TIMEOUT_PRESETS[pre].totalMs);

		const fb = (fallbacks(i).fallback ?? []).map((f, n) => {
			if (!f.model?.trim()) {
				throw new Error(`"Fallback Models" entry ${n + 1}: the model is empty`);
			}
			return { model: f.model.trim(), credential: f.credential ?? 'primary', on: f.on ?? [] };
		});

		const simulateMode = o.simulate ?? 'off';
		const simulate =
			simulateMode === 'all' ||
			(simulateMode === 'percent' && Math.random() * 100 < (o.simulatePercent ?? 50)) ||
			(simulateMode === 'expression' && o.simulateWhen === true);

		return {
			model: modelName,
			request: {
				model: modelName,
				messages: chat,
				temperature: o.temperature,
				maxTokens: o.maxTokens,
				stop: o.stop
					? o.stop
							.split(',')
							.map((s) => s.trim())
							.filter(Boolean)
					: undefined,
				responseFormat: format,
				schema: schema?.schema,
			},
			validate: schema?.validate,
			attemptTimeoutMs,
			totalTimeoutMs: Math.max(totalTimeoutMs, 1),
			maxRetries: Math.min(20, Math.max(0, o.maxRetries ?? 3)),
			baseDelayMs: o.baseDelayMs ?? 500,
			maxDelayMs: o.maxDelayMs ?? 30_000,
			fallbacks: fb,
			costTag: o.costTag || null,
			outputField: o.outputField || 'ai',
			outputMode: o.outputMode ?? 'merge',
			simulate,
			simulateClass: o.simulateClass ?? 'simulated',
			cacheKey: cacheMode(i) === 'key' ? keyText(cacheKey(i)) : undefined,
			cacheNamespace: o.cacheNamespace || 'ai-call',
			cacheTtlMs: (o.cacheTtlSeconds ?? 3600) * 1000,
			forceRefresh: o.forceRefresh === true,
			lastGoodRetentionMs: (o.lastGoodRetentionHours ?? 168) * 3_600_000,
		};
	};
}

function keyText(value: unknown): string {
	if (value === undefined || value === null || value === '') {
		throw new Error(
			'"Cache Key" is empty for this item: the expression must give text or a number',
		);
	}
	return typeof value === 'string' ? value : JSON.stringify(value);
}
