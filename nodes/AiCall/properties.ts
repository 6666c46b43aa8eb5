import type { INodeProperties } from 'n8n-workflow';

import { FAILURE_CLASSES, TRANSIENT } from '../../lib/ai/failure';
import { budgetFields } from '../shared/budget';
import { storeProperties } from '../shared/store';

const classOptions = FAILURE_CLASSES.filter(
	(c) => c !== 'circuit_open' && c !== 'budget_exceeded',
).map((c) => ({
	name: c,
	value: c,
}));

const CACHE_ON = { '/responseCache': ['exact', 'key'] };
const BREAKER_ON = { '/circuitBreaker': [true] };
const SHARED_ON = { show: { sharedLimit: [true] } };

/**
 * The AI Call's parameters, as the editor shows them: what every user sets first (model, prompt,
 * response format, timeout), then fallbacks and the store-backed features, then one Options
 * collection in groups (model settings, output, retries, limits, cost, cache, breaker, drill).
 * The editor keeps this order in "Add Option"; options of a feature that is off are not offered.
 * No parameter here is named in a credential's displayOptions without a leading "/": the editor
 * draws the credentials above the last parameter they name, and they belong at the top.
 */
export const properties: INodeProperties[] = [
	{
		displayName: 'Model',
		name: 'model',
		type: 'resourceLocator',
		default: { mode: 'list', value: 'gpt-4o-mini' },
		required: true,
		description:
			"The model to call: from the provider's model list, or its ID (e.g. claude-sonnet-4-5 for Anthropic)",
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				typeOptions: { searchListMethod: 'searchModels', searchable: true },
			},
			{ displayName: 'ID', name: 'id', type: 'string', placeholder: 'gpt-4o-mini' },
		],
	},
	{
		displayName: 'Prompt',
		name: 'promptType',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'System and User Prompt', value: 'prompts' },
			{
				name: 'Messages Array',
				value: 'messages',
				description: 'A list of {role, content}, e.g. a conversation',
			},
		],
		default: 'prompts',
	},
	{
		displayName: 'System Prompt',
		name: 'systemPrompt',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		placeholder: 'You classify incoming documents.',
		description: 'Instructions for the model. Optional.',
		displayOptions: { show: { promptType: ['prompts'] } },
	},
	{
		displayName: 'User Prompt',
		name: 'userPrompt',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '={{ $json.text }}',
		description:
			'What the model answers. An item whose prompt is empty goes to Failed (bad_request) without a call. Objects are sent as JSON.',
		displayOptions: { show: { promptType: ['prompts'] } },
	},
	{
		displayName: 'Messages',
		name: 'messages',
		type: 'json',
		default:
			'[\n  { "role": "system", "content": "You are helpful." },\n  { "role": "user", "content": "Hello" }\n]',
		description:
			'Roles: system, user, assistant. Expressions allowed, e.g. a conversation from the item.',
		displayOptions: { show: { promptType: ['messages'] } },
	},
	{
		displayName: 'Response Format',
		name: 'responseFormat',
		type: 'options',
		options: [
			{ name: 'Text', value: 'text' },
			{
				name: 'JSON',
				value: 'json',
				// eslint-disable-next-line n8n-nodes-base/node-param-description-miscased-json -- the field is named ai.json
				description: 'The answer must be JSON; it is parsed into ai.json',
			},
			{
				name: 'JSON Matching a Schema',
				value: 'jsonSchema',
				description:
					'A reply that fails the schema is retried once with a repair request, then fails as invalid_output',
			},
		],
		default: 'text',
	},
	{
		displayName: 'JSON Schema',
		name: 'jsonSchema',
		type: 'json',
		default:
			'{\n  "type": "object",\n  "properties": {\n    "category": { "type": "string" },\n    "confidence": { "type": "number" }\n  },\n  "required": ["category"]\n}',
		displayOptions: { show: { responseFormat: ['jsonSchema'] } },
	},
	{
		displayName: 'Timeout',
		name: 'timeoutPreset',
		type: 'options',
		// fastest to slowest, then your own
		options: [
			{
				name: 'Real-Time (2s)',
				value: 'realtime',
				description: 'Inline suggestions; needs a fast model',
			},
			{ name: 'Interactive (15s)', value: 'interactive', description: 'A user waits on a screen' },
			{ name: 'Batch (30s)', value: 'batch', description: 'Background work, queues' },
			{ name: 'Custom', value: 'custom' },
		],
		default: 'interactive',
		description: 'Time allowed for each attempt',
	},
	{
		// eslint-disable-next-line n8n-nodes-base/node-param-display-name-miscased -- ms is a unit
		displayName: 'Timeout per Attempt (ms)',
		name: 'timeoutMs',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 10000,
		displayOptions: { show: { timeoutPreset: ['custom'] } },
	},
	{
		displayName: 'Fallback Models',
		name: 'fallbacks',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Fallback Model',
		default: {},
		description: 'Tried in order after the model fails, each only on the failure classes you pick',
		options: [
			{
				displayName: 'Fallback',
				name: 'fallback',
				values: [
					{
						displayName: 'Model',
						name: 'model',
						type: 'string',
						default: '',
						placeholder: 'gpt-4.1',
					},
					{
						displayName: 'On Failure Classes',
						name: 'on',
						type: 'multiOptions',
						options: classOptions,
						default: [...TRANSIENT],
						description: 'E.g. context_length → a model with a larger window.',
					},
					{
						displayName: 'Credential',
						name: 'credential',
						type: 'options',
						options: [
							{ name: 'Same as the Model', value: 'primary' },
							{ name: 'AI Service API (Fallback)', value: 'fallback' },
						],
						default: 'primary',
					},
				],
			},
		],
	},
	{
		displayName: 'Fallbacks Use Another Credential',
		name: 'useFallbackCredential',
		type: 'boolean',
		default: false,
		description:
			'Whether fallback models may use a second credential ("AI Service API (Fallback)"), e.g. another provider',
	},
	{
		displayName: 'Response Cache',
		name: 'responseCache',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'Off', value: 'off' },
			{
				name: 'Same Request',
				value: 'exact',
				description: 'Exact match on provider, model, messages and parameters',
			},
			{
				name: 'Key Expression',
				value: 'key',
				description: 'Your own key, e.g. a document ID and version',
			},
		],
		default: 'off',
		description: 'Answer repeated requests from the store: no call, no cost, cached: true',
	},
	{
		displayName: 'Cache Key',
		name: 'cacheKey',
		type: 'string',
		default: '={{ $json.id }}',
		displayOptions: { show: { responseCache: ['key'] } },
	},
	{
		displayName: 'Keep Last Good Answers',
		name: 'keepLastGood',
		type: 'boolean',
		default: false,
		description:
			'Whether to keep each success per request (the cache key) for the Fallback Router to serve when the AI fails later',
	},
	{
		displayName: 'Circuit Breaker',
		name: 'circuitBreaker',
		type: 'boolean',
		default: false,
		description:
			'Whether to stop calling a failing model for a cooldown (items go to Failed as circuit_open), shared by all workers through the store',
	},
	{
		displayName: 'Shared Limit',
		name: 'sharedLimit',
		type: 'boolean',
		default: false,
		description:
			'Whether calls wait for room in a named limit that every AI Call naming it shares, across executions and workers (through the store)',
	},
	{
		displayName: 'Limit Name',
		name: 'sharedLimitName',
		type: 'string',
		default: 'ai-service',
		required: true,
		description:
			'AI Calls that give the same name share the limit (e.g. one per provider account); give them the same numbers',
		displayOptions: SHARED_ON,
	},
	{
		displayName: 'Requests per Minute (Shared)',
		name: 'sharedRequestsPerMinute',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 60,
		description:
			'Calls started per minute by everyone naming the limit, paced evenly (retries count). 0: no limit.',
		displayOptions: SHARED_ON,
	},
	{
		displayName: 'Tokens per Minute (Shared)',
		name: 'sharedTokensPerMinute',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description:
			'Estimated before each call (prompt characters ÷ 4 plus Max Tokens), settled with the real count after. 0: no limit.',
		displayOptions: SHARED_ON,
	},
	{
		displayName: 'Calls in Flight (Shared)',
		name: 'sharedMaxInFlight',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 0 },
		default: 5,
		description:
			"Calls running at once for everyone naming the limit; a crashed worker's calls give their room back after the attempt timeout. 0: no limit.",
		displayOptions: SHARED_ON,
	},
	{
		displayName: 'Max Wait (Seconds)',
		name: 'sharedMaxWaitSeconds',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 60,
		description:
			'Longest a call waits for room; then the item goes to Failed as rate_limited with retryAfterMs, and no call is made (the Fallback Router can queue it)',
		displayOptions: SHARED_ON,
	},
	{
		displayName: 'Budgets',
		name: 'budgets',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		placeholder: 'Add Budget',
		default: {},
		description:
			"Spend limits per period, held across executions and workers: each attempt's worst case is reserved before it is sent, its real cost settled after. A spent budget sends items to Failed as budget_exceeded with retryAfterMs until it resets.",
		options: [{ displayName: 'Budget', name: 'budget', values: budgetFields('aiCall') }],
	},
	{
		displayName: 'Usage Ledger',
		name: 'usageLedger',
		type: 'boolean',
		default: true,
		description:
			'Whether every call (answered, failed, cached or refused) is recorded with its tokens, cost and latency, for the AI Usage node’s reports and cost per outcome',
	},
	// The store only when something uses it: one variant per case, exactly one shown at a time
	// (budgets alone, with the ledger off, use the default store without showing it).
	...storeProperties(
		'the usage ledger, the budgets, the cache, the last good answers, the circuit breaker and the shared limit',
		'',
		[
			{ show: { circuitBreaker: [true] } },
			{ show: { circuitBreaker: [false], keepLastGood: [true] } },
			{ show: { circuitBreaker: [false], keepLastGood: [false], responseCache: ['exact', 'key'] } },
			{
				show: {
					circuitBreaker: [false],
					keepLastGood: [false],
					responseCache: ['off'],
					sharedLimit: [true],
				},
			},
			{
				show: {
					circuitBreaker: [false],
					keepLastGood: [false],
					responseCache: ['off'],
					sharedLimit: [false],
					usageLedger: [true],
				},
			},
		],
	),
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		// In groups, not alphabetical: the editor offers them in this order.
		// eslint-disable-next-line n8n-nodes-base/node-param-collection-type-unsorted-items
		options: [
			// the model
			{
				displayName: 'Temperature',
				name: 'temperature',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 2, numberPrecision: 2 },
				default: 0.2,
				description:
					'Sent as 0.2 unless set (Anthropic takes 0–1). OpenAI reasoning models (o1, o3, o4, gpt-5) get no temperature unless you set one.',
			},
			{
				displayName: 'Max Tokens',
				name: 'maxTokens',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 1024,
				description:
					'Cap of the answer, sent as 1024 unless set (max_completion_tokens for OpenAI reasoning models, whose reasoning counts too)',
			},
			{
				displayName: 'Stop Sequences',
				name: 'stop',
				type: 'string',
				default: '',
				description: 'Separated by commas',
			},
			// the output item
			{
				displayName: 'Output',
				name: 'outputMode',
				type: 'options',
				options: [
					{ name: 'Input Fields and Result', value: 'merge' },
					{ name: 'Result Only', value: 'resultOnly' },
				],
				default: 'merge',
			},
			{
				displayName: 'Put Result in Field',
				name: 'outputField',
				type: 'string',
				default: 'ai',
			},
			// retries
			{
				displayName: 'Max Retries',
				name: 'maxRetries',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 20 },
				default: 3,
				description:
					'Retries per model, only on transient failures (rate_limited, overloaded, server_error, timeout, network)',
			},
			{
				// eslint-disable-next-line n8n-nodes-base/node-param-display-name-miscased -- ms is a unit
				displayName: 'Retry Base Delay (ms)',
				name: 'baseDelayMs',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 500,
				description:
					'Backoff starts here and doubles each retry (full jitter: a random wait up to that)',
			},
			{
				// eslint-disable-next-line n8n-nodes-base/node-param-display-name-miscased -- ms is a unit
				displayName: 'Retry Max Delay (ms)',
				name: 'maxDelayMs',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 30000,
				description:
					'Cap of one wait; a Retry-After longer than this ends the retries and is reported as retryAfterMs',
			},
			{
				// eslint-disable-next-line n8n-nodes-base/node-param-display-name-miscased -- ms is a unit
				displayName: 'Total Time Budget (ms)',
				name: 'totalTimeoutMs',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description:
					"Time for all attempts of one item together. 0: the preset's (real-time 5 s, interactive 60 s, batch 180 s, custom 4 × the attempt timeout).",
			},
			// limits
			{
				displayName: 'Max Calls in Flight',
				name: 'maxConcurrency',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 1000 },
				default: 5,
				description: "Calls running at once across this node's items",
			},
			{
				displayName: 'Requests per Minute',
				name: 'requestsPerMinute',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Upper limit of calls started per minute (retries included). 0: no limit.',
			},
			// cost
			{
				displayName: 'Budget per Execution (USD)',
				name: 'budgetUsd',
				type: 'number',
				typeOptions: { minValue: 0, numberPrecision: 4 },
				default: 0,
				description:
					'Once spent, remaining items go to Failed as budget_exceeded without a call. 0: no budget.',
			},
			{
				displayName: 'Cost Tag',
				name: 'costTag',
				type: 'string',
				default: '',
				placeholder: 'claim-processed',
				description:
					'The business outcome this call serves (ai.cost.tag): the AI Usage node reports cost per tag and, with Record Outcome, cost per outcome',
			},
			{
				displayName: 'Price Overrides',
				name: 'priceOverrides',
				type: 'json',
				default: '{}',
				description:
					'USD per million tokens, e.g. {"my-model*": {"input": 0.5, "output": 1.5}}; a trailing * matches a prefix',
			},
			{
				displayName: 'Usage Events Kept (Days)',
				name: 'usageEventDays',
				type: 'number',
				typeOptions: { minValue: 0.01 },
				default: 7,
				description:
					'How long each call’s own ledger event is kept; the per-minute, hour and day totals the reports use are kept 2, 92 and 400 days',
				displayOptions: { show: { '/usageLedger': [true] } },
			},
			// cache and last good answers (only when on)
			{
				displayName: 'Cache Namespace',
				name: 'cacheNamespace',
				type: 'string',
				default: 'ai-call',
				description:
					'Cache and last good answers are kept per namespace; the Fallback Router reads the same one',
				displayOptions: { show: CACHE_ON },
			},
			{
				displayName: 'Cache Namespace',
				name: 'cacheNamespace',
				type: 'string',
				default: 'ai-call',
				description:
					'Last good answers are kept per namespace; the Fallback Router reads the same one',
				displayOptions: { show: { '/responseCache': ['off'], '/keepLastGood': [true] } },
			},
			{
				displayName: 'Cache TTL (Seconds)',
				name: 'cacheTtlSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 3600,
				displayOptions: { show: CACHE_ON },
			},
			{
				displayName: 'Force Refresh',
				name: 'forceRefresh',
				type: 'boolean',
				default: false,
				description:
					'Whether to skip the cache lookup and call the model (the answer still refreshes the cache)',
				displayOptions: { show: CACHE_ON },
			},
			{
				displayName: 'Last Good Retention (Hours)',
				name: 'lastGoodRetentionHours',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 168,
				description: 'How long each last good answer is kept',
				displayOptions: { show: { '/keepLastGood': [true] } },
			},
			// circuit breaker (only when on)
			{
				displayName: 'Breaker Name',
				name: 'breakerName',
				type: 'string',
				default: '',
				description:
					'Workflows and nodes that share a name share a breaker. Empty: one breaker per provider URL and model.',
				displayOptions: { show: BREAKER_ON },
			},
			{
				displayName: 'Breaker Consecutive Failures',
				name: 'breakerConsecutiveFailures',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 5,
				description: 'Transient failures in a row that open the breaker. 0: off.',
				displayOptions: { show: BREAKER_ON },
			},
			{
				displayName: 'Breaker Failure Rate (%)',
				name: 'breakerFailureRatePercent',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 100 },
				default: 50,
				description: 'Share of transient failures over the window that opens the breaker. 0: off.',
				displayOptions: { show: BREAKER_ON },
			},
			{
				displayName: 'Breaker Min Calls in Window',
				name: 'breakerMinCalls',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 10,
				description: 'The failure rate counts only from this many calls in the window',
				displayOptions: { show: BREAKER_ON },
			},
			{
				displayName: 'Breaker Window (Seconds)',
				name: 'breakerWindowSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 60,
				displayOptions: { show: BREAKER_ON },
			},
			{
				displayName: 'Breaker Cooldown (Seconds)',
				name: 'breakerCooldownSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 30,
				description: 'How long the breaker stays open before one probe call is let through',
				displayOptions: { show: BREAKER_ON },
			},
			// drill
			{
				displayName: 'Simulate Outage (Drill)',
				name: 'simulate',
				type: 'options',
				options: [
					{ name: 'Off', value: 'off' },
					{ name: 'All Items', value: 'all' },
					{ name: 'A Percentage of Items', value: 'percent' },
					{ name: 'Items Where an Expression Is True', value: 'expression' },
				],
				default: 'off',
				description:
					'Send chosen items to Failed without a call, to test the fallback path regularly',
			},
			{
				displayName: 'Simulated Failure Class',
				name: 'simulateClass',
				type: 'options',
				options: FAILURE_CLASSES.map((c) => ({ name: c, value: c })),
				default: 'simulated',
				displayOptions: { show: { simulate: ['all', 'percent', 'expression'] } },
			},
			{
				displayName: 'Simulated Percentage',
				name: 'simulatePercent',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 100 },
				default: 50,
				displayOptions: { show: { simulate: ['percent'] } },
			},
			{
				displayName: 'Simulate When',
				name: 'simulateWhen',
				type: 'boolean',
				default: false,
				description: 'Whether to simulate the outage for this item (use an expression)',
				displayOptions: { show: { simulate: ['expression'] } },
			},
		],
	},
];
