import type { INodeProperties } from 'n8n-workflow';

import { FAILURE_CLASSES, TRANSIENT } from '../../lib/ai/failure';
import { storeProperties } from '../shared/store';

const classOptions = FAILURE_CLASSES.filter(
	(c) => c !== 'circuit_open' && c !== 'budget_exceeded',
).map((c) => ({
	name: c,
	value: c,
}));

/** The AI Call's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Model',
		name: 'model',
		type: 'resourceLocator',
		default: { mode: 'id', value: 'gpt-4o-mini' },
		required: true,
		description: "The model to call; the list comes from the provider's models endpoint",
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
		displayOptions: { show: { promptType: ['prompts'] } },
	},
	{
		displayName: 'User Prompt',
		name: 'userPrompt',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '={{ $json.text }}',
		displayOptions: { show: { promptType: ['prompts'] } },
	},
	{
		displayName: 'Messages',
		name: 'messages',
		type: 'json',
		default:
			'[\n  { "role": "system", "content": "You are helpful." },\n  { "role": "user", "content": "Hello" }\n]',
		description: 'Roles: system, user, assistant',
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
				description: 'The answer must be JSON; it is parsed into ai.JSON',
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
		options: [
			{ name: 'Batch (30s)', value: 'batch', description: 'Background work, queues' },
			{ name: 'Custom', value: 'custom' },
			{ name: 'Interactive (15s)', value: 'interactive', description: 'A user waits on a screen' },
			{
				name: 'Real-Time (2s)',
				value: 'realtime',
				description: 'Inline suggestions; needs a fast model',
			},
		],
		default: 'interactive',
		description: 'Time allowed for each attempt',
	},
	{
		displayName: 'Timeout per Attempt (Ms)',
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
						displayName: 'Credential',
						name: 'credential',
						type: 'options',
						options: [
							{ name: 'Same as the Model', value: 'primary' },
							{ name: 'AI Service API (Fallback)', value: 'fallback' },
						],
						default: 'primary',
					},
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
	...storeProperties('the cache, the last good answers and the circuit breaker'),
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Base Retry Delay (Ms)',
				name: 'baseDelayMs',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 500,
				description:
					'Backoff starts here and doubles each retry (full jitter: a random wait up to that)',
			},
			{
				displayName: 'Breaker: Consecutive Failures',
				name: 'breakerConsecutiveFailures',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 5,
				description: 'Transient failures in a row that open the breaker. 0: off.',
			},
			{
				displayName: 'Breaker: Cooldown (Seconds)',
				name: 'breakerCooldownSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 30,
				description: 'How long the breaker stays open before one probe call is let through',
			},
			{
				displayName: 'Breaker: Failure Rate (%)',
				name: 'breakerFailureRatePercent',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 100 },
				default: 50,
				description: 'Share of transient failures over the window that opens the breaker. 0: off.',
			},
			{
				displayName: 'Breaker: Min Calls in Window',
				name: 'breakerMinCalls',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 10,
			},
			{
				displayName: 'Breaker: Name',
				name: 'breakerName',
				type: 'string',
				default: '',
				description:
					'Workflows and nodes that share a name share a breaker. Empty: one breaker per provider URL and model.',
			},
			{
				displayName: 'Breaker: Window (Seconds)',
				name: 'breakerWindowSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 60,
			},
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
				displayName: 'Cache Namespace',
				name: 'cacheNamespace',
				type: 'string',
				default: 'ai-call',
				description:
					'Cache and last good answers are kept per namespace; the Fallback Router reads the same one',
			},
			{
				displayName: 'Cache TTL (Seconds)',
				name: 'cacheTtlSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 3600,
			},
			{
				displayName: 'Cost Tag',
				name: 'costTag',
				type: 'string',
				default: '',
				placeholder: 'claim-processed',
				description: 'The business outcome this call serves, copied into ai.cost.tag for reporting',
			},
			{
				displayName: 'Force Refresh',
				name: 'forceRefresh',
				type: 'boolean',
				default: false,
				description:
					'Whether to skip the cache lookup and call the model (the answer still refreshes the cache)',
			},
			{
				displayName: 'Last Good Answer Retention (Hours)',
				name: 'lastGoodRetentionHours',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 168,
			},
			{
				displayName: 'Max Calls in Flight',
				name: 'maxConcurrency',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 1000 },
				default: 5,
				description: "Calls running at once across this node's items",
			},
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
				displayName: 'Max Retry Delay (Ms)',
				name: 'maxDelayMs',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 30000,
				description:
					'Cap of one wait; a Retry-After longer than this ends the retries and is reported as retryAfterMs',
			},
			{
				displayName: 'Max Tokens',
				name: 'maxTokens',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 1024,
			},
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
				displayName: 'Price Overrides',
				name: 'priceOverrides',
				type: 'json',
				default: '{}',
				description:
					'USD per million tokens, e.g. {"my-model*": {"input": 0.5, "output": 1.5}}; a trailing * matches a prefix',
			},
			{
				displayName: 'Put Result in Field',
				name: 'outputField',
				type: 'string',
				default: 'ai',
			},
			{
				displayName: 'Requests per Minute',
				name: 'requestsPerMinute',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Upper limit of calls started per minute (retries included). 0: no limit.',
			},
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
				displayName: 'Simulate When',
				name: 'simulateWhen',
				type: 'boolean',
				default: false,
				description: 'Whether to simulate the outage for this item (use an expression)',
			},
			{
				displayName: 'Simulated Failure Class',
				name: 'simulateClass',
				type: 'options',
				options: FAILURE_CLASSES.map((c) => ({ name: c, value: c })),
				default: 'simulated',
			},
			{
				displayName: 'Simulated Percentage',
				name: 'simulatePercent',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 100 },
				default: 50,
			},
			{
				displayName: 'Stop Sequences',
				name: 'stop',
				type: 'string',
				default: '',
				description: 'Separated by commas',
			},
			{
				displayName: 'Temperature',
				name: 'temperature',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 2, numberPrecision: 2 },
				default: 0.2,
			},
			{
				displayName: 'Total Time Budget (Ms)',
				name: 'totalTimeoutMs',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description:
					"Time for all attempts of one item together. 0: the preset's (real-time 5 s, interactive 60 s, batch 180 s, custom 4 × the attempt timeout).",
			},
		],
	},
];
