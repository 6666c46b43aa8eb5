import type { INodeProperties } from 'n8n-workflow';

import { storeProperties } from '../shared/store';

const periodOptions = [
	{ name: 'Seconds', value: 'second' },
	{ name: 'Minutes', value: 'minute' },
	{ name: 'Hours', value: 'hour' },
	{ name: 'Days', value: 'day' },
];

const from = (...source: string[]) => ({ show: { source } });

const count = (
	name: string,
	displayName: string,
	value: number,
	description: string,
): INodeProperties => ({
	displayName,
	name,
	type: 'number',
	typeOptions: { minValue: 0 },
	default: value,
	description,
});

/** Count and unit side by side, like the Freshness Check (n8n 2.41 cannot default a fixedCollection). */
const age = (name: string, label: string, value: number, output: string): INodeProperties[] => [
	{
		displayName: label,
		name,
		type: 'number',
		typeOptions: { minValue: 0 },
		default: value,
		description: `The oldest waiting job older than this sends the check to ${output}, in the unit below. 0 leaves this threshold out.`,
	},
	{
		displayName: `${label} Unit`,
		name: `${name}Unit`,
		type: 'options',
		options: periodOptions,
		default: 'minute',
	},
];

/** The Queue Depth Check's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Queue',
		name: 'source',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'RabbitMQ',
				value: 'rabbitmq',
				description: 'A queue on your broker, through the RabbitMQ credential',
			},
			{
				name: "N8n's Own Queue (Queue Mode)",
				value: 'n8nQueue',
				description:
					'Executions waiting for a worker: the Bull queue in the Redis of n8n queue mode',
			},
			{
				name: 'Job Queue (This Package)',
				value: 'jobQueue',
				description: 'Jobs of the Job Queue node, in the store below',
			},
			{
				name: 'Number From an Expression',
				value: 'expression',
				description: 'A depth you read yourself (an HTTP Request, a SQL count, an API)',
			},
		],
		default: 'rabbitmq',
	},

	// RabbitMQ
	{
		displayName: 'Read Through',
		name: 'rabbitVia',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'AMQP (Broker Port)',
				value: 'amqp',
				description:
					'Ready messages and consumers, from the port in the credential. No unacknowledged count, no message age.',
			},
			{
				name: 'Management HTTP API',
				value: 'management',
				description:
					'Ready, unacknowledged, consumers and the age of the oldest unacknowledged message (if publishers set its timestamp). Needs the rabbitmq_management plugin.',
			},
		],
		default: 'amqp',
		displayOptions: from('rabbitmq'),
	},
	{
		displayName: 'Queue Name',
		name: 'queue',
		type: 'string',
		default: 'ai-jobs',
		required: true,
		description:
			'The queue to read, in the vhost of the credential. It is never created: a missing queue is reported as queue_not_found.',
		displayOptions: from('rabbitmq'),
	},
	{
		displayName: 'Management URL',
		name: 'managementUrl',
		type: 'string',
		default: '',
		placeholder: 'http://rabbitmq:15672',
		description:
			"Base URL of the management API. Empty: the credential's host on port 15672 (15671, HTTPS, when the credential uses SSL). The credential's user needs the monitoring tag.",
		displayOptions: { show: { source: ['rabbitmq'], rabbitVia: ['management'] } },
	},

	// n8n's queue
	{
		displayName:
			"Reads n8n's queue in n8n's own Redis: with Store Auto, the Redis this n8n's queue mode uses (QUEUE_BULL_REDIS_*); with Store Redis, the Redis of its credential (to watch another n8n). The check's state goes to the Store.",
		name: 'n8nQueueNotice',
		type: 'notice',
		default: '',
		displayOptions: from('n8nQueue'),
	},
	{
		displayName: 'Queue Name',
		name: 'bullQueue',
		type: 'string',
		default: 'jobs',
		required: true,
		description:
			'The queue n8n names jobs; a worker pool’s queue is jobs- followed by the pool’s name',
		displayOptions: from('n8nQueue'),
	},
	{
		displayName: 'Key Prefix',
		name: 'bullPrefix',
		type: 'string',
		default: '',
		placeholder: 'bull',
		description:
			"QUEUE_BULL_PREFIX of the n8n whose queue this is. Empty: this n8n's QUEUE_BULL_PREFIX, else bull.",
		displayOptions: from('n8nQueue'),
	},

	// Job Queue
	{
		displayName: 'Queue Name',
		name: 'jobQueue',
		type: 'string',
		default: 'ai-jobs',
		required: true,
		description: 'The Queue Name of your Job Queue nodes; pick their Store below',
		displayOptions: from('jobQueue'),
	},

	// Expression
	{
		displayName: 'Queue Name',
		name: 'label',
		type: 'string',
		default: 'my-queue',
		required: true,
		description: 'A name for the alert and for the check’s history',
		displayOptions: from('expression'),
	},
	{
		displayName: 'Depth',
		name: 'depthValue',
		type: 'string',
		default: '={{ $json.depth }}',
		description: 'Jobs waiting: a whole number of 0 or more',
		displayOptions: from('expression'),
	},
	{
		displayName: 'Oldest Job Age (Seconds)',
		name: 'oldestAgeValue',
		type: 'string',
		default: '',
		placeholder: '={{ $json.oldestAgeSeconds }}',
		description: 'How long the oldest waiting job has waited, in seconds. Empty: not known.',
		displayOptions: from('expression'),
	},
	{
		displayName: 'In Progress',
		name: 'inProgressValue',
		type: 'string',
		default: '',
		placeholder: '={{ $json.running }}',
		description: 'Jobs taken but not finished. Empty: not known.',
		displayOptions: from('expression'),
	},

	// Thresholds
	count(
		'warnDepth',
		'Warn Depth',
		100,
		'More jobs waiting than this sends the check to Warn. 0 leaves this threshold out.',
	),
	count(
		'criticalDepth',
		'Critical Depth',
		1000,
		'More jobs waiting than this sends the check to Critical. 0 leaves this threshold out.',
	),
	...age('warnAge', 'Warn Oldest Job Age', 5, 'Warn'),
	...age('criticalAge', 'Critical Oldest Job Age', 15, 'Critical'),
	count(
		'warnGrowth',
		'Warn Growth',
		0,
		'Depth grown by more than this over the checks below sends the check to Warn. 0 leaves this threshold out.',
	),
	count(
		'criticalGrowth',
		'Critical Growth',
		0,
		'Depth grown by more than this over the checks below sends the check to Critical. 0 leaves this threshold out.',
	),
	{
		displayName: 'Growth Over (Checks)',
		name: 'growthChecks',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100 },
		default: 5,
		description:
			'Growth is the depth now minus the depth this many checks ago (kept in the store). Until that many checks ran, growth is not judged.',
	},
	...storeProperties(
		"the check's last status and recent depths",
		"Each check keeps its state under the namespace queueDepth. Auto uses n8n's own Redis in queue mode. For a Job Queue, the store of its Job Queue nodes.",
		[{}],
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
				displayName: 'Count In-Progress Jobs in Depth',
				name: 'includeInProgress',
				type: 'boolean',
				default: false,
				description:
					'Whether jobs taken but not finished (unacknowledged, active, running) count into the depth the thresholds judge',
			},
			{
				displayName: 'Put Result in Field',
				name: 'outputField',
				type: 'string',
				default: 'queueDepth',
				description: 'Name of the field that receives the result object',
			},
			{
				displayName: 'Remind Every (Minutes)',
				name: 'reminderMinutes',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description:
					'While the check stays Warn, Critical or unknown, alert again after this long (reminder: true). 0: only on a change.',
			},
			{
				displayName: 'State Key',
				name: 'stateKey',
				type: 'string',
				default: '',
				description:
					'Name of the check’s state in the store. Empty: one per workflow, node and queue. Give two nodes the same key only if they should share one alert state.',
			},
			{
				displayName: 'Timeout (Seconds)',
				name: 'timeoutSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 10,
				description:
					'How long to wait for the broker or Redis before the source counts as unreachable',
			},
			{
				displayName: 'When the Queue Cannot Be Read',
				name: 'onUnreadable',
				type: 'options',
				options: [
					{
						name: 'Send to Critical',
						value: 'critical',
						description:
							'Status unknown, reason source_unreachable or queue_not_found, a message naming the source',
					},
					{
						name: 'Send to Warn',
						value: 'warn',
						description: 'Status unknown, on the Warn output',
					},
					{
						name: 'Stop With an Error',
						value: 'error',
						description: 'The execution fails, naming the source',
					},
				],
				default: 'critical',
			},
		],
	},
];
