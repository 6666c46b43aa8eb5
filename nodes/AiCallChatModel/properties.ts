import type { INodeProperties } from 'n8n-workflow';

import { properties as aiCall } from '../AiCall/properties';
import { storeProperties } from '../shared/store';

/** The AI Call's parameters that mean the same for a chat model: one definition for both nodes. */
const SHARED = [
	'model',
	'timeoutPreset',
	'timeoutMs',
	'fallbacks',
	'useFallbackCredential',
	'circuitBreaker',
	'sharedLimit',
	'sharedLimitName',
	'sharedRequestsPerMinute',
	'sharedTokensPerMinute',
	'sharedMaxInFlight',
	'sharedMaxWaitSeconds',
	'budgets',
	'usageLedger',
];

/** The Options the chat model keeps: no output field, cache or drill (the agent owns its output). */
const OPTIONS = new Set([
	'temperature',
	'maxTokens',
	'stop',
	'maxRetries',
	'baseDelayMs',
	'maxDelayMs',
	'totalTimeoutMs',
	'maxConcurrency',
	'requestsPerMinute',
	'budgetUsd',
	'costTag',
	'priceOverrides',
	'usageEventDays',
	'breakerName',
	'breakerConsecutiveFailures',
	'breakerFailureRatePercent',
	'breakerMinCalls',
	'breakerWindowSeconds',
	'breakerCooldownSeconds',
]);

/** What a refusal or failure does here: the agent's call fails (the AI Call sends items to Failed). */
const DESCRIPTIONS: Record<string, string> = {
	timeoutPreset: "Time allowed for each of the agent's model calls (each attempt)",
	circuitBreaker:
		"Whether to stop calling a failing model for a cooldown (the agent's call fails as circuit_open at once), shared by all workers through the store",
	budgets:
		"Spend limits per period, held across executions and workers: each model call's worst case is reserved before it is sent, its real cost settled after. A spent budget fails the agent's call as budget_exceeded until it resets.",
	usageLedger:
		"Whether every model call of the agent (answered, failed or refused) is recorded with its tokens, cost and latency, for the AI Usage node's reports and cost per outcome",
};

const byName = new Map(aiCall.map((p) => [p.name, p]));
const options = byName.get('options')!;

export const properties: INodeProperties[] = [
	...SHARED.map((name) => {
		const p = byName.get(name)!;
		return DESCRIPTIONS[name] ? { ...p, description: DESCRIPTIONS[name] } : p;
	}),
	// one Store shown whenever something uses it (budgets alone use the default store unseen)
	...storeProperties(
		'the usage ledger, the budgets, the circuit breaker and the shared limit',
		'',
		[
			{ show: { circuitBreaker: [true] } },
			{ show: { circuitBreaker: [false], sharedLimit: [true] } },
			{ show: { circuitBreaker: [false], sharedLimit: [false], usageLedger: [true] } },
		],
		{ autoSince: 1 },
	),
	{
		...options,
		options: (options.options as INodeProperties[]).filter((o) => OPTIONS.has(o.name)),
	},
];
