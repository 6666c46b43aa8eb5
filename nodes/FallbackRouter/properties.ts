import type { INodeProperties } from 'n8n-workflow';

import { RULE_CLASSES } from '../../lib/fallback';
import { storeProperties } from '../shared/store';

const strategiesHint = 'Comma-separated, tried in this order: cached, queue, human, degraded';

/** The Fallback Router's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Error Field',
		name: 'errorField',
		type: 'string',
		default: 'error',
		placeholder: 'error',
		description:
			"Path of the item's error object (dot or bracket notation). AI Call's Failed items carry it in error.",
	},
	{
		displayName: 'Routing',
		name: 'routing',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Default Table',
				value: 'default',
				description:
					'Rate limited, overloaded, circuit open: cached, then queue. Timeout, server error, network: cached, then degraded. Budget exceeded: queue. Others: human.',
			},
			{
				name: 'Custom',
				value: 'custom',
				description:
					'Your own strategies per failure class; classes without a rule keep the default',
			},
		],
		default: 'default',
	},
	{
		displayName: 'Rules',
		name: 'rules',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Rule',
		default: {},
		description: 'The first rule that names a class applies to it',
		displayOptions: { show: { routing: ['custom'] } },
		options: [
			{
				displayName: 'Rule',
				name: 'rule',
				values: [
					{
						displayName: 'Failure Classes',
						name: 'classes',
						type: 'multiOptions',
						options: RULE_CLASSES.map((c) => ({ name: c, value: c })),
						default: [],
					},
					{
						displayName: 'Strategies',
						name: 'strategies',
						type: 'string',
						default: 'cached, queue',
						placeholder: 'cached, degraded',
						description: strategiesHint,
					},
				],
			},
		],
	},
	{
		displayName: 'Drill (Simulated) Strategies',
		name: 'drill',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Rotate Through All Outputs',
				value: 'rotate',
				description:
					'Item 1 tries cached (then queue), item 2 queue, item 3 human, item 4 degraded, item 5 cached …',
			},
			{
				name: 'List',
				value: 'list',
				description: 'Your own order (expressions allowed, e.g. per item)',
			},
		],
		default: 'rotate',
		description:
			'For items of class simulated, from the AI Call\'s "Simulate Outage (Drill)": reach every output in a drill',
	},
	{
		displayName: 'Drill Strategy List',
		name: 'drillStrategies',
		type: 'string',
		default: 'cached, queue',
		description: strategiesHint,
		displayOptions: { show: { drill: ['list'] } },
	},
	{
		displayName: 'Degraded Answer',
		name: 'degradedText',
		type: 'string',
		typeOptions: { rows: 2 },
		default:
			'={{ "We could not process this automatically right now. Reference: " + $execution.id }}',
		description:
			'The text of a degraded answer (ai.text), fixed or partial: expressions see the failed item',
	},
	{
		displayName: 'Degraded JSON',
		name: 'degradedJson',
		type: 'json',
		// not '': n8n's JSON editor marks an empty text as invalid JSON (a red marker on every new node)
		default: '{}',
		placeholder: '{ "category": "unknown", "needsReview": true }',
		description:
			'Optional JSON of a degraded answer, put beside its text as an AI Call in JSON mode does, e.g. { "category": "unknown", "needsReview": true }. {} (the default): none.',
	},
	...storeProperties("the AI Call's cache and last good answers"),
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Answer Field',
				name: 'answerField',
				type: 'string',
				default: 'ai',
				description:
					'Where cached and degraded answers go: the field AI Call puts its result in, so downstream nodes read one shape',
			},
			{
				displayName: 'Cache Key',
				name: 'cacheKey',
				type: 'string',
				default: '={{ $json.error?.cache?.key }}',
				description:
					'Key of the cached answer. Without this option: cache.key of the error object, which AI Call sets when its cache or last good answers are on.',
			},
			{
				displayName: 'Cache Namespace',
				name: 'cacheNamespace',
				type: 'string',
				default: '={{ $json.error?.cache?.namespace }}',
				description:
					'Namespace of the cached answer. Without this option: cache.namespace of the error object. Last good answers are read from the namespace followed by :last-good.',
			},
			{
				displayName: 'Max Re-Queues',
				name: 'maxRequeues',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 5,
				description: 'An item queued this many times goes to Human (reason max_requeues)',
			},
			{
				displayName: 'Missing Error Object',
				name: 'onMissingError',
				type: 'options',
				options: [
					{ name: 'Stop With an Error', value: 'error', description: 'The error names the item' },
					{
						name: 'Send to Human',
						value: 'human',
						description: 'With reason no_error_object',
					},
				],
				default: 'error',
			},
			{
				displayName: 'Put Result in Field',
				name: 'outputField',
				type: 'string',
				default: 'fallback',
				description: 'The field that says which strategy was chosen and why',
			},
			{
				displayName: 'Queue Attempts Field',
				name: 'attemptsField',
				type: 'string',
				default: 'fallback.queueAttempts',
				description:
					'Path of the count of times the item was queued: read (0 when absent) and written back incremented',
			},
			{
				displayName: 'Queue Base Delay (Seconds)',
				name: 'queueBaseSeconds',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 60,
				description:
					'Without a Retry-After, the wait before attempt n is random up to base × 2^(n-1) (full jitter)',
			},
			{
				displayName: 'Queue Max Delay (Seconds)',
				name: 'queueMaxSeconds',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 3600,
				description:
					'The backoff never waits longer than this (a Retry-After from the service is kept as it is)',
			},
		],
	},
];
