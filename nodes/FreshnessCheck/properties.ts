import type { INodeProperties } from 'n8n-workflow';

import { MAX_SOURCE_NAME } from '../../lib/freshness';
import { storeProperties } from '../shared/store';

const periodOptions = [
	{ name: 'Seconds', value: 'second' },
	{ name: 'Minutes', value: 'minute' },
	{ name: 'Hours', value: 'hour' },
	{ name: 'Days', value: 'day' },
	{ name: 'Weeks', value: 'week' },
];

/** Count and unit side by side: n8n 2.41 cannot give a fixedCollection default values (the editor fails to add the node). */
const threshold = (name: string, label: string, count: number, what: string): INodeProperties[] => [
	{
		displayName: label,
		name,
		type: 'number',
		typeOptions: { minValue: 0 },
		default: count,
		description: `Age beyond which an item goes to ${what}, in the unit below. 0 leaves this threshold out.`,
	},
	{
		displayName: `${label} Unit`,
		name: `${name}Unit`,
		type: 'options',
		options: periodOptions,
		default: 'day',
	},
];

/** The Freshness Check's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Judge',
		name: 'mode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Each Item on Its Own',
				value: 'item',
				action: 'Judge each item by its own timestamp',
				description: 'Every item goes to the output its own timestamp earns',
			},
			{
				name: 'Whole Batch by Its Oldest Item',
				value: 'oldest',
				action: 'Judge the whole batch by its oldest item',
				description: 'All items go where the oldest timestamp sends them',
			},
			{
				name: 'Whole Batch by Its Newest Item',
				value: 'newest',
				action: 'Judge the whole batch by its newest item',
				description:
					'All items go where the newest timestamp sends them (source freshness: "when did the index last update?")',
			},
		],
		default: 'item',
	},
	{
		displayName: 'Timestamp From',
		name: 'source',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'Field', value: 'field', description: 'A field of the item, by its path' },
			{
				name: 'Expression',
				value: 'expression',
				description: 'Any expression, e.g. a header or a lookup',
			},
		],
		default: 'field',
	},
	{
		displayName: 'Timestamp Field',
		name: 'field',
		type: 'string',
		default: 'updatedAt',
		placeholder: 'meta.indexed_at',
		description: 'Path of the field in dot or bracket notation, e.g. meta.indexed_at or rows[0].ts',
		displayOptions: { show: { source: ['field'] } },
	},
	{
		displayName: 'Timestamp',
		name: 'value',
		type: 'string',
		default: '={{ $json.updatedAt }}',
		description: 'A date string, epoch number, JS Date or Luxon DateTime',
		displayOptions: { show: { source: ['expression'] } },
	},
	{
		displayName: 'Timestamp Format',
		name: 'format',
		type: 'options',
		// Most common first, custom last: alphabetical order would bury Auto-Detect and ISO 8601.
		// eslint-disable-next-line n8n-nodes-base/node-param-options-type-unsorted-items
		options: [
			{
				name: 'Auto-Detect',
				value: 'auto',
				description:
					'ISO 8601, SQL, RFC 2822, HTTP date, or an epoch number whose unit (s, ms, µs, ns) follows from its size',
			},
			{ name: 'ISO 8601', value: 'iso', description: 'E.g. 2024-05-01T12:30:00Z.' },
			{ name: 'SQL', value: 'sql', description: 'E.g. 2024-05-01 12:30:00.' },
			{ name: 'RFC 2822', value: 'rfc2822', description: 'E.g. Wed, 01 May 2024 12:30:00 +0000.' },
			{ name: 'HTTP Date', value: 'http', description: 'E.g. Wed, 01 May 2024 12:30:00 GMT.' },
			{ name: 'Epoch Seconds', value: 'epochSeconds', description: 'E.g. 1714566600.' },
			{ name: 'Epoch Milliseconds', value: 'epochMillis', description: 'E.g. 1714566600000.' },
			{
				name: 'Epoch Microseconds',
				value: 'epochMicros',
				description: 'E.g. 1714566600000000 (Postgres, BigQuery).',
			},
			{
				name: 'Epoch Nanoseconds',
				value: 'epochNanos',
				description: 'E.g. 1714566600000000000 (Go, InfluxDB).',
			},
			{
				name: 'Custom (Luxon Format)',
				value: 'custom',
				description: 'Your own pattern, e.g. dd.MM.yyyy HH:mm',
			},
		],
		default: 'auto',
	},
	{
		displayName: 'Custom Format',
		name: 'customFormat',
		type: 'string',
		default: 'dd.MM.yyyy HH:mm',
		description:
			'A Luxon format string, see the table of tokens at https://moment.github.io/luxon/#/parsing',
		displayOptions: { show: { format: ['custom'] } },
	},
	...threshold('warnAfter', 'Warn After', 1, 'Warn'),
	...threshold('errorAfter', 'Error After', 3, 'Stale'),
	{
		displayName: 'Publish Status',
		name: 'publishStatus',
		type: 'boolean',
		default: false,
		description:
			"Whether to keep this source's last status in the store, for the AI Usage node's metrics, dashboard and alerts",
	},
	{
		displayName: 'Source Name',
		name: 'statusSource',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'orders-index',
		description: `Names the source on the dashboard and in the source label of the metrics; an expression may name it per item (e.g. the table). Keep names few and stable: a table or an index, not an item ID. Items of one name make one status: the worst of them. An item whose name is empty, not text or longer than ${MAX_SOURCE_NAME} characters is routed as usual but not published; publishSkipped in its result says why.`,
		displayOptions: { show: { publishStatus: [true] } },
	},
	...storeProperties(
		"the sources' last status",
		'Use the store of your AI Usage node (Auto, unless you changed it there).',
		[{ show: { publishStatus: [true] } }],
		{ autoSince: 1 },
	),
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Allowed Clock Skew (Seconds)',
				name: 'clockSkewSeconds',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 300,
				description:
					'Clocks differ: a timestamp up to this far in the future counts as now (age 0); beyond it the item is stale with reason future_timestamp',
			},
			{
				displayName: 'Default Time Zone',
				name: 'defaultZone',
				type: 'string',
				default: 'UTC',
				placeholder: 'Europe/Berlin',
				description:
					'IANA time zone for timestamps that carry none (SQL and custom formats usually)',
			},
			{
				displayName: 'Missing or Unreadable Timestamp',
				name: 'onInvalid',
				type: 'options',
				options: [
					{
						name: 'Send to Stale With a Reason',
						value: 'stale',
						description:
							'Reason missing_timestamp or invalid_timestamp, and a message naming the field',
					},
					{
						name: 'Stop With an Error',
						value: 'error',
						description: 'The execution stops, naming the item and the field',
					},
				],
				default: 'stale',
			},
			{
				displayName: 'Put Result in Field',
				name: 'outputField',
				type: 'string',
				default: 'freshness',
				description: 'Name of the field that receives the result object',
			},
			{
				displayName: 'Reference Time',
				name: 'referenceTime',
				type: 'string',
				default: '',
				placeholder: '={{ $json.replayedAt }}',
				description: 'Judge ages against this time instead of now (replays, tests). Empty: now.',
			},
		],
	},
];
