/**
 * A budget's parameters, one definition for the AI Call (a list of budgets, reserved before each
 * attempt) and the AI Usage node's Check Budget (one budget, read only), so that both name, scope
 * and period a budget the same way and find the same record.
 */
import type { INodeProperties } from 'n8n-workflow';

import {
	validateBudgetSpec,
	type BudgetScope,
	type BudgetSpec,
	type BudgetUse,
} from '../../lib/ai/budget';
import { text } from '../../lib/values';

/** Where the fields sit: inside the AI Call's list, or top-level in Check Budget. */
export type BudgetForm = 'aiCall' | 'check';

export function budgetFields(form: BudgetForm): INodeProperties[] {
	const scopeKey = (scope: BudgetScope): INodeProperties['displayOptions'] => ({
		show: { budgetScope: [scope] },
	});
	return [
		{
			displayName: 'Budget Name',
			name: 'budgetName',
			type: 'string',
			default: 'ai-daily',
			required: true,
			description:
				'Every AI Call and Check Budget with this name and store shares the budget, across executions and workers',
		},
		{
			displayName: 'Scope',
			name: 'budgetScope',
			type: 'options',
			options: [
				{
					name: 'All Workflows',
					value: 'all',
					description: 'One budget for the whole n8n: every call that names it',
				},
				{ name: 'This Workflow', value: 'workflow', description: 'One budget per workflow' },
				{ name: 'Cost Tag', value: 'tag', description: "One budget per call's cost tag" },
				{
					name: 'Key',
					value: 'key',
					description: 'One budget per value of an expression, e.g. a customer or tenant ID',
				},
			],
			default: 'all',
		},
		...(form === 'check'
			? ([
					{
						displayName: 'Workflow ID',
						name: 'budgetWorkflowId',
						type: 'string',
						default: '={{ $workflow.id }}',
						description: 'The workflow whose budget to check',
						displayOptions: scopeKey('workflow'),
					},
					{
						displayName: 'Cost Tag',
						name: 'budgetTag',
						type: 'string',
						default: '',
						placeholder: 'support-answers',
						description: 'The cost tag whose budget to check',
						displayOptions: scopeKey('tag'),
					},
				] satisfies INodeProperties[])
			: []),
		{
			displayName: 'Key',
			name: 'budgetKey',
			type: 'string',
			default: '',
			placeholder: '={{ $json.customerId }}',
			description:
				'Which budget this item counts against, e.g. an expression giving the customer ID. An item whose key is empty fails (bad_request), without a call.',
			displayOptions: scopeKey('key'),
		},
		{
			displayName: 'Period',
			name: 'budgetPeriod',
			type: 'options',
			// eslint-disable-next-line n8n-nodes-base/node-param-options-type-unsorted-items -- shortest first
			options: [
				{ name: 'Hour', value: 'hour' },
				{ name: 'Day', value: 'day' },
				{ name: 'Week (From Monday)', value: 'week' },
				{ name: 'Calendar Month', value: 'month' },
				{
					name: 'Rolling Window',
					value: 'rolling',
					description: 'The last N hours, sliding',
				},
			],
			default: 'day',
			description: 'When the spend starts again from zero, in the time zone below',
		},
		{
			displayName: 'Window (Hours)',
			name: 'budgetRollingHours',
			type: 'number',
			typeOptions: { minValue: 0.01 },
			default: 24,
			displayOptions: { show: { budgetPeriod: ['rolling'] } },
		},
		{
			displayName: 'Time Zone',
			name: 'budgetTimeZone',
			type: 'string',
			default: '',
			placeholder: 'Europe/Berlin',
			description:
				"Where a day, week or month starts (IANA name). Empty: the workflow's time zone (Settings), else n8n's.",
			displayOptions: { hide: { budgetPeriod: ['rolling'] } },
		},
		{
			displayName: 'Limit (USD)',
			name: 'budgetLimitUsd',
			type: 'number',
			typeOptions: { minValue: 0, numberPrecision: 4 },
			default: 10,
			description: 'Spend per period. 0: no USD limit (then set a Token Limit).',
		},
		{
			displayName: 'Token Limit',
			name: 'budgetLimitTokens',
			type: 'number',
			typeOptions: { minValue: 0 },
			default: 0,
			description: 'Input plus output tokens per period. 0: no token limit.',
		},
		{
			displayName: 'Warn At (%)',
			name: 'budgetWarnPercent',
			type: 'number',
			typeOptions: { minValue: 0, maxValue: 100 },
			default: 80,
			description:
				'Past this share the items say so (status "warn") and n8n logs it once per period. 0: no warning.',
		},
		...(form === 'check' ? [] : [unpricedField]),
	];
}

const unpricedField: INodeProperties = {
	displayName: 'Models Without a Price',
	name: 'budgetUnpriced',
	type: 'options',
	options: [
		{
			name: 'Refuse Them',
			value: 'refuse',
			description: 'A call to a model with no known price fails as budget_exceeded',
		},
		{
			name: 'Count Their Tokens',
			value: 'countTokens',
			description: 'They count against the Token Limit (which must then be set)',
		},
	],
	default: 'refuse',
	description:
		'A model with no price would be free for a USD limit: never silently. Or add its price in Options → Price Overrides.',
};

/** The values of budgetFields, as getNodeParameter returns them (one budget). */
export interface BudgetValues {
	budgetName?: unknown;
	budgetScope?: BudgetScope;
	budgetWorkflowId?: unknown;
	budgetTag?: unknown;
	budgetKey?: unknown;
	budgetPeriod?: BudgetSpec['period'];
	budgetRollingHours?: number;
	budgetTimeZone?: unknown;
	budgetLimitUsd?: number;
	budgetLimitTokens?: number;
	budgetWarnPercent?: number;
	budgetUnpriced?: BudgetSpec['unpriced'];
}

/**
 * The budget's definition; a mistake in it is the configuration's (the node stops, naming the
 * parameter). Throws an Error with the message.
 */
export function budgetSpec(v: BudgetValues, defaultTimeZone: string): BudgetSpec {
	const name = typeof v.budgetName === 'string' ? v.budgetName.trim() : '';
	if (!name) throw new Error('"Budget Name" is empty: every budget needs a name');
	const number = (value: unknown, label: string, fallback: number) => {
		if (value === undefined || value === null || value === '') return fallback;
		if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
			throw new Error(`Budget "${name}": "${label}" must be a number of 0 or more`);
		return value;
	};
	const zone = typeof v.budgetTimeZone === 'string' ? v.budgetTimeZone.trim() : '';
	const spec: BudgetSpec = {
		name,
		period: v.budgetPeriod ?? 'day',
		timeZone: zone || defaultTimeZone,
		rollingMs: number(v.budgetRollingHours, 'Window (Hours)', 24) * 3_600_000,
		limitUsd: number(v.budgetLimitUsd, 'Limit (USD)', 10),
		limitTokens: number(v.budgetLimitTokens, 'Token Limit', 0),
		warnPercent: number(v.budgetWarnPercent, 'Warn At (%)', 80),
		unpriced: v.budgetUnpriced ?? 'refuse',
	};
	const problem = validateBudgetSpec(spec);
	if (problem) throw new Error(`Budget "${name}": ${problem}`);
	return spec;
}

/** Longest scope key kept as it is (a longer one is still safe: the store key is hashed). */
const MAX_KEY = 500;

/**
 * Which budget this item counts against. The key comes from the item: a problem with it is the
 * item's (returned as `issue`, naming the field), never the node's.
 */
export function budgetScopeKey(
	v: BudgetValues,
	context: { workflowId: string; costTag: string | null },
): { key: string } | { issue: string } {
	const scope = v.budgetScope ?? 'all';
	const label = scope === 'workflow' ? 'Workflow ID' : scope === 'tag' ? 'Cost Tag' : 'Key';
	let raw: unknown;
	if (scope === 'all') return { key: '' };
	if (scope === 'workflow') raw = v.budgetWorkflowId ?? context.workflowId;
	else if (scope === 'tag') raw = v.budgetTag ?? context.costTag ?? '';
	else raw = v.budgetKey;
	let key: string;
	try {
		key = text(raw, label).trim();
	} catch (error) {
		return { issue: `Budget "${String(v.budgetName)}": ${(error as Error).message}` };
	}
	if (!key)
		return {
			issue: `Budget "${String(v.budgetName)}": "${label}" is empty for this item, so it has no budget to count against; no call was made`,
		};
	if (key.length > MAX_KEY)
		return {
			issue: `Budget "${String(v.budgetName)}": "${label}" is longer than ${MAX_KEY} characters for this item`,
		};
	return { key };
}

export type { BudgetUse };
