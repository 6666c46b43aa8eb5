import type { INodeProperties } from 'n8n-workflow';

const periodOptions = [
	{ name: 'Seconds', value: 'second' },
	{ name: 'Minutes', value: 'minute' },
	{ name: 'Hours', value: 'hour' },
	{ name: 'Days', value: 'day' },
	{ name: 'Weeks', value: 'week' },
];

const threshold = (what: string) => [
	{
		displayName: 'Count',
		name: 'count',
		type: 'number' as const,
		typeOptions: { minValue: 0 },
		default: 1,
		description: `How many periods old the data may be before it counts as ${what}`,
	},
	{
		displayName: 'Period',
		name: 'period',
		type: 'options' as const,
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
				description: 'Every item goes to the output its own timestamp earns',
			},
			{
				name: 'Whole Batch by Its Oldest Item',
				value: 'oldest',
				description: 'All items go where the oldest timestamp sends them',
			},
			{
				name: 'Whole Batch by Its Newest Item',
				value: 'newest',
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
		options: [
			{
				name: 'Auto-Detect',
				value: 'auto',
				description: 'Epoch seconds or milliseconds, ISO 8601, RFC 2822, HTTP date or SQL',
			},
			{ name: 'Custom (Luxon Format)', value: 'custom' },
			{ name: 'Epoch Milliseconds', value: 'epochMillis' },
			{ name: 'Epoch Seconds', value: 'epochSeconds' },
			{ name: 'HTTP Date', value: 'http', description: 'E.g. Wed, 01 May 2024 12:30:00 GMT.' },
			{ name: 'ISO 8601', value: 'iso', description: 'E.g. 2024-05-01T12:30:00Z.' },
			{ name: 'RFC 2822', value: 'rfc2822', description: 'E.g. Wed, 01 May 2024 12:30:00 +0000.' },
			{ name: 'SQL', value: 'sql', description: 'E.g. 2024-05-01 12:30:00.' },
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
	{
		displayName: 'Thresholds',
		name: 'thresholds',
		type: 'fixedCollection',
		placeholder: 'Add Threshold',
		description: 'As in dbt source freshness: either may be left out',
		default: { warnAfter: { count: 1, period: 'day' }, errorAfter: { count: 3, period: 'day' } },
		options: [
			{ displayName: 'Warn After', name: 'warnAfter', values: threshold('"warn"') },
			{ displayName: 'Error After', name: 'errorAfter', values: threshold('stale') },
		],
	},
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
					'A timestamp up to this far in the future counts as now; beyond it the item is stale with reason future_timestamp',
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
					{ name: 'Send to Stale With a Reason', value: 'stale' },
					{ name: 'Stop With an Error', value: 'error' },
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
