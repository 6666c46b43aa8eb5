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

	// Check Budget
	...budgetFields('check').map((p) => ({
		...p,
		displayOptions: {
			...p.displayOptions,
			show: { ...p.displayOptions?.show, operation: ['checkBudget'] },
		},
	})),
];
