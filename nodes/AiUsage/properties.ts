import type { INodeProperties } from 'n8n-workflow';

import { budgetFields } from '../shared/budget';
import { storeProperties } from '../shared/store';

const on = (...operation: string[]) => ({ show: { operation } });

/** The AI Usage node's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Check Budget',
				value: 'checkBudget',
				description: 'What is left of a budget this period: Within, Warn or Exceeded',
				action: 'Check a budget',
			},
			{
				name: 'Dashboard Page',
				value: 'dashboard',
				description:
					'An HTML page of cost per day by tag, cost per outcome, calls, latency, budgets, breakers, queues and freshness, for a Respond to Webhook node',
				action: 'Make the usage dashboard page',
			},
			{
				name: 'Prometheus Metrics',
				value: 'metrics',
				description:
					'Calls, tokens, cost, failures, retries, latency, budgets, breakers, queues and freshness in the Prometheus text format, for a Respond to Webhook node',
				action: 'Expose metrics for scraping',
			},
			{
				name: 'Record Outcome',
				value: 'recordOutcome',
				description:
					'Count a business outcome (e.g. document-processed) for cost per outcome in the report',
				action: 'Record a business outcome',
			},
			{
				name: 'Report',
				value: 'report',
				description:
					'Calls, tokens, cost, cost per outcome, failures, retries, cache hits and latency over a window',
				action: 'Report AI usage and cost',
			},
			{
				name: 'Watch State Changes',
				value: 'stateChanges',
				description:
					'One item per budget, circuit breaker, queue or source whose state changed since the last watch, for an alert',
				action: 'Watch for state changes to alert on',
			},
		],
		default: 'recordOutcome',
	},
	...storeProperties(
		'the usage ledger and the budgets',
		'Use the store your AI Call nodes use (Auto, unless you changed it there).',
		[{}],
		{ autoSince: 1 },
	),

	// Record Outcome
	{
		displayName: 'Outcome Tag',
		name: 'outcomeTag',
		type: 'string',
		default: 'document-processed',
		required: true,
		description:
			'What was achieved, named like the Cost Tag of the AI Calls that paid for it: cost per outcome = their cost / this count',
		displayOptions: on('recordOutcome'),
	},
	{
		displayName: 'Count',
		name: 'outcomeCount',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 1,
		description: 'Outcomes this item stands for, e.g. an expression giving its page count',
		displayOptions: on('recordOutcome'),
	},

	// Report
	{
		displayName: 'Window',
		name: 'window',
		type: 'options',
		// eslint-disable-next-line n8n-nodes-base/node-param-options-type-unsorted-items -- shortest first
		options: [
			{ name: 'Last Hour', value: 'lastHour' },
			{ name: 'Last 24 Hours', value: 'last24h' },
			{ name: 'Today', value: 'today' },
			{ name: 'Yesterday', value: 'yesterday' },
			{ name: 'Last 7 Days', value: 'last7d' },
			{ name: 'This Month', value: 'thisMonth' },
			{ name: 'Last 30 Days', value: 'last30d' },
			{ name: 'Custom', value: 'custom' },
		],
		default: 'today',
		description: "Days and months in the workflow's time zone",
		displayOptions: on('report'),
	},
	{
		displayName: 'From',
		name: 'from',
		type: 'dateTime',
		default: '',
		required: true,
		displayOptions: { show: { operation: ['report'], window: ['custom'] } },
	},
	{
		displayName: 'To',
		name: 'to',
		type: 'dateTime',
		default: '',
		description: 'Empty: now',
		displayOptions: { show: { operation: ['report'], window: ['custom'] } },
	},
	{
		displayName: 'Group By',
		name: 'groupBy',
		type: 'options',
		// eslint-disable-next-line n8n-nodes-base/node-param-options-type-unsorted-items -- most used first
		options: [
			{ name: 'Nothing (One Total)', value: 'none' },
			{ name: 'Cost Tag', value: 'tag' },
			{ name: 'Model', value: 'model' },
			{ name: 'Workflow', value: 'workflow' },
			{ name: 'Node', value: 'node' },
			{ name: 'Hour', value: 'hour' },
			{ name: 'Day', value: 'day' },
		],
		default: 'tag',
		description: 'One output item per group',
		displayOptions: on('report'),
	},
	{
		displayName: 'Only Cost Tag',
		name: 'filterTag',
		type: 'string',
		default: '',
		description: 'Empty: all calls',
		displayOptions: on('report'),
	},
	{
		displayName: 'Only Workflow ID',
		name: 'filterWorkflow',
		type: 'string',
		default: '',
		description: 'Empty: all workflows. An expression with the workflow ID gives this one.',
		displayOptions: on('report'),
	},

	// Dashboard Page
	{
		displayName: 'Days of Cost',
		name: 'dashboardDays',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 90 },
		default: 14,
		description: "Days in the cost chart, ending today (in the workflow's time zone)",
		displayOptions: on('dashboard'),
	},
	{
		displayName:
			'Respond to Webhook with "Text" and the Response Body {{ $json.html }}, with a header Content-Type: text/html. The page needs no internet access.',
		name: 'dashboardNotice',
		type: 'notice',
		default: '',
		displayOptions: on('dashboard'),
	},

	// Prometheus Metrics
	{
		displayName:
			'Respond to Webhook with "Text" and the Response Body {{ $json.metrics }}, with a header Content-Type: {{ $json.contentType }}. Protect the webhook with Header Auth and set the same header in Prometheus\'s scrape config.',
		name: 'metricsNotice',
		type: 'notice',
		default: '',
		displayOptions: on('metrics'),
	},

	// Watch State Changes
	{
		displayName: 'Watch',
		name: 'watch',
		type: 'multiOptions',
		options: [
			{
				name: 'Budgets',
				value: 'budget',
				description:
					'Passing the warn threshold, running out, and room again (budgets AI Calls use)',
			},
			{
				name: 'Circuit Breakers',
				value: 'breaker',
				description: 'Opening and closing again',
			},
			{
				name: 'Queues',
				value: 'queue',
				description: 'Warn, Critical or unreadable at the last Queue Depth Check, and normal again',
			},
			{
				name: 'Data Freshness',
				value: 'freshness',
				description:
					'Warn or stale at the last Freshness Check with Publish Status on, and fresh again',
			},
		],
		default: ['budget', 'breaker', 'queue', 'freshness'],
		description:
			'Each change is reported once, however many watches run (a schedule every minute is usual). Nothing changed: no items.',
		displayOptions: on('stateChanges'),
	},
	{
		displayName: 'Include Recoveries',
		name: 'includeResolved',
		type: 'boolean',
		default: true,
		description: 'Whether a change back to fine (within, closed, normal, fresh) is reported too',
		displayOptions: on('stateChanges'),
	},

	// Check Budget
	...budgetFields('check').map((p) => ({
		...p,
		displayOptions: {
			...p.displayOptions,
			show: { ...p.displayOptions?.show, operation: ['checkBudget'] },
		},
	})),
];
